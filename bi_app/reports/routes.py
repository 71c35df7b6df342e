"""``GET /reports/<id>/download`` and ``GET /reports/<id>/preview.png``: a stored report's file
and first-page preview, from the database (or the shared ``BI_REPORT_DIR``), so any worker on
any host serves them. Session authenticated with the page's roles (``Page.REPORTS``); an
unknown id is a 404, a store that cannot be read (the database, a lost file) a 503 that says so."""

from __future__ import annotations

import flask

from bi_app.reports import store
from bi_app.roles import Page


def _not_found(exc: store.ReportStoreError) -> flask.Response:
    return flask.Response(str(exc), status=404, mimetype="text/plain")


def download_view(run_id: int) -> flask.Response:
    from bi_app import auth

    auth.require_role(Page.REPORTS)
    try:
        name, mimetype, content = store.download(run_id)
    except store.ReportNotFound as exc:
        return _not_found(exc)
    except store.ReportStoreError as exc:
        return flask.Response(str(exc), status=503, mimetype="text/plain")
    return flask.Response(
        content,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(len(content)),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def preview_view(run_id: int) -> flask.Response:
    from bi_app import auth

    auth.require_role(Page.REPORTS)
    try:
        image = store.preview(run_id)
    except store.ReportNotFound as exc:
        return _not_found(exc)
    except store.ReportStoreError as exc:
        return flask.Response(str(exc), status=503, mimetype="text/plain")
    if image is None:
        return flask.Response("no preview", status=404, mimetype="text/plain")
    return flask.Response(
        image,
        mimetype="image/png",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def init_app(server: flask.Flask, routes_prefix: str) -> None:
    server.add_url_rule(
        f"{routes_prefix}reports/<int:run_id>/download", "bi_report_download", download_view
    )
    server.add_url_rule(
        f"{routes_prefix}reports/<int:run_id>/preview.png", "bi_report_preview", preview_view
    )
