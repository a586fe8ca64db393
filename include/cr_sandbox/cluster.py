"""`make cluster` (bin/cluster): the production engine on one machine, for development and `make cluster-test`.

PostgreSQL (Airflow's metadata DB and Celery's result backend), Redis (the Celery broker), the sandbox, and
Airflow's API server, scheduler, DAG processor, triggerer and two Celery workers, each a process of its own
with its log in ``<cluster dir>/logs``. Ctrl-C (SIGINT) or SIGTERM stops every process this started; a
component that dies (a worker killed with SIGKILL, say) is started again, as a process manager would.

bin/cluster sets the environment (ports, connection URLs, the shared XCom folder) and runs this module.
PostgreSQL and Redis are Debian's packages (``postgresql``, ``redis-server``), installed with apt-get when
absent and run as plain processes on their own ports, never as system services. State lives in the cluster
folder (``.cluster/`` by default, git-ignored); ``make clean`` removes it.

This is a development tool (part of the sandbox package, not of the wheel a production image installs).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
STOP_GRACE_S = 60.0
#: A component restarted more often than this stops the cluster (it would only crash again).
MAX_RESTARTS = 10


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the cluster's workers: the worker's name (``CRSYNC_WORKER_NAME``), so
    the two workers of one machine are told apart in the task instances' ``hostname``."""
    return os.environ.get("CRSYNC_WORKER_NAME") or socket.getfqdn()


def _say(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


# ---------------------------------------------------------------------------------------------- packages
def _postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure_packages() -> tuple[Path, str]:
    """PostgreSQL's bin folder and redis-server, installing Debian's packages when either is missing."""
    bindir, redis = _postgres_bindir(), shutil.which("redis-server")
    if bindir and redis:
        return bindir, redis
    missing = [name for name, have in (("postgresql", bindir), ("redis-server", redis)) if not have]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"make cluster needs {' and '.join(missing)}: sudo apt-get install -y {' '.join(missing)}")
    _say(f"installing Debian packages {' '.join(missing)} (apt-get) ...")
    # Installed, not started: no system cluster on 5432 and no service on 6379 (this starts its own).
    policy = Path("/usr/sbin/policy-rc.d")
    created_policy = not policy.exists()
    if created_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    conf = Path("/etc/postgresql-common/createcluster.conf")
    if not conf.exists():
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text("create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        if created_policy:
            policy.unlink(missing_ok=True)
    bindir, redis = _postgres_bindir(), shutil.which("redis-server")
    if not (bindir and redis):
        sys.exit("apt-get install did not provide initdb and redis-server")
    return bindir, redis


# ---------------------------------------------------------------------------------------------- processes
@dataclass
class Component:
    """One process of the cluster, started in its own session so that it is stopped as a whole."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen | None = None
    restarts: int = 0

    def start(self, run_dir: Path) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            self.argv, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
            start_new_session=True,
        )
        log.close()
        (run_dir / f"{self.name}.pid").write_text(str(self.process.pid))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(component: Component, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if not component.alive():
            sys.exit(f"{component.name} exited; see {component.log_path}")
        if time.monotonic() > deadline:
            sys.exit(f"{component.name} not listening on {port} after {timeout:.0f} s; see {component.log_path}")
        time.sleep(0.3)


class Cluster:
    def __init__(self) -> None:
        self.dir = Path(os.environ["CLUSTER_DIR"])
        self.run_dir = self.dir / "run"
        self.logs = self.dir / "logs"
        self.pg_port = int(os.environ["CLUSTER_PG_PORT"])
        self.redis_port = int(os.environ["CLUSTER_REDIS_PORT"])
        self.api_port = int(os.environ["AIRFLOW__API__PORT"])
        self.worker_log_ports = [int(p) for p in os.environ["CLUSTER_WORKER_LOG_PORTS"].split(",")]
        self.components: list[Component] = []
        self.stopping = False

    # ------------------------------------------------------------------ start
    def _start(self, component: Component) -> Component:
        component.start(self.run_dir)
        self.components.append(component)
        return component

    def _as_postgres_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        # PostgreSQL refuses to run as root: as Debian's `postgres` user, as its service would.
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]

    def start_postgres(self, bindir: Path) -> None:
        data = self.dir / "pg"
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                user = pwd.getpwnam("postgres")
                os.chown(data, user.pw_uid, user.pw_gid)
                os.chown(self.run_dir, user.pw_uid, user.pw_gid)
            _say(f"initdb {data}")
            subprocess.run(
                self._as_postgres_user([str(bindir / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust",
                                        "-E", "UTF8", "--no-instructions"]),
                check=True, stdout=subprocess.DEVNULL,
            )
        pg = self._start(Component(
            "postgres",
            self._as_postgres_user([str(bindir / "postgres"), "-D", str(data), "-p", str(self.pg_port),
                                    "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.run_dir}",
                                    "-c", "max_connections=200", "-c", "fsync=off"]),
            self.logs / "postgres.log",
            stop_signal=signal.SIGINT,  # PostgreSQL's "fast" shutdown
        ))
        _wait_port(pg, self.pg_port, 60)
        psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "airflow", "-d", "postgres",
                "-tAc"]
        for _ in range(50):
            probe = subprocess.run([*psql, "SELECT 1 FROM pg_database WHERE datname = 'airflow'"],
                                   capture_output=True, text=True)
            if probe.returncode == 0:
                break
            time.sleep(0.3)
        if probe.stdout.strip() != "1":
            subprocess.run([*psql, "CREATE DATABASE airflow"], check=True, stdout=subprocess.DEVNULL)
        _say(f"PostgreSQL on 127.0.0.1:{self.pg_port} (data {data})")

    def start_redis(self, redis: str) -> None:
        folder = self.dir / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        component = self._start(Component(
            "redis",
            [redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            self.logs / "redis.log",
        ))
        _wait_port(component, self.redis_port, 30)
        _say(f"Redis on 127.0.0.1:{self.redis_port}")

    def start_sandbox(self) -> None:
        if os.environ.get("CRSYNC_USE_SANDBOX", "1") != "1":
            return
        state = Path(os.environ["SANDBOX_DIR"])
        fresh = not ((state / "netsuite.sqlite3").exists() and (state / "salesforce.sqlite3").exists())
        component = self._start(Component("sandbox", [sys.executable, "-m", "cr_sandbox"], self.logs / "sandbox.log"))
        subprocess.run([sys.executable, "-m", "cr_sandbox.cli", "wait"], check=True, stdout=subprocess.DEVNULL)
        if fresh:
            # NetSuite seeds itself on a fresh state (its create_app); seeding it again here only repeated that.
            from cr_sandbox.cli import control
            from cr_sandbox.config import SandboxConfig

            control(SandboxConfig(), "salesforce", "seed", {})
        if not component.alive():
            sys.exit(f"the sandbox exited; see {component.log_path}")
        _say(f"Sandbox: NetSuite https://127.0.0.1:{os.environ['SANDBOX_NS_PORT']}, "
             f"Salesforce https://127.0.0.1:{os.environ['SANDBOX_SF_PORT']} (state {state})")

    def start_airflow(self) -> None:
        airflow = str(Path(sys.executable).parent / "airflow")
        for name, argv in (
            ("api-server", [airflow, "api-server", "--port", str(self.api_port), "--host", "127.0.0.1"]),
            ("scheduler", [airflow, "scheduler"]),
            ("dag-processor", [airflow, "dag-processor"]),
            ("triggerer", [airflow, "triggerer"]),
        ):
            self._start(Component(name, argv, self.logs / f"{name}.log"))
        for number in range(1, WORKERS + 1):
            name = f"worker-{number}"
            self._start(Component(
                name,
                [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--without-mingle",
                 "--without-gossip"],
                self.logs / f"{name}.log",
                env={
                    "CRSYNC_WORKER_NAME": name,
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "cr_sandbox.cluster.worker_hostname",
                    # two workers on one machine: a task-log server port each
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_ports[number - 1]),
                },
            ))

    # ------------------------------------------------------------------ run
    def banner(self) -> None:
        url = f"http://127.0.0.1:{self.api_port}"
        passwords = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        deadline = time.monotonic() + 300
        while not self.stopping and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2):
                    pass
                if passwords.exists() and passwords.read_text().strip():
                    break
            except OSError:
                pass
            self.supervise_once()
            time.sleep(1)
        else:
            return
        logins = ", ".join(f"{u} / {p}" for u, p in json.loads(passwords.read_text()).items())
        workers = ", ".join(c.name for c in self.components if c.name.startswith("worker-"))
        print(
            f"\n{'*' * 78}\n"
            f"  Airflow UI:  {url}\n"
            f"  Login:       {logins}   (from {passwords})\n"
            f"  Executor:    CeleryExecutor ({workers}), broker redis://127.0.0.1:{self.redis_port}\n"
            f"  Metadata DB: postgresql://airflow@127.0.0.1:{self.pg_port}/airflow\n"
            f"  XCom:        {os.environ['AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH']} (shared by the workers)\n"
            f"  Logs:        {self.logs}\n"
            f"  Ctrl-C stops every process of the cluster.\n"
            f"{'*' * 78}\n",
            flush=True,
        )

    def supervise_once(self) -> None:
        """Start again an Airflow component that died (a killed worker comes back, as under systemd/K8s)."""
        for component in self.components:
            if self.stopping or component.alive() or component.name in ("postgres", "redis", "sandbox"):
                continue
            code = component.process.returncode if component.process else None
            component.restarts += 1
            if component.restarts > MAX_RESTARTS:
                _say(f"{component.name} died {component.restarts} times; stopping the cluster")
                self.stopping = True
                return
            _say(f"{component.name} exited ({_exit_reason(code)}); starting it again (see {component.log_path})")
            component.start(self.run_dir)

    def ports_in_use(self) -> list[str]:
        """The variables of this cluster's ports that something else already serves."""
        ports = {
            "CLUSTER_PG_PORT": self.pg_port, "CLUSTER_REDIS_PORT": self.redis_port,
            "AIRFLOW__API__PORT": self.api_port,
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": int(os.environ.get("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", 0)),
            **{f"CLUSTER_WORKER_LOG_PORTS[{i}]": p for i, p in enumerate(self.worker_log_ports)},
        }
        if os.environ.get("CRSYNC_USE_SANDBOX", "1") == "1":
            ports |= {"SANDBOX_NS_PORT": int(os.environ["SANDBOX_NS_PORT"]),
                      "SANDBOX_SF_PORT": int(os.environ["SANDBOX_SF_PORT"])}
        return [f"{name}={port}" for name, port in ports.items() if port and _port_open(port)]

    def run(self) -> int:
        for folder in (self.run_dir, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        if taken := self.ports_in_use():
            _say(f"ports already in use: {', '.join(taken)} (another make cluster?). Stop it, or set those "
                 "variables to free ports, e.g. AIRFLOW__API__PORT=8091 CLUSTER_PG_PORT=54330 make cluster")
            return 1
        bindir, redis = ensure_packages()
        self.start_postgres(bindir)
        self.start_redis(redis)
        self.start_sandbox()
        if subprocess.run([str(ROOT / "bin" / "setup-airflow")]).returncode != 0:
            return 1
        self.start_airflow()
        self.banner()
        while not self.stopping:
            essential = [c for c in self.components if c.name in ("postgres", "redis", "sandbox")]
            for component in essential:
                if not component.alive():
                    _say(f"{component.name} exited; see {component.log_path}; stopping the cluster")
                    self.stopping = True
            self.supervise_once()
            time.sleep(1)
        return 0

    def stop(self) -> None:
        """Airflow first (workers finish or give up their tasks), then the sandbox, Redis, PostgreSQL."""
        self.stopping = True
        services = ("sandbox", "redis", "postgres")  # stopped in this order, after Airflow
        airflow = [c for c in self.components if c.name not in services]
        services_running = sorted((c for c in self.components if c.name in services),
                                  key=lambda c: services.index(c.name))
        for batch in (airflow, *([c] for c in services_running)):
            live = [c for c in batch if c.alive()]
            if live:
                _say("stopping " + ", ".join(c.name for c in live) + " ...")
            for component in live:
                component.signal_group(component.stop_signal)
            deadline = time.monotonic() + STOP_GRACE_S
            for component in live:
                try:
                    component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _say(f"{component.name} did not stop in {STOP_GRACE_S:.0f} s; killing it")
            for component in batch:
                component.signal_group(signal.SIGKILL)  # whatever of its process group is left
                if component.process is not None:
                    component.process.wait()
                (self.run_dir / f"{component.name}.pid").unlink(missing_ok=True)
        _say("stopped")


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def main() -> int:
    cluster = Cluster()

    def on_signal(signum: int, frame: object) -> None:
        if not cluster.stopping:
            _say(f"{signal.Signals(signum).name}: stopping ...")
        cluster.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return cluster.run()
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
