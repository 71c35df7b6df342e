"""Fixtures that give each test a private copy of process-global registries.

The channel service keeps one circuit breaker per channel for the life of the process and shows
each on the Health page (``bi_app.monitoring.breakers``). A test that fetches channel statistics
would otherwise leave its breakers behind for every later test in the same pytest process.
"""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_breaker_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start with no channel breakers; whatever the test registers is gone afterwards."""
    from bi_app.channels import service
    from bi_app.monitoring import breakers

    monkeypatch.setattr(breakers, "_breakers", {})
    monkeypatch.setattr(service, "_breakers", {})
