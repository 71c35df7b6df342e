"""bi-app: a multi-page Dash BI and operations-monitoring application.

``create_app(settings)`` is the only way to get an app: nothing is built at import time.
"""

from __future__ import annotations

import logging

import dash
import flask

from bi_app.config import Settings, assets_dir, pages_dir

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Dash app and its Flask server, wired to the database, cache and login."""
    from bi_app import (
        auth,
        i18n,
        jobs,
        monitoring,
        order_export,
        secret_box,
        security_headers,
        serving,
    )
    from bi_app.alerts import alertmanager
    from bi_app.data import cache as data_cache
    from bi_app.extensions import db
    from bi_app.monitoring.logs import install_log_capture
    from bi_app.reports import routes as report_routes
    from bi_app.reports.page_export import register_page_export
    from callbacks._registry import register_all
    from components.notice import page_unavailable
    from components.shell import app_shell

    settings = settings or Settings.from_env()
    db.init(settings.database_url)
    secret_box.init_app(settings)
    install_log_capture(settings, db.require_engine())

    server = flask.Flask(__name__)
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        # every request body; callbacks get a much smaller limit in the guard
        MAX_CONTENT_LENGTH=settings.max_request_mb * 1024 * 1024,
        BI_SETTINGS=settings,
    )
    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(pages_dir()),
        assets_folder=str(assets_dir()),
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="bi-app",
        update_title=None,
        enable_mcp=False,  # no Model Context Protocol endpoint, whatever DASH_MCP_ENABLED says
        compress=False,  # bi_app.serving compresses (brotli too), whatever DASH_COMPRESS says
    )
    serving.init_app(app, settings)  # compression, cache lifetimes, statement timeout
    i18n.init_app(server)
    i18n.init_dash(app)
    # an unknown file under the public /_dash-component-suites/ is a 404, not a stored traceback
    server.register_error_handler(
        dash.exceptions.DependencyException, lambda _exc: ("not found", 404)
    )
    data_cache.init_app(server, settings)
    monitoring.init_app(app, settings)
    alertmanager.init_app(server)  # POST /api/alerts/alertmanager (BI_ALERTMANAGER_TOKEN)
    auth.init_app(
        app, settings, pages=lambda: dash.page_registry, on_layout_failure=page_unavailable
    )
    app.layout = lambda: app_shell(
        dash.page_registry.values(), **auth.shell_context(dash.page_registry)
    )
    register_all(app)
    order_export.init_app(server, app.config.routes_pathname_prefix)
    report_routes.init_app(server, app.config.routes_pathname_prefix)  # files of /reports
    register_page_export(server, app.config.routes_pathname_prefix)  # "Export this page as PDF"
    jobs.init_app(app, settings)
    security_headers.init_app(app, settings)  # CSP and other headers; cross-site writes refused
    return app


def current_settings() -> Settings:
    """The settings of the app serving the current request (or job)."""
    return flask.current_app.config["BI_SETTINGS"]
