"""Start the sandbox as a child process on free local ports (tests, demo and benchmarks use this)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from cr_sandbox.config import SandboxConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningSandbox:
    config: SandboxConfig
    process: subprocess.Popen | None

    @property
    def ca_path(self) -> Path:
        return self.config.ca_path

    @property
    def netsuite_url(self) -> str:
        return self.config.netsuite_url

    @property
    def salesforce_url(self) -> str:
        return self.config.salesforce_url

    def control(self, system: str, action: str, payload: dict | None = None, method: str = "POST") -> dict:
        """Call a `/__sandbox/<action>` control of the `netsuite` or `salesforce` stand-in."""
        base = self.netsuite_url if system == "netsuite" else self.salesforce_url
        resp = requests.request(
            method, f"{base}/__sandbox/{action}", json=payload, verify=str(self.ca_path), timeout=600
        )
        resp.raise_for_status()
        return resp.json() if resp.content else {}

    def env(self) -> dict[str, str]:
        """Environment variables that point the project (bin/airflow, tests) at this sandbox."""
        return {
            "SANDBOX_DIR": str(self.config.state_dir),
            "SANDBOX_NS_PORT": str(self.config.netsuite_port),
            "SANDBOX_SF_PORT": str(self.config.salesforce_port),
        }


def _wait_ready(config: SandboxConfig, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    urls = [f"{config.netsuite_url}/__sandbox/health", f"{config.salesforce_url}/__sandbox/health"]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited with code {proc.returncode} before it was ready")
        try:
            if all(
                requests.get(u, verify=str(config.ca_path), timeout=2).status_code == 200 for u in urls
            ):
                return
        except (requests.ConnectionError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"sandbox not ready after {timeout}s")


@contextmanager
def running_sandbox(
    state_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    timeout: float = 60.0,
    log_path: Path | None = None,
) -> Iterator[RunningSandbox]:
    """Run `python -m cr_sandbox` with its state in ``state_dir`` on two free ports until exit."""
    env = dict(os.environ)
    env.update(
        {
            "SANDBOX_DIR": str(state_dir),
            "SANDBOX_NS_PORT": str(free_port()),
            "SANDBOX_SF_PORT": str(free_port()),
        }
    )
    env.update(extra_env or {})
    saved = {k: os.environ.get(k) for k in ("SANDBOX_DIR", "SANDBOX_NS_PORT", "SANDBOX_SF_PORT")}
    os.environ.update({k: env[k] for k in saved})
    try:
        config = SandboxConfig()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    state_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path or (state_dir / "sandbox.log"), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "cr_sandbox"], env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    try:
        _wait_ready(config, proc, timeout)
        yield RunningSandbox(config=config, process=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()
