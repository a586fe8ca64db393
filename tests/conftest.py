"""Shared fixtures: one sandbox process per test session, on free ports, with its own state folder."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cr_sandbox.process import RunningSandbox, running_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """Both stand-ins over HTTPS; tests reset and seed what they need through `/__sandbox/` controls."""
    state_dir = tmp_path_factory.mktemp("sandbox")
    with running_sandbox(state_dir) as running:
        yield running


@pytest.fixture(scope="session")
def sandbox_env(sandbox: RunningSandbox) -> Iterator[dict[str, str]]:
    """Point `cr_sandbox.config.SandboxConfig()` and the project's connections at the test sandbox."""
    saved = {k: os.environ.get(k) for k in sandbox.env()}
    os.environ.update(sandbox.env())
    yield sandbox.env()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
