"""Stored reports on SQLite (demo data) and PostgreSQL (an empty, migrated schema): a request is
queued, generated with progress into a PDF or workbook with its size, duration and first-page
preview; a failing build is marked failed with its message; the file is served to analysts and
admins only (404 for an unknown id); an admin's delete is audited; lists never load the file."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import event, select

from tests.conftest import ADMIN_PASSWORD, ANALYST_PASSWORD, migrate, signed_in_client

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def report_app(request, app_factory):
    from bi_app import auth
    from bi_app.extensions import db

    if request.param == "sqlite":
        return app_factory(request.getfixturevalue("demo_sqlite_url"))
    url = request.getfixturevalue("pg_url")
    migrate(url)
    app = app_factory(url)
    with db.session() as session:
        auth.create_user(session, "admin", ADMIN_PASSWORD, "admin", actor="tests")
        auth.create_user(session, "analyst", ANALYST_PASSWORD, "analyst", actor="tests")
        session.commit()
    return app


def _row(run_id):
    from bi_app.db.report_models import ReportRun
    from bi_app.extensions import db

    with db.session() as session:
        row = session.get(ReportRun, run_id)
        return {
            "status": row.status,
            "progress": row.progress,
            "size": row.size_bytes,
            "duration": row.duration_seconds,
            "content": row.content,
            "preview": row.preview_png,
            "error": row.error,
            "by": row.requested_by,
            "sections": row.sections,
            "started": row.started_at,
            "finished": row.finished_at,
        }


def test_a_pdf_is_generated_stored_served_and_deleted(report_app):
    import pypdf

    from bi_app.db.models import AuditLog
    from bi_app.extensions import db
    from bi_app.reports import store

    app = report_app
    with app.server.app_context():
        run_id = store.request_report(
            "weekly", None, None, ["trend", "kpis"], "pdf", "en", "analyst", background=False
        )
        queued = store.run_status(run_id)
        assert (queued["status"], queued["active"], queued["progress"]) == ("queued", True, 0)
        assert queued["sections"] == ["kpis", "trend"]  # report order, not click order

        assert store.generate(run_id) == "succeeded"
        assert store.generate(run_id) == "skipped"  # a run is built once

        row = _row(run_id)
        assert row["status"] == "succeeded" and row["progress"] == 100 and row["error"] is None
        assert row["by"] == "analyst" and row["started"] and row["finished"]
        assert row["size"] == len(row["content"]) > 1000
        assert row["duration"] is not None and row["duration"] >= 0
        assert row["content"].startswith(b"%PDF")
        assert row["preview"].startswith(b"\x89PNG\r\n\x1a\n")
        text = pypdf.PdfReader(io.BytesIO(row["content"])).pages[0].extract_text()
        assert "Week of" in text

        name, mimetype, content = store.download(run_id)
        assert name.startswith("report-") and name.endswith(".pdf") and "-W" in name
        assert mimetype == "application/pdf" and content == row["content"]
        assert store.preview(run_id) == row["preview"]

        # the list never loads the file or the image
        statements = []
        engine = db.require_engine()

        def record(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            runs = store.list_runs()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert [r["id"] for r in runs] == [run_id]
        assert runs[0]["has_preview"] is True and runs[0]["active"] is False
        assert "content" not in runs[0] and "preview_png" not in runs[0]
        assert statements and not any("content" in s for s in statements)

    # served over HTTP to analysts, with a safe attachment name; 404 for an unknown id
    analyst = signed_in_client(app, "analyst")
    response = analyst.get(f"/reports/{run_id}/download")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF") and response.data == row["content"]
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    image = analyst.get(f"/reports/{run_id}/preview.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert analyst.get(f"/reports/{run_id + 999}/download").status_code == 404
    assert analyst.get(f"/reports/{run_id + 999}/preview.png").status_code == 404
    anonymous = app.server.test_client().get(f"/reports/{run_id}/download", follow_redirects=False)
    assert anonymous.status_code in (302, 401)
    assert not anonymous.data.startswith(b"%PDF")

    with app.server.test_request_context():
        store.delete_run(run_id, actor="admin")
        with pytest.raises(store.ReportNotFound):
            store.download(run_id)
        with pytest.raises(store.ReportNotFound):
            store.delete_run(run_id, actor="admin")
        assert store.list_runs() == []
        with db.session() as session:
            audit = session.scalars(
                select(AuditLog).where(AuditLog.action == "report.delete")
            ).all()
        assert [(a.username, a.target) for a in audit] == [("admin", f"report {run_id}")]
    assert analyst.get(f"/reports/{run_id}/download").status_code == 404


def test_a_workbook_has_no_preview_and_a_failing_build_is_marked_failed(report_app, monkeypatch):
    import openpyxl

    from bi_app.reports import content, store

    app = report_app
    with app.server.app_context():
        book_id = store.request_report(
            "custom", "2026-11-01", "2026-11-15", ["kpis"], "xlsx", "ko", "admin", background=False
        )
        assert store.generate(book_id) == "succeeded"
        name, mimetype, data = store.download(book_id)
        assert name == "report-2026-11-01_2026-11-15.xlsx"
        assert mimetype.endswith("spreadsheetml.sheet") and data.startswith(b"PK")
        assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames
        assert store.preview(book_id) is None

        def broken(*_args, **_kwargs):
            raise store.ReportError("The sales data could not be read.")

        monkeypatch.setattr(content, "build_report", broken)
        failed_id = store.request_report(
            "monthly", None, None, ["kpis"], "pdf", "en", "admin", background=False
        )
        assert store.generate(failed_id) == "failed"
        row = _row(failed_id)
        assert row["status"] == "failed" and row["error"] == "The sales data could not be read."
        assert row["content"] is None and row["size"] is None and row["preview"] is None
        assert row["finished"] is not None
        with pytest.raises(store.ReportNotFound):
            store.download(failed_id)
        statuses = {r["id"]: r["status"] for r in store.list_runs()}
        assert statuses == {book_id: "succeeded", failed_id: "failed"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("custom", "2026-11-15", "2026-11-01", ["kpis"], "pdf"), "end date is before its start"),
        (("custom", None, None, ["kpis"], "pdf"), "Choose a start and an end date"),
        (("weekly", None, None, [], "pdf"), "at least one section"),
        (("weekly", None, None, ["kpis", "bogus"], "pdf"), "Unknown report sections: bogus"),
        (("weekly", None, None, ["kpis"], "docx"), "Choose PDF or Excel"),
        (("yearly", None, None, ["kpis"], "pdf"), "Unknown report period"),
    ],
)
def test_bad_requests_are_refused_and_create_nothing(demo_app, args, message):
    from bi_app.reports import store

    with demo_app.server.app_context():
        with pytest.raises(store.ReportError, match=message):
            store.request_report(*args, "en", "analyst", background=False)
        assert store.list_runs() == []


def test_viewers_may_not_fetch_a_report(demo_app):
    from bi_app.reports import store

    with demo_app.server.app_context():
        run_id = store.request_report(
            "daily", None, None, ["kpis"], "pdf", "en", "analyst", background=False
        )
    viewer = signed_in_client(demo_app, "viewer")
    assert viewer.get(f"/reports/{run_id}/download").status_code == 403
    assert viewer.get(f"/reports/{run_id}/preview.png").status_code == 403
    assert viewer.get("/reports/999999/download").status_code == 403  # no probing of ids
    # not generated yet: nothing to download for an analyst either
    assert (
        signed_in_client(demo_app, "analyst").get(f"/reports/{run_id}/download").status_code == 404
    )
