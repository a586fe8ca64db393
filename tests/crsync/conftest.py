"""Fixtures for the domain-logic tests: the packaged settings, loaded once."""

from __future__ import annotations

import pytest

from crsync.settings import IntegrationSettings, load_settings


@pytest.fixture(scope="session")
def settings() -> IntegrationSettings:
    """The default settings file shipped with the integration."""
    return load_settings()
