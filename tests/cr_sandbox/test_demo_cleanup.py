"""`make demo` leaves nothing in the system temp folder (issue 15, item 6): the sandbox it starts keeps
its state (TLS and signing private keys, data) in a temporary folder that is removed on every exit,
Ctrl-C included; and the demo ends by saying what to do next. (The 4-minute demo itself is not run here.)"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from pathlib import Path

import pytest
import requests

from cr_sandbox.demo import next_steps, temporary_sandbox


def demo_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("crsync-demo-sandbox-*"))


def serves(sandbox) -> bool:
    url = f"{sandbox.config.netsuite_url}/__sandbox/health"
    return requests.get(url, verify=str(sandbox.config.ca_path), timeout=5).status_code == 200


@pytest.mark.parametrize("stop", [None, KeyboardInterrupt, RuntimeError])
def test_the_demo_sandbox_folder_with_its_private_keys_is_removed_however_the_demo_ends(stop):
    before = demo_folders()
    with pytest.raises(stop) if stop else nullcontext():
        with temporary_sandbox() as sandbox:
            (state,) = demo_folders() - before
            assert serves(sandbox)
            assert any("PRIVATE KEY" in p.read_text(errors="ignore") for p in state.rglob("*.pem"))
            if stop:
                raise stop()

    assert sandbox.process.poll() is not None  # the sandbox was stopped ...
    assert not state.exists()  # ... and its folder removed
    assert demo_folders() == before


def test_the_demo_ends_by_saying_where_its_runs_went_and_that_make_up_starts_fresh(tmp_path):
    demo_home, up_home = tmp_path / "demo-home", tmp_path / "up-home"
    text = next_steps(str(demo_home), str(up_home))

    assert "make up" in text and str(up_home) in text
    assert "does NOT list the demo's runs" in text  # what make up shows is not what the demo wrote
    assert f"{demo_home}/demo-logs/" in text  # where the demo's runs went
    assert "crsync_reconciliation" in text and "report.html" in text
