"""Cache wiring (to be completed by the data-layer work)."""
from __future__ import annotations

import flask

from bi_app.config import Settings
from bi_app.extensions import cache


def init_app(server: flask.Flask, settings: Settings) -> None:
    cache.init_app(server, config={"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": settings.cache_ttl})
