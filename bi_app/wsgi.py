"""WSGI entry point for gunicorn: ``gunicorn bi_app.wsgi:server``.

``.env`` is loaded the same way as by the ``bi-app`` command (variables already set win).

An invalid configuration or an unreachable database stops the worker with one readable line
instead of a stack trace.
"""

import logging
import sys

from bi_app import create_app
from bi_app.config import ConfigError, Settings, load_dotenv_once
from bi_app.db.engine import DatabaseUnavailable, check_connection, make_engine

try:
    load_dotenv_once()
    _settings = Settings.from_env()
    _probe = make_engine(_settings.database_url)
    check_connection(_probe)
    _probe.dispose()
except (ConfigError, DatabaseUnavailable) as exc:
    logging.getLogger("bi_app.wsgi").critical("bi-app cannot start: %s", exc)
    print(f"bi-app cannot start: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)

if _settings.env != "production":
    # gunicorn is how production runs; without BI_ENV=production cookies are not Secure and the
    # secret key may be a per-checkout development one
    logging.getLogger("bi_app.wsgi").warning(
        "bi-app is served by gunicorn with BI_ENV=%s: set BI_ENV=production for a deployment "
        "(Secure cookies, HSTS, a required BI_SECRET_KEY)",
        _settings.env,
    )

app = create_app(_settings)
server = app.server
