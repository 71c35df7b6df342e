"""Generated reports, stored: request one, build it in the background with progress, list the
history, serve its file and first-page preview, delete it (admins).

The file lives in ``report_runs`` (see :mod:`bi_app.db.report_models`), or with ``BI_REPORT_DIR``
in that directory (shared by every worker, e.g. a network mount; the row keeps its path), so any
worker on any host serves the download. A run is claimed atomically (``queued`` -> ``running``)
by the one process that builds it; it ends ``succeeded`` with file, size, duration and preview
written in a single update, or ``failed`` with a message that is safe to show — never
half-written.

The job runner only runs the named jobs of :mod:`bi_app.jobs.definitions` (no ad-hoc function
with arguments), so a request starts a daemon thread inside the app context; the atomic claim is
the lock that keeps a run from being built twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import flask
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bi_app.db.models import utcnow
from bi_app.db.report_models import REPORT_FORMATS, REPORT_KINDS, ReportRun
from bi_app.errors import ServiceError
from bi_app.i18n import LOCALES, N_, _, parse_locale
from bi_app.reports.model import SECTIONS, Period
from bi_app.reports.periods import ReportError, custom_period, period_for

__all__ = [
    "ACTIVE_STATUSES",
    "MIMETYPES",
    "ReportError",
    "ReportNotFound",
    "ReportStoreError",
    "delete_run",
    "download",
    "download_name",
    "generate",
    "list_runs",
    "preview",
    "request_report",
    "run_status",
    "validate_request",
]

log = logging.getLogger(__name__)

MIMETYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
ACTIVE_STATUSES = ("queued", "running")
PROGRESS_EVERY_SECONDS = 0.5  # at most two progress writes a second
BUILD_SHARE = 85  # percent of the bar the sections take; rendering and the preview the rest
PREVIEW_TIMEOUT_SECONDS = 30
# a run still queued or running after this is taken to be abandoned (its worker died)
STALE_AFTER = dt.timedelta(minutes=30)
# the non-section steps of a run, N_()-marked: run_status translates them
STEP_LABELS = {
    "queued": N_("Waiting to start"),
    "render": N_("Rendering the file"),
    "preview": N_("Drawing the preview"),
    "done": N_("Done"),
}


class ReportStoreError(ReportError):
    """A stored report cannot be requested, served or deleted as asked (safe to show)."""


class ReportNotFound(ReportStoreError):
    """No stored report has that id (or it has no file yet)."""


# --- sessions ---------------------------------------------------------------------------------


def _session() -> Session:
    from bi_app.extensions import db

    return db.session()


def _not_found(run_id: object) -> ReportNotFound:
    return ReportNotFound(_("There is no report number %(id)s.", id=str(run_id)[:20]))


def _unavailable(exc: SQLAlchemyError) -> ReportStoreError:
    log.error("report store: %s", exc)
    return ReportStoreError(_("The report store is unavailable right now; try again in a moment."))


# --- requesting -------------------------------------------------------------------------------


def validate_request(
    kind: str,
    start: dt.date | str | None,
    end: dt.date | str | None,
    sections: Sequence[str] | None,
    fmt: str,
    locale: str | None,
) -> tuple[Period, list[str], str, str]:
    """The period, sections (in report order), format and locale of a request, or a
    :class:`ReportError` saying what is wrong. Dates may be ISO strings (as date pickers send)."""
    from bi_app.db.periods import business_timezone

    if kind not in REPORT_KINDS:
        raise ReportStoreError(
            _(
                "Unknown report period %(kind)s: choose daily, weekly, monthly or a custom range.",
                kind=str(kind)[:20],
            )
        )
    tz = business_timezone()
    if kind == "custom":
        period = custom_period(_date(start), _date(end), tz)
    else:
        period = period_for(kind, None, tz)
    chosen = [str(s) for s in (sections or ())]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        raise ReportStoreError(
            _("Unknown report sections: %(sections)s.", sections=", ".join(unknown)[:200])
        )
    if not chosen:
        raise ReportStoreError(_("Choose at least one section for the report."))
    if fmt not in REPORT_FORMATS:
        raise ReportStoreError(_("Choose PDF or Excel (xlsx) as the report's format."))
    code = parse_locale(locale) if locale else None
    if locale and code is None:
        raise ReportStoreError(
            _("Unknown report language %(locale)s.", locale=repr(str(locale)[:20]))
        )
    return period, [s for s in SECTIONS if s in chosen], fmt, code or _default_locale()


def _default_locale() -> str:
    from bi_app.i18n import current_locale

    code = current_locale()
    return code if code in LOCALES else "en"


def _date(value: dt.date | str | None) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ReportStoreError(_("Choose a start and an end date for the report."))


def request_report(
    kind: str,
    start: dt.date | str | None,
    end: dt.date | str | None,
    sections: Sequence[str] | None,
    fmt: str,
    locale: str | None,
    user: Any,
    *,
    background: bool = True,
) -> int:
    """Validate a request, store it as a queued run and (``background``) start building it in
    a daemon thread of this process; returns the run's id. ``user``: a user or a name (None:
    the logged-in user of the request)."""
    period, chosen, fmt, code = validate_request(kind, start, end, sections, fmt, locale)
    row = ReportRun(
        kind=kind,
        period_start=period.start,
        period_end=period.end,
        sections=chosen,
        format=fmt,
        locale=code,
        status="queued",
        progress=0,
        step="queued",
        requested_by=_user_name(user),
        created_at=utcnow(),
    )
    try:
        with _session() as session:
            session.add(row)
            session.commit()
            run_id = row.id
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    log.info("report %s requested: %s %s..%s %s", run_id, kind, period.start, period.end, fmt)
    if background:
        _start_thread(run_id)
    return run_id


def _user_name(user: Any) -> str | None:
    name = getattr(user, "username", user)
    if name is None:
        from bi_app.auth.context import current_username

        name = current_username()
    return str(name)[:64] if name is not None else None


def _start_thread(run_id: int) -> None:
    app = flask.current_app._get_current_object()

    def work() -> None:
        with app.app_context():
            generate(run_id)

    threading.Thread(target=work, daemon=True, name=f"report:{run_id}").start()


# --- generating -------------------------------------------------------------------------------


class _Progress:
    """``progress(done, total, key)`` for :func:`build_report`, written to the run's row at most
    every :data:`PROGRESS_EVERY_SECONDS` (and always for the first and last section)."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.last = 0.0

    def __call__(self, done: int, total: int, key: str) -> None:
        percent = round(BUILD_SHARE * done / total) if total else BUILD_SHARE
        now = time.monotonic()
        if done not in (0, total) and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        _set_progress(self.run_id, percent, key or "render")


def _set_progress(run_id: int, percent: int, step: str) -> None:
    try:
        with _session() as session:
            session.execute(
                update(ReportRun)
                .where(ReportRun.id == run_id, ReportRun.status == "running")
                .values(progress=max(0, min(100, percent)), step=step[:200])
            )
            session.commit()
    except SQLAlchemyError:  # progress is a courtesy: the run goes on without it
        log.warning("report %s: could not record progress", run_id, exc_info=True)


def _claim(run_id: int) -> ReportRun | None:
    """Move a queued run to running; None when another process has it (or it is gone)."""
    with _session() as session:
        claimed = session.execute(
            update(ReportRun)
            .where(ReportRun.id == run_id, ReportRun.status == "queued")
            .values(status="running", started_at=utcnow(), progress=0, step="queued")
        ).rowcount
        session.commit()
        if claimed != 1:
            return None
        return session.get(ReportRun, run_id)


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, ServiceError):
        return str(exc) or _("The report could not be generated.")
    if isinstance(exc, ValueError):
        return f"{type(exc).__name__}: {exc}"[:1000]
    return _("The report could not be generated; the error was logged.")


def generate(run_id: int) -> str:
    """Build, render and store a queued run (in an app context); returns its final status
    (``"skipped"`` when it was not queued: another process has it or it is gone)."""
    from bi_app.reports.content import build_report

    try:
        row = _claim(run_id)
    except SQLAlchemyError:
        log.exception("report %s: could not claim the run", run_id)
        return "skipped"
    if row is None:
        return "skipped"
    began = time.perf_counter()
    try:
        period = _period_of(row)
        report = build_report(
            period, list(row.sections or []), locale=row.locale, progress=_Progress(run_id)
        )
        _set_progress(run_id, BUILD_SHARE + 5, "render")
        content = _render(report, row.format)
        image = None
        if row.format == "pdf":
            _set_progress(run_id, 95, "preview")
            image = first_page_png(content)
        values = {
            "status": "succeeded",
            "progress": 100,
            "step": "done",
            "content": content,
            "size_bytes": len(content),
            "preview_png": image,
            "error": None,
        }
        folder = report_dir()
        if folder is not None:
            values["file_path"] = _write_file(folder, run_id, row, content)
            values["content"] = None
    except Exception as exc:  # every failure is recorded on the run
        log.exception("report %s failed", run_id)
        values = {"status": "failed", "error": _failure_message(exc)}
    values.update(finished_at=utcnow(), duration_seconds=round(time.perf_counter() - began, 3))
    try:
        with _session() as session:
            session.execute(update(ReportRun).where(ReportRun.id == run_id).values(**values))
            session.commit()
    except SQLAlchemyError:
        log.exception("report %s: could not store the outcome", run_id)
        _mark_failed(run_id, _("The report could not be stored; try again in a moment."))
        return "failed"
    log.info("report %s %s in %.1f s", run_id, values["status"], values["duration_seconds"])
    return str(values["status"])


def report_dir() -> Path | None:
    """``BI_REPORT_DIR`` when set: where files go instead of the database."""
    settings = flask.current_app.config.get("BI_SETTINGS") if flask.has_app_context() else None
    folder = str(getattr(settings, "report_dir", "") or "")
    return Path(folder) if folder else None


def _write_file(folder: Path, run_id: int, row: ReportRun, content: bytes) -> str:
    """Write a run's file under ``folder`` (made if missing) atomically; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{run_id}-" + download_name(row.kind, row.period_start, row.period_end, row.format)
    target = folder / name
    partial = folder / f".{name}.partial"
    partial.write_bytes(content)
    partial.replace(target)  # readers never see half a file
    return str(target)


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        log.error("report file %s cannot be read: %s", path, exc)
        raise ReportStoreError(
            _("The report's file cannot be read from the report directory; ask an administrator.")
        ) from None


def stored_file(session: Session, run_id: int) -> tuple[str, str, bytes] | None:
    """``(file name, media type, bytes)`` of a succeeded run, from the database or the report
    directory; None when there is no such run or file."""
    row = session.execute(
        select(
            ReportRun.kind,
            ReportRun.period_start,
            ReportRun.period_end,
            ReportRun.format,
            ReportRun.content,
            ReportRun.file_path,
        ).where(ReportRun.id == int(run_id), ReportRun.status == "succeeded")
    ).first()
    if row is None:
        return None
    if row.file_path:
        content = _read_file(row.file_path)
    elif row.content is not None:
        content = bytes(row.content)
    else:
        return None
    name = download_name(row.kind, row.period_start, row.period_end, row.format)
    return name, MIMETYPES[row.format], content


def _mark_failed(run_id: int, message: str) -> None:
    try:
        with _session() as session:
            session.execute(
                update(ReportRun)
                .where(ReportRun.id == run_id)
                .values(status="failed", error=message, finished_at=utcnow())
            )
            session.commit()
    except SQLAlchemyError:
        log.exception("report %s: could not mark it failed", run_id)


def _period_of(row: ReportRun) -> Period:
    from bi_app.db.periods import business_timezone

    return Period(row.kind, row.period_start, row.period_end, business_timezone())  # type: ignore[arg-type]


def _render(report: Any, fmt: str) -> bytes:
    if fmt == "pdf":
        from bi_app.reports.pdf import render_pdf

        return render_pdf(report)
    from bi_app.reports.excel import render_xlsx

    return render_xlsx(report)


def first_page_png(pdf: bytes, dpi: int = 50) -> bytes | None:
    """The PDF's first page as a PNG (poppler's ``pdftoppm``); None when it is not installed or
    fails — a missing preview never fails a report."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        log.warning("pdftoppm not found (install poppler-utils): reports get no preview")
        return None
    with tempfile.TemporaryDirectory(prefix="bi-report-") as folder:
        source = Path(folder) / "report.pdf"
        source.write_bytes(pdf)
        target = Path(folder) / "page"
        try:
            subprocess.run(  # a fixed tool on our own temporary files
                [tool, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", source, target],
                check=True,
                capture_output=True,
                timeout=PREVIEW_TIMEOUT_SECONDS,
            )
            return (Path(folder) / "page.png").read_bytes()
        except (OSError, subprocess.SubprocessError):
            log.warning("report preview failed", exc_info=True)
            return None


# --- reading ----------------------------------------------------------------------------------

_LIST_COLUMNS = (
    ReportRun.id,
    ReportRun.kind,
    ReportRun.period_start,
    ReportRun.period_end,
    ReportRun.sections,
    ReportRun.format,
    ReportRun.locale,
    ReportRun.status,
    ReportRun.progress,
    ReportRun.step,
    ReportRun.requested_by,
    ReportRun.schedule_id,
    ReportRun.created_at,
    ReportRun.started_at,
    ReportRun.finished_at,
    ReportRun.duration_seconds,
    ReportRun.size_bytes,
    ReportRun.error,
    ReportRun.preview_png.is_not(None).label("has_preview"),
)


def _as_dict(row: Any, now: dt.datetime) -> dict[str, Any]:
    run = dict(row._mapping)
    run["has_preview"] = bool(run["has_preview"])
    run["stale"] = run["status"] in ACTIVE_STATUSES and run["created_at"] < now - STALE_AFTER
    run["active"] = run["status"] in ACTIVE_STATUSES and not run["stale"]
    step = run.get("step") or ""
    from bi_app.reports.content import SECTION_TITLES

    label = SECTION_TITLES.get(step) or STEP_LABELS.get(step)
    run["step_label"] = _(label) if label else ""
    return run


def list_runs(limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` runs as plain dicts, without their files (``has_preview`` says
    whether a preview exists; ``active``: still queued or running and not abandoned)."""
    limit = max(1, min(int(limit), 500))
    query = select(*_LIST_COLUMNS).order_by(ReportRun.created_at.desc(), ReportRun.id.desc())
    try:
        with _session() as session:
            rows = session.execute(query.limit(limit)).all()
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    now = utcnow()
    return [_as_dict(row, now) for row in rows]


def run_status(run_id: int) -> dict[str, Any]:
    """One run as :func:`list_runs` gives it; :class:`ReportNotFound` for an unknown id."""
    try:
        with _session() as session:
            row = session.execute(select(*_LIST_COLUMNS).where(ReportRun.id == int(run_id))).first()
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    except (TypeError, ValueError):
        raise _not_found(run_id) from None
    if row is None:
        raise _not_found(run_id)
    return _as_dict(row, utcnow())


def download_name(kind: str, start: dt.date, end: dt.date, fmt: str) -> str:
    """``report-2026-11.pdf`` (a month), ``report-2026-W48.pdf`` (a week), ``report-2026-11-30.pdf``
    (a day) or ``report-2026-11-01_2026-11-15.xlsx`` (a custom range): digits and dashes only."""
    if kind == "monthly":
        label = f"{start:%Y-%m}"
    elif kind == "weekly":
        year, week, _day = start.isocalendar()
        label = f"{year}-W{week:02d}"
    elif start == end:
        label = start.isoformat()
    else:
        label = f"{start.isoformat()}_{end.isoformat()}"
    return f"report-{label}.{fmt if fmt in MIMETYPES else 'bin'}"


def download(run_id: int) -> tuple[str, str, bytes]:
    """``(file name, media type, bytes)`` of a finished run; :class:`ReportNotFound` otherwise."""
    try:
        with _session() as session:
            found = stored_file(session, int(run_id))
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    except (TypeError, ValueError):
        raise _not_found(run_id) from None
    if found is None:
        raise _not_found(run_id)
    return found


def preview(run_id: int) -> bytes | None:
    """The PNG of a run's first page; None when it has none. :class:`ReportNotFound` for an
    unknown id."""
    try:
        with _session() as session:
            row = session.execute(
                select(ReportRun.id, ReportRun.preview_png).where(ReportRun.id == int(run_id))
            ).first()
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    if row is None:
        raise _not_found(run_id)
    return bytes(row.preview_png) if row.preview_png is not None else None


def delete_run(run_id: int, actor: Any) -> None:
    """Delete a run and its file (admins: the caller checks the role), audited."""
    from bi_app.auth.users import audit

    try:
        with _session() as session:
            row = session.execute(
                select(*_LIST_COLUMNS[:8]).where(ReportRun.id == int(run_id))
            ).first()
            if row is None:
                raise _not_found(run_id)
            path = session.scalar(select(ReportRun.file_path).where(ReportRun.id == int(run_id)))
            session.execute(delete(ReportRun).where(ReportRun.id == int(run_id)))
            audit(
                session,
                "report.delete",
                target=f"report {row.id}",
                detail={
                    "kind": row.kind,
                    "period": f"{row.period_start.isoformat()}..{row.period_end.isoformat()}",
                    "format": row.format,
                    "status": row.status,
                },
                actor=actor,
            )
            session.commit()
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    if path:
        Path(path).unlink(missing_ok=True)
    log.info("report %s deleted", run_id)
