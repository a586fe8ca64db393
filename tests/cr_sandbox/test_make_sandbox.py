"""`make sandbox` on a fresh state folder seeds both stand-ins, as `make up` does, and says so (issue 15,
item 5); on a state folder it seeded before it adds nothing. Run as a user runs it (`make sandbox`, on
free ports and a temporary state folder), checked over HTTPS with independent clients."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cr_sandbox import clients
from cr_sandbox.config import SandboxConfig
from cr_sandbox.process import free_port

ROOT = Path(__file__).resolve().parents[2]
SEEDED = "Fresh state: seeded NetSuite"


@contextmanager
def make_sandbox(state_dir: Path, out: Path) -> Iterator[SandboxConfig]:
    env = {
        **os.environ,
        "SANDBOX_DIR": str(state_dir),
        "SANDBOX_NS_PORT": str(free_port()),
        "SANDBOX_SF_PORT": str(free_port()),
    }
    with open(out, "w") as sink:
        proc = subprocess.Popen(
            ["make", "-s", "sandbox"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make and the sandbox stop together
        )  # fmt: skip
    try:
        saved = {k: os.environ.get(k) for k in ("SANDBOX_DIR", "SANDBOX_NS_PORT", "SANDBOX_SF_PORT")}
        os.environ.update({k: env[k] for k in saved})
        try:
            config = SandboxConfig()
        finally:
            for key, value in saved.items():
                os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
        yield config
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(what, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = what()
            if value:
                return value
        except Exception:  # not serving yet
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def opportunities(config: SandboxConfig) -> list[str]:
    return [r["Id"] for r in clients.salesforce(config).query_all("SELECT Id FROM Opportunity")["records"]]


def contracts(config: SandboxConfig) -> list[dict]:
    return clients.suiteql(config, "SELECT id FROM customrecord_contracts")


def test_make_sandbox_seeds_netsuite_and_salesforce_on_a_fresh_state_and_says_so(tmp_path):
    state, out = tmp_path / "state", tmp_path / "make-sandbox.out"

    with make_sandbox(state, out) as config:
        assert wait_for(lambda: SEEDED in out.read_text()), out.read_text()
        seeded = opportunities(config)
        assert len(seeded) == 3  # make up's data set: a Contract New, an upsell and a renewal
        assert contracts(config)
        accounts = clients.salesforce(config).query_all("SELECT NetSuite_Id__c FROM Account")["records"]
        assert {"1001", "1002", "1003"} <= {a["NetSuite_Id__c"] for a in accounts}
    text = out.read_text()
    assert "Salesforce (Accounts, Products, the standard price book, 3 Opportunities)" in text

    # The same state again: served as it was, nothing added.
    again = tmp_path / "again.out"
    with make_sandbox(state, again) as config:
        assert wait_for(lambda: opportunities(config)) == seeded
    assert "Fresh state" not in again.read_text()
