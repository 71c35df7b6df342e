"""The ``import_runs`` rows: create, report progress, finish, read back for the page."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from bi_app.db.import_models import ImportRun
from bi_app.db.models import utcnow
from bi_app.i18n import _

log = logging.getLogger(__name__)
FINISHED = ("succeeded", "validated", "rejected", "failed")
# A queued or running import that has not reported for this long lost its process.
STALE_AFTER = dt.timedelta(minutes=10)
_SUMMARY_COLUMNS = [c for c in ImportRun.__table__.c if c.name != "errors"]
UNFINISHED = ("queued", "running")


def _text(value: str | None) -> str | None:
    """Text from a file or a browser as a text column takes it: PostgreSQL refuses NUL."""
    return value.replace("\x00", "\ufffd") if value else value


def create_run(
    engine: Engine,
    *,
    file_name: str,
    kind: str,
    actor: str | None,
    size_bytes: int,
    dry_run: bool,
    source: str = "web",
    status: str = "queued",
) -> int:
    now = utcnow()
    with engine.begin() as conn:
        result = conn.execute(
            insert(ImportRun.__table__).values(
                actor=_text((actor or None) and actor[:64]),
                source=source,
                file_name=_text((file_name or "(unnamed)")[:255]),
                kind=str(kind)[:32],
                size_bytes=size_bytes,
                dry_run=dry_run,
                status=status,
                progress=0.0,
                started_at=now,
                updated_at=now,
                rows_total=0,
                rows_ok=0,
                rows_failed=0,
                inserted=0,
                updated=0,
                error_count=0,
            )
        )
        return int(result.inserted_primary_key[0])


def report_progress(
    engine: Engine, run_id: int, *, phase: str, progress: float, **values: Any
) -> None:
    """Best effort: a failed progress write must never fail the import itself."""
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ImportRun.__table__)
                .where(ImportRun.__table__.c.id == run_id)
                .values(
                    status="running",
                    phase=phase,
                    progress=round(min(max(progress, 0.0), 1.0), 4),
                    updated_at=utcnow(),
                    **values,
                )
            )
    except SQLAlchemyError as exc:
        log.warning("import %s: progress update failed: %s", run_id, exc)


def finish_run(
    engine: Engine, run_id: int, *, unfinished_only: bool = False, **values: Any
) -> None:
    """End a run; ``unfinished_only`` leaves a run that already ended as it is."""
    now = utcnow()
    if "message" in values:
        values["message"] = _text(values["message"])
    table = ImportRun.__table__
    statement = update(table).where(table.c.id == run_id)
    if unfinished_only:
        statement = statement.where(table.c.status.in_(UNFINISHED))
    with engine.begin() as conn:
        conn.execute(
            statement.values(finished_at=now, updated_at=now, phase=None, progress=1.0, **values)
        )


def _view(row: Any, now: dt.datetime) -> dict[str, Any]:
    data = dict(row._mapping)
    if data["status"] in UNFINISHED and now - data["updated_at"] > STALE_AFTER:
        data["status"] = "failed"
        data["message"] = _(
            "Interrupted: the process running this import stopped; nothing was written."
        )
    data["finished"] = data["status"] in FINISHED
    return data


def get_run(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """One run with its error report (``errors``: list of row/column/value/message dicts)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(ImportRun.__table__).where(ImportRun.__table__.c.id == run_id)
        ).first()
    return _view(row, utcnow()) if row is not None else None


def recent_runs(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs, without their error reports."""
    table = ImportRun.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(*_SUMMARY_COLUMNS)
            .order_by(table.c.started_at.desc(), table.c.id.desc())
            .limit(limit)
        ).all()
    now = utcnow()
    return [_view(row, now) for row in rows]
