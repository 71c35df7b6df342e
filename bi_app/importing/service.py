"""Run one import: read, validate, write in one transaction, refresh roll-ups and the figures of
the customers it changed, invalidate caches.

:func:`import_file` does the work synchronously (the CLI and tests call it); :func:`start_import`
queues it on a background thread for the web page, which polls the ``import_runs`` row.

Every message a run stores (its summary, its row errors, its phase) is written in the locale
current when it runs: the request's for an upload (the background thread carries it, see
:func:`bi_app.i18n.carried_locale`), ``BI_LOCALE`` for the command line and jobs.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from bi_app.auth import audit
from bi_app.db.models import utcnow
from bi_app.db.rollups import refresh_rollups
from bi_app.extensions import db
from bi_app.i18n import N_, _, carried_locale
from bi_app.importing import runs, stage
from bi_app.importing.create import audit_detail, created_codes, describe_created, insert_missing
from bi_app.importing.reader import MAX_UPLOAD_BYTES, ImportFileError, Table, open_table
from bi_app.importing.schemas import KINDS, ImportKind, get_kind
from bi_app.importing.validate import RowError, Validation, validate
from bi_app.importing.values import DEFAULT_FUTURE_DAYS
from bi_app.importing.write import WriteResult, write

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5
# Share of the progress bar per phase: reading+validating, writing, roll-ups.
_READ, _WRITE = 0.6, 0.35
# One import at a time per process: they are heavy, and queued runs show as such on the page.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bi-import")
# Imports allowed to wait behind the running one; each waiting import holds its whole file.
MAX_QUEUED_IMPORTS = 3
# N_()-marked: translated where a run is ended with them, placeholders as keyword arguments
QUEUE_FULL_MESSAGE = N_(
    "The import queue is full (%(waiting)s imports are waiting); try again when the current "
    "import finishes. Nothing was imported."
)
UNEXPECTED_MESSAGE = N_(
    "The import stopped on an unexpected error (%(error)s). Nothing was imported; the error is "
    "in the application log."
)
# the phases a run reports (stored in import_runs.phase and shown on the page, translated)
READING = N_("reading")
VALIDATING = N_("validating")
WRITING = N_("writing")
REFRESHING_ROLLUPS = N_("refreshing roll-ups")
REFRESHING_CUSTOMERS = N_("refreshing customer figures")

Invalidate = Callable[[], Any]
Echo = Callable[[str, float], None]  # (phase, fraction done): progress shown by the caller


@dataclass
class ImportOutcome:
    run_id: int
    kind: str
    file_name: str
    dry_run: bool
    status: str  # succeeded, validated, rejected, failed
    message: str
    file_format: str | None = None
    rows_total: int = 0
    rows_ok: int = 0
    rows_failed: int = 0
    inserted: int = 0
    updated: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # what "Create missing" created ("would create" for a dry run): {"platforms": [codes], ...}
    created: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "validated")


class _ImportQueue:
    """Counts the imports running or waiting in this process, refusing one beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.pending = capacity, 0
        self._lock = threading.Lock()

    def reserve(self) -> bool:
        with self._lock:
            if self.pending >= self.capacity:
                return False
            self.pending += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.pending = max(self.pending - 1, 0)


_queue = _ImportQueue(MAX_QUEUED_IMPORTS + 1)


class _Progress:
    """Throttled progress writes. On SQLite the import's transaction (its staging table, then
    the merge) must see no other write to the database until it ends — a write committed by
    another connection meanwhile would make its own writes fail — so progress is reported only
    before and after it (``hold``)."""

    def __init__(self, engine: Engine, run_id: int, echo: Echo | None = None) -> None:
        self.engine, self.run_id, self.last = engine, run_id, 0.0
        self.sqlite = engine.dialect.name == "sqlite"
        self.held = False
        self.echo = echo

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self.held = self.sqlite
        try:
            yield
        finally:
            self.held = False

    def __call__(self, phase: str, fraction: float, *, force: bool = False, **values: Any) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        phase = _(phase)
        if self.echo is not None:
            self.echo(phase, fraction)
        if self.held:
            return
        runs.report_progress(self.engine, self.run_id, phase=phase, progress=fraction, **values)


def decode_upload(contents: str | None) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL, refusing oversize uploads before decoding."""
    if not contents or "," not in contents:
        raise ImportFileError(_("Choose a file first."))
    payload = contents.split(",", 1)[1]
    if len(payload) * 3 // 4 > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            _(
                "The file is larger than the %(limit)s MB upload limit. Split it into smaller "
                "files (or import it with `bi-app import`).",
                limit=MAX_UPLOAD_BYTES // 1024 // 1024,
            )
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImportFileError(_("The upload was damaged in transit; try again.")) from None


def _summary(
    kind_label: str,
    check: Validation,
    written: WriteResult | None,
    dry_run: bool,
    created: dict[str, list[str]],
) -> str:
    """The run's summary in the current locale: one message per sentence."""
    total = f"{check.rows_total:,}"
    if not check.ok:
        return _(
            "%(failed)s of %(total)s row(s) have errors (%(problems)s problem(s)); nothing was "
            "imported. Fix the rows listed in the report and upload the file again.",
            failed=f"{check.rows_failed:,}",
            total=total,
            problems=f"{check.error_count:,}",
        )
    if dry_run or written is None:
        message = _(
            "All %(total)s row(s) are valid. Nothing was written (validation only).", total=total
        )
        if created:
            message += " " + _("Would create %(created)s.", created=describe_created(created))
        return message
    message = _(
        "Imported %(total)s row(s) of %(kind)s: %(inserted)s new, %(updated)s updated.",
        total=total,
        kind=_(kind_label).lower(),
        inserted=f"{written.inserted:,}",
        updated=f"{written.updated:,}",
    )
    if created:
        message += " " + _("Created %(created)s.", created=describe_created(created))
    return message


def _refresh(engine: Engine, written: WriteResult) -> str:
    """Roll-ups for the changed days; a failure is reported, the imported data stays."""
    if written.first_day is None and not written.refresh_all:
        return ""
    try:
        if written.refresh_all:
            refresh_rollups(engine)
        else:
            refresh_rollups(engine, written.first_day, written.last_day)
    except SQLAlchemyError:
        log.exception("import: roll-up refresh failed")
        return " " + _(
            "Charts are not updated yet: refreshing the roll-ups failed (the nightly job will "
            "retry)."
        )
    return ""


# kinds whose rows enter customer figures (visits, revenue orders): an import of them ends with
# an incremental customer recompute, so the Customers page shows them without a button press
CUSTOMER_KINDS = frozenset({"orders", "visits"})


def _refresh_customers(engine: Engine, kind: str) -> str:
    """Customer figures, segments and tags of the customers the import changed (the change
    triggers recorded them: an incremental run; the first run ever is a full one). A failure is
    reported; the imported data stays and the daily job catches up."""
    if kind not in CUSTOMER_KINDS:
        return ""
    from bi_app import customer_tags

    try:
        customer_tags.recompute(engine, utcnow().date())
    except Exception:
        log.exception("import: customer recompute failed")
        return " " + _(
            "Customer figures are not updated yet: recomputing them failed (the daily job will "
            "retry)."
        )
    return ""


@contextlib.contextmanager
def _staging(conn: Connection) -> Iterator[None]:
    """The staging table lives as long as the import's transaction (SQLite would keep it for
    the pooled connection's life)."""
    try:
        yield
    finally:
        if conn.in_transaction() and not conn.invalidated:
            with contextlib.suppress(SQLAlchemyError):
                stage.drop(conn)


def import_file(
    engine: Engine,
    data: bytes,
    file_name: str,
    kind: str,
    *,
    actor: str | None,
    dry_run: bool = False,
    source: str = "web",
    max_bytes: int = MAX_UPLOAD_BYTES,
    decimals: int = 2,
    run_id: int | None = None,
    invalidate: Invalidate | None = None,
    now: dt.datetime | None = None,
    create_missing: bool = False,
    future_days: int = DEFAULT_FUTURE_DAYS,
    echo: Echo | None = None,
    opener: Callable[[ImportKind], Table] | None = None,
) -> ImportOutcome:
    """Validate ``data`` as a file of ``kind`` and (unless ``dry_run``) write it, all or nothing.
    ``echo(phase, fraction)`` also receives the progress (the CLI prints it); ``opener(kind)``
    gives the rows instead of ``data`` (a sync reads them from a source database).

    ``create_missing`` adds the platforms, categories and customers the file refers to but the
    database lacks, in the same transaction; dates may lie up to ``future_days`` ahead."""
    if run_id is None:
        run_id = runs.create_run(
            engine,
            file_name=file_name,
            kind=kind,
            actor=actor,
            size_bytes=len(data),
            dry_run=dry_run,
            source=source,
            status="running",
        )
    outcome = ImportOutcome(run_id, str(kind), file_name, dry_run, "failed", "")
    progress = _Progress(engine, run_id, echo)
    committed = False
    try:
        try:
            spec = get_kind(kind)
        except ValueError:
            raise ImportFileError(
                _(
                    "Unknown import kind %(kind)s; expected one of %(kinds)s.",
                    kind=repr(str(kind)[:40]),
                    kinds=", ".join(KINDS),
                )
            ) from None
        progress(READING, 0.0, force=True)
        table = (
            opener(spec)
            if opener is not None
            else open_table(data, file_name, max_bytes=max_bytes, columns=spec.columns)
        )
        outcome.file_format = table.format
        written: WriteResult | None = None
        with progress.hold(), engine.begin() as conn, _staging(conn):
            check = validate(
                conn,
                table,
                spec,
                now=now or utcnow(),
                decimals=decimals,
                future_days=future_days,
                create_missing=create_missing,
                progress=lambda f: progress(VALIDATING, f * _READ, file_format=table.format),
            )
            outcome.rows_total, outcome.rows_ok, outcome.rows_failed = (
                check.rows_total,
                check.rows_ok,
                check.rows_failed,
            )
            outcome.error_count, outcome.errors = check.error_count, check.errors
            outcome.ignored_columns = check.ignored_columns
            outcome.created = created_codes(check.missing)
            if check.ok and not dry_run:
                progress(WRITING, _READ, force=True, rows_total=check.rows_total)
                insert_missing(conn, check.missing)
                assert check.stage is not None
                written = write(
                    conn,
                    spec,
                    check.stage,
                    check.header,
                    lambda f: progress(WRITING, _READ + _WRITE * f),
                )
                outcome.inserted, outcome.updated = written.inserted, written.updated
                with Session(bind=conn) as session:
                    audit(
                        session,
                        "data.import",
                        target=f"{spec.name}:{file_name}"[:200],
                        actor=actor or "unknown",
                        detail={
                            "run_id": run_id,
                            "rows": check.rows_total,
                            "inserted": written.inserted,
                            "updated": written.updated,
                            "format": table.format,
                            **(
                                {"created": audit_detail(outcome.created)}
                                if outcome.created
                                else {}
                            ),
                        },
                    )
        committed = written is not None
        outcome.status = "rejected" if not check.ok else ("validated" if dry_run else "succeeded")
        outcome.message = _summary(spec.label, check, written, dry_run, outcome.created)
        if written is not None:
            progress(REFRESHING_ROLLUPS, _READ + _WRITE, force=True)
            outcome.message += _refresh(engine, written)
            progress(REFRESHING_CUSTOMERS, _READ + _WRITE, force=True)
            outcome.message += _refresh_customers(engine, spec.name)
            if invalidate is not None and invalidate() is False:
                outcome.message += " " + _("Cached figures may show old numbers for a few minutes.")
        if outcome.ignored_columns:
            outcome.message += " " + _(
                "Ignored unknown column(s): %(columns)s.",
                columns=", ".join(outcome.ignored_columns[:10]),
            )
    except ImportFileError as exc:
        outcome.status = "rejected"
        outcome.message = _("%(problem)s Nothing was imported.", problem=exc)
    except IntegrityError as exc:
        log.warning("import %s refused by the database: %s", run_id, exc.orig)
        outcome.status = "failed"
        outcome.message = _(
            "The database refused the rows (another change to the same records at the same "
            "time?). Nothing was imported; try again."
        )
    except SQLAlchemyError:
        if committed:  # the rows are in; a later step (roll-ups, caches) failed
            log.exception("import %s: database error after the rows were written", run_id)
            outcome.status = "succeeded"
            outcome.message += " " + _("A database error stopped the steps after the import.")
        else:
            log.exception("import %s: database error", run_id)
            outcome.status, outcome.message = (
                "failed",
                _("A database error stopped the import. Nothing was imported."),
            )
    except Exception as exc:  # whatever it is, the run must end, not stay "running"
        if committed:
            log.exception("import %s: unexpected error after the rows were written", run_id)
            outcome.status = "succeeded"
            outcome.message += " " + _(
                "An unexpected error (%(error)s) stopped the steps after the import.",
                error=type(exc).__name__,
            )
        else:
            log.exception("import %s stopped on an unexpected error", run_id)
            outcome.status = "failed"
            outcome.message = _(UNEXPECTED_MESSAGE, error=type(exc).__name__)
    except BaseException:
        # interrupted (Ctrl-C in the CLI, the worker exiting): record it, then stop as asked
        if not committed:
            outcome.status, outcome.message = "failed", _("Interrupted. Nothing was imported.")
        _finish(engine, outcome)
        raise
    _finish(engine, outcome)
    log.info(
        "import %s (%s, %s, %s): %s",
        run_id,
        outcome.kind,
        outcome.file_name,
        outcome.status,
        outcome.message,
    )
    return outcome


def _finish(engine: Engine, outcome: ImportOutcome) -> None:
    """Record the outcome; if that fails, record at least its status, so no run stays
    "running" (the full report may be what the database refused)."""
    if not outcome.ok:
        outcome.created = {}  # a refused or failed import created nothing
    try:
        runs.finish_run(
            engine,
            outcome.run_id,
            status=outcome.status,
            message=outcome.message[:4000],
            file_format=outcome.file_format,
            rows_total=outcome.rows_total,
            rows_ok=outcome.rows_ok,
            rows_failed=outcome.rows_failed,
            inserted=outcome.inserted,
            updated=outcome.updated,
            error_count=outcome.error_count,
            errors=[e.as_dict() for e in outcome.errors],
        )
        return
    except Exception:  # fall back to the short record below
        log.exception("import %s: recording the result failed", outcome.run_id)
    _record_status(engine, outcome.run_id, outcome.status, _(_SHORT_MESSAGES[outcome.status]))


_SHORT_MESSAGES = {
    "succeeded": N_("The rows were imported, but the import's report could not be saved."),
    "validated": N_("The file is valid, but the validation report could not be saved."),
    "rejected": N_(
        "The file was refused, but the report of why could not be saved. Nothing was imported."
    ),
    "failed": N_("The import failed and its report could not be saved. Nothing was imported."),
}


def _record_status(engine: Engine, run_id: int, status: str, message: str) -> bool:
    """End a run that has not ended yet with a fixed message; False (logged) when even that
    cannot be written."""
    try:
        runs.finish_run(engine, run_id, unfinished_only=True, status=status, message=message)
    except Exception:  # the database is gone; the run view will call it stale
        log.exception("import %s: recording its end (%s) failed", run_id, status)
        return False
    return True


def start_import(
    engine: Engine,
    data: bytes,
    file_name: str,
    kind: str,
    *,
    actor: str | None,
    dry_run: bool,
    invalidate: Invalidate | None = None,
    decimals: int = 2,
    create_missing: bool = False,
    future_days: int = DEFAULT_FUTURE_DAYS,
) -> int:
    """Queue an import on the background thread; returns the run id the page polls.

    With :data:`MAX_QUEUED_IMPORTS` imports already waiting, the run is recorded as refused at
    once (the page shows why) instead of holding one more file in memory. The run's messages
    speak the locale of the caller (the request that started it), not the thread's default."""
    carried = carried_locale()
    run_id = runs.create_run(
        engine, file_name=file_name, kind=kind, actor=actor, size_bytes=len(data), dry_run=dry_run
    )
    queue = _queue
    if not queue.reserve():
        log.warning("import %s refused: the import queue is full", run_id)
        _record_status(
            engine, run_id, "rejected", _(QUEUE_FULL_MESSAGE, waiting=queue.capacity - 1)
        )
        return run_id

    def work() -> None:
        try:
            with carried():
                try:
                    import_file(
                        engine,
                        data,
                        file_name,
                        kind,
                        actor=actor,
                        dry_run=dry_run,
                        decimals=decimals,
                        run_id=run_id,
                        invalidate=invalidate,
                        create_missing=create_missing,
                        future_days=future_days,
                    )
                except BaseException as exc:
                    # import_file records its own failures; this is the last line if that broke
                    log.exception("import %s crashed", run_id)
                    _record_status(
                        engine, run_id, "failed", _(UNEXPECTED_MESSAGE, error=type(exc).__name__)
                    )
                    if not isinstance(exc, Exception):
                        raise
        except Exception as exc:  # the locale could not be carried (the app is gone)
            log.exception("import %s could not start", run_id)
            _record_status(
                engine, run_id, "failed", _(UNEXPECTED_MESSAGE, error=type(exc).__name__)
            )
        finally:
            queue.release()

    try:
        _executor.submit(work)
    except RuntimeError:  # the executor is shutting down with the process
        queue.release()
        _record_status(engine, run_id, "failed", _("The server is shutting down; try again."))
    return run_id


def settings_options(settings: Any) -> dict[str, Any]:
    """The arguments of :func:`import_file` (and a sync) that come from the settings, for the
    command line and jobs: the currency's minor units, the future horizon, cache invalidation."""
    from bi_app.data.cache import invalidate_for_settings
    from bi_app.i18n import currency_decimals

    return {
        "decimals": currency_decimals(settings.currency),
        "future_days": settings.import_future_days,
        "invalidate": lambda: invalidate_for_settings(settings),
    }


def app_invalidator() -> Invalidate:
    """Cache invalidation bound to the current Flask app, callable from the import thread."""
    import flask

    from bi_app.data.cache import invalidate

    app = flask.current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> bool:
        with app.app_context():
            return invalidate()

    return run


# --- the Import page's calls: the app's engine and cache, found here, not by the UI ------------


def start_upload(
    data: bytes,
    file_name: str,
    kind: str,
    *,
    actor: str | None,
    dry_run: bool,
    decimals: int,
    create_missing: bool = False,
) -> int:
    """Queue an upload on the app's database, invalidating the app's cache when it lands; dates
    may lie as far ahead as the app's ``BI_IMPORT_FUTURE_DAYS``."""
    from bi_app import current_settings

    return start_import(
        db.require_engine(),
        data,
        file_name,
        kind,
        actor=actor,
        dry_run=dry_run,
        invalidate=app_invalidator(),
        decimals=decimals,
        create_missing=create_missing,
        future_days=current_settings().import_future_days,
    )


def run_view(run_id: object) -> dict[str, Any] | None:
    """The run the page polls (None for no run or a malformed id from the browser)."""
    return runs.get_run(db.require_engine(), run_id) if isinstance(run_id, int) else None


def recent_imports(limit: int = 20) -> list[dict[str, Any]]:
    return runs.recent_runs(db.require_engine(), limit)
