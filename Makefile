# Every target that needs Python first makes sure .venv exists and matches requirements-dev.txt (the
# runtime pins of requirements.txt plus the development tools),
# so `make test` and `make demo` work on a fresh clone with nothing installed by hand.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: venv bytecode test lint demo sandbox up cluster cluster-test bench reliability clean airflow-init

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9
	@# --compile-bytecode: uv leaves compiling to the first import, and where PYTHONDONTWRITEBYTECODE is set
	@# (this machine's shell) nothing is ever saved, so every Airflow process would compile what it imports again.
	@.venv/bin/uv pip install -q --python $(PY) --compile-bytecode -r requirements-dev.txt
	@.venv/bin/uv pip install -q --python $(PY) --no-deps -e .
	@# The sandbox (include/cr_sandbox) is a development tool, not part of the package: on the path here only.
	@echo "$(CURDIR)/include" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/crsync-dev-tools.pth"
	@touch $(STAMP)

venv: $(STAMP)

# The project's own modules are imported from the checkout (editable install, which uv does not compile):
# compile what changed, for the same reason (each task process would compile them again). Quick when nothing changed.
bytecode: $(STAMP)
	@$(PY) -m compileall -q -j 0 include plugins dags bench

airflow-init: bytecode
	@bin/setup-airflow

lint: $(STAMP)
	$(PY) -m ruff check .

test: bytecode
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not reliability and not cluster" $(PYTEST_ARGS)

reliability: bytecode
	$(PY) -m pytest -m reliability $(PYTEST_ARGS)

sandbox: bytecode
	$(PY) -m cr_sandbox --seed-if-fresh

demo: bytecode
	$(PY) -m cr_sandbox.demo

up: bytecode
	bin/up

# PostgreSQL + Redis + CeleryExecutor with two workers (bin/cluster; installs Debian's postgresql and
# redis-server when absent). cluster-test starts its own cluster on free ports (tests/cluster).
cluster: bytecode
	bin/cluster

cluster-test: bytecode
	$(PY) -m pytest -m cluster tests/cluster -v -s $(PYTEST_ARGS)

bench: bytecode
	$(PY) -m bench

clean:
	rm -rf .airflow .airflow-demo .sandbox .cluster
