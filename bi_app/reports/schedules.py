"""Report schedules: a report made on a cron in the business time zone and e-mailed through the
alert center's outbox, exactly once per slot however many processes run the job.

One pass of :func:`run_due_schedules` (the ``report_schedules`` job, run by the scheduler's
leader; safe to run anywhere at once):

1. **Claim** each enabled schedule whose ``next_run_at`` has come: a compare-and-set moves
   ``next_run_at`` from the slot to the next one after now and, in the same transaction, inserts
   the slot's queued run (``schedule_id``, ``scheduled_for`` are unique together). Only the
   process whose update matched gets the run; missed slots are not replayed (one report, for the
   newest period, after downtime).
2. **Build** every queued scheduled run: :func:`bi_app.reports.store.generate` claims it
   (queued -> running) so it is built once. A failed build raises the system alert
   ``report-schedule:<id>``; the schedule's next success resolves it. A run left running by a
   dead worker is marked failed after :data:`~bi_app.reports.store.STALE_AFTER`.
3. **Enqueue** every succeeded scheduled run not yet enqueued: its e-mail goes to the outbox
   (``kind`` "report", the run's file attached when sent) in the transaction that sets the run's
   ``enqueued_at``, with the idempotency key ``report-run-<id>``; the dispatcher sends it with its
   retries and backoff, and a failing channel raises the channel's alert.

A crash between any two steps loses nothing: the next pass finds the queued run, or the built
and not yet enqueued one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from bi_app.db.alert_models import NotificationChannel, OutboxMessage
from bi_app.db.models import utcnow
from bi_app.db.report_models import REPORT_FORMATS, SCHEDULE_KINDS, ReportRun, ReportSchedule
from bi_app.i18n import LOCALES, N_, _, parse_locale
from bi_app.reports.model import SECTIONS
from bi_app.reports.periods import ReportError, period_for, period_label, use_locale

__all__ = [
    "CRON_PRESETS",
    "ScheduleInvalid",
    "delete_schedule",
    "email_channels",
    "list_schedules",
    "run_due_schedules",
    "run_now",
    "save_schedule",
    "set_enabled",
    "upcoming",
]

log = logging.getLogger(__name__)

# a few common schedules, offered by the page next to a free cron expression
CRON_PRESETS: dict[str, tuple[str, str]] = {
    "weekly": ("0 8 * * mon", N_("Mondays at 08:00")),
    "monthly": ("0 8 1 * *", N_("The first day of the month at 08:00")),
    "daily": ("0 7 * * *", N_("Every day at 07:00")),
}
_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
MAX_RECIPIENTS = 50
ALERT_KEY = "report-schedule:{id}"
KIND_TITLES = {
    "daily": N_("Daily report"),
    "weekly": N_("Weekly report"),
    "monthly": N_("Monthly report"),
}


class ScheduleInvalid(ReportError):
    """A schedule's field is wrong (``field`` names it); the message is safe to show."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ScheduleNotFound(ReportError):
    """No schedule has that id."""


# --- sessions and time ------------------------------------------------------------------------


def _session() -> Session:
    from bi_app.extensions import db

    return db.session()


def _timezone() -> str:
    from bi_app.db.periods import business_timezone

    return business_timezone()


def _unavailable(exc: SQLAlchemyError) -> ReportError:
    log.error("report schedules: %s", exc)
    return ReportError(_("The report schedules are unavailable right now; try again in a moment."))


def _trigger(cron: str, tz: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(cron, timezone=ZoneInfo(tz))
    except ValueError as exc:
        raise ScheduleInvalid(
            _(
                "Schedule: %(cron)s is not a cron expression (five fields: minute, hour, day of "
                "month, month, day of week): %(reason)s",
                cron=repr(cron[:100]),
                reason=str(exc)[:200],
            ),
            "cron",
        ) from None


def upcoming(cron: str, tz: str, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The next ``count`` slots of ``cron`` (read in ``tz``) strictly after ``after`` (naive
    UTC), as naive UTC datetimes."""
    trigger = _trigger(cron, tz)
    previous = None
    moment = after.replace(tzinfo=dt.UTC) + dt.timedelta(microseconds=1)
    slots: list[dt.datetime] = []
    for _index in range(count):
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None:
            break
        slots.append(fire.astimezone(dt.UTC).replace(tzinfo=None))
        previous = fire
        moment = fire + dt.timedelta(microseconds=1)
    return slots


def _next_slot(cron: str, tz: str, after: dt.datetime) -> dt.datetime | None:
    slots = upcoming(cron, tz, after, 1)
    return slots[0] if slots else None


def local(moment: dt.datetime | None, tz: str | None = None) -> dt.datetime | None:
    """A naive UTC datetime as an aware one in the business time zone (``tz``)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz or _timezone()))


# --- validating and saving --------------------------------------------------------------------


def _recipients(value: Any) -> list[str]:
    if isinstance(value, str):
        items = re.split(r"[,;\s]+", value)
    elif isinstance(value, Sequence):
        items = [str(v) for v in value]
    else:
        items = []
    found: list[str] = []
    for item in (i.strip() for i in items):
        if item and item.lower() not in (f.lower() for f in found):
            found.append(item)
    if not found:
        raise ScheduleInvalid(_("Recipients: enter at least one e-mail address."), "recipients")
    bad = [r for r in found if not _EMAIL_RE.match(r) or len(r) > 254]
    if bad:
        raise ScheduleInvalid(
            _("Recipients: %(value)s is not an e-mail address.", value=bad[0][:80]), "recipients"
        )
    if len(found) > MAX_RECIPIENTS:
        raise ScheduleInvalid(
            _("Recipients: at most %(count)s addresses.", count=MAX_RECIPIENTS), "recipients"
        )
    return found


def validate(fields: Mapping[str, Any], session: Session) -> dict[str, Any]:
    """The clean values of a schedule's form, or :class:`ScheduleInvalid` naming the field."""
    name = " ".join(str(fields.get("name") or "").split())
    if not name:
        raise ScheduleInvalid(_("Name: give the schedule a name."), "name")
    if len(name) > 100:
        raise ScheduleInvalid(_("Name: at most 100 characters."), "name")
    cron = " ".join(str(fields.get("cron") or "").split())
    if not cron:
        raise ScheduleInvalid(_("Schedule: choose when the report is sent."), "cron")
    _trigger(cron, _timezone())
    kind = str(fields.get("kind") or "")
    if kind not in SCHEDULE_KINDS:
        raise ScheduleInvalid(_("Period: choose the daily, weekly or monthly report."), "kind")
    sections = [str(s) for s in (fields.get("sections") or ())]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ScheduleInvalid(
            _("Sections: unknown sections %(sections)s.", sections=", ".join(unknown)[:200]),
            "sections",
        )
    if not sections:
        raise ScheduleInvalid(_("Sections: choose at least one section."), "sections")
    fmt = str(fields.get("format") or "")
    if fmt not in REPORT_FORMATS:
        raise ScheduleInvalid(_("Format: choose PDF or Excel (xlsx)."), "format")
    locale = parse_locale(str(fields.get("locale") or "")) or None
    if locale not in LOCALES:
        raise ScheduleInvalid(_("Language: choose the report's language."), "locale")
    try:
        channel_id = int(fields.get("channel_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        channel_id = None
    channel = session.get(NotificationChannel, channel_id) if channel_id is not None else None
    if channel is None or channel.kind != "email":
        raise ScheduleInvalid(
            _("E-mail channel: choose the e-mail channel (SMTP server) that sends the report."),
            "channel_id",
        )
    return {
        "name": name,
        "cron": cron,
        "kind": kind,
        "sections": [s for s in SECTIONS if s in set(sections)],
        "format": fmt,
        "locale": locale,
        "channel_id": channel.id,
        "recipients": _recipients(fields.get("recipients")),
        "enabled": bool(fields.get("enabled", True)),
    }


def save_schedule(
    fields: Mapping[str, Any],
    actor: Any,
    schedule_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Create a schedule (``schedule_id`` None) or change one; audited. Its next slot is
    computed from now. Returns its id."""
    from bi_app.auth.users import audit

    now = now or utcnow()
    try:
        with _session() as session:
            values = validate(fields, session)
            clash = session.scalar(
                select(ReportSchedule.id).where(ReportSchedule.name == values["name"])
            )
            if clash is not None and clash != schedule_id:
                raise ScheduleInvalid(
                    _("Name: another schedule is called %(name)s.", name=values["name"]), "name"
                )
            if schedule_id is None:
                row = ReportSchedule(created_by=_actor_name(actor), created_at=now)
                session.add(row)
            else:
                row = session.get(ReportSchedule, schedule_id)
                if row is None:
                    raise _not_found(schedule_id)
            for key, value in values.items():
                setattr(row, key, value)
            row.next_run_at = _next_slot(row.cron, _timezone(), now) if row.enabled else None
            row.updated_at = now
            session.flush()
            audit(
                session,
                "report_schedule.create" if schedule_id is None else "report_schedule.update",
                target=f"report schedule {row.id}",
                detail={k: v for k, v in values.items() if k != "recipients"}
                | {"recipients": len(values["recipients"])},
                actor=actor,
            )
            session.commit()
            return row.id
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None


def _actor_name(actor: Any) -> str | None:
    name = getattr(actor, "username", actor)
    return str(name)[:64] if name is not None else None


def _not_found(schedule_id: object) -> ScheduleNotFound:
    return ScheduleNotFound(
        _("There is no report schedule number %(id)s.", id=str(schedule_id)[:20])
    )


def set_enabled(
    schedule_id: int, enabled: bool, actor: Any, now: dt.datetime | None = None
) -> None:
    """Pause or resume a schedule (audited); a resumed one's next slot is counted from now."""
    from bi_app.auth.users import audit

    now = now or utcnow()
    try:
        with _session() as session:
            row = session.get(ReportSchedule, int(schedule_id))
            if row is None:
                raise _not_found(schedule_id)
            row.enabled = bool(enabled)
            row.next_run_at = _next_slot(row.cron, _timezone(), now) if enabled else None
            row.updated_at = now
            audit(
                session,
                "report_schedule.resume" if enabled else "report_schedule.pause",
                target=f"report schedule {row.id}",
                detail={"name": row.name},
                actor=actor,
            )
            session.commit()
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None


def delete_schedule(schedule_id: int, actor: Any) -> None:
    """Delete a schedule (audited); its reports stay in the history."""
    from bi_app.auth.users import audit

    try:
        with _session() as session:
            row = session.get(ReportSchedule, int(schedule_id))
            if row is None:
                raise _not_found(schedule_id)
            audit(
                session,
                "report_schedule.delete",
                target=f"report schedule {row.id}",
                detail={"name": row.name, "cron": row.cron, "kind": row.kind},
                actor=actor,
            )
            session.delete(row)
            session.commit()
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None


# --- reading ----------------------------------------------------------------------------------


def email_channels() -> list[dict[str, Any]]:
    """The e-mail channels a schedule can send through: ``{"id", "name", "enabled"}``."""
    try:
        with _session() as session:
            rows = session.execute(
                select(
                    NotificationChannel.id, NotificationChannel.name, NotificationChannel.enabled
                )
                .where(NotificationChannel.kind == "email")
                .order_by(NotificationChannel.name)
            ).all()
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    return [{"id": r.id, "name": r.name, "enabled": bool(r.enabled)} for r in rows]


def list_schedules() -> list[dict[str, Any]]:
    """Every schedule as a plain dict, with ``channel`` (its name, None when deleted),
    ``next_run_local`` (aware, business time zone), ``last_run_local`` and ``delivery`` (the
    last run's e-mail, see :func:`_deliveries`; None before it is queued)."""
    tz = _timezone()
    try:
        with _session() as session:
            rows = session.execute(
                select(ReportSchedule, NotificationChannel.name.label("channel"))
                .outerjoin(NotificationChannel, NotificationChannel.id == ReportSchedule.channel_id)
                .order_by(ReportSchedule.name)
            ).all()
            deliveries = _deliveries(session, [s.last_run_id for s, _c in rows if s.last_run_id])
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    out = []
    for schedule, channel in rows:
        out.append(
            {
                "id": schedule.id,
                "name": schedule.name,
                "cron": schedule.cron,
                "kind": schedule.kind,
                "sections": list(schedule.sections or []),
                "format": schedule.format,
                "locale": schedule.locale,
                "channel_id": schedule.channel_id,
                "channel": channel,
                "recipients": list(schedule.recipients or []),
                "enabled": bool(schedule.enabled),
                "next_run_local": local(schedule.next_run_at, tz),
                "last_run_local": local(schedule.last_run_at, tz),
                "last_run_id": schedule.last_run_id,
                "last_status": schedule.last_status,
                "last_error": schedule.last_error,
                "delivery": deliveries.get(schedule.last_run_id),
                "created_by": schedule.created_by,
            }
        )
    return out


def _deliveries(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The e-mail of each run, as the outbox has it: ``{"status": "pending" | "sending" |
    "sent" | "failed", "attempts", "error", "sent_at_local"}``; runs without one are absent."""
    if not run_ids:
        return {}
    keys = {_outbox_key(run_id): run_id for run_id in run_ids}
    rows = session.execute(
        select(
            OutboxMessage.idempotency_key,
            OutboxMessage.status,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
            OutboxMessage.sent_at,
        ).where(OutboxMessage.idempotency_key.in_(list(keys)))
    ).all()
    tz = _timezone()
    return {
        keys[r.idempotency_key]: {
            "status": r.status,
            "attempts": r.attempts,
            "error": r.last_error,
            "sent_at_local": local(r.sent_at, tz),
        }
        for r in rows
    }


def _outbox_key(run_id: int) -> str:
    return f"report-run-{run_id}"


# --- running ----------------------------------------------------------------------------------


def _new_run(schedule: ReportSchedule, slot: dt.datetime, tz: str, now: dt.datetime) -> ReportRun:
    period = period_for(schedule.kind, local(slot, tz).date(), tz)  # type: ignore[union-attr]
    return ReportRun(
        kind=schedule.kind,
        period_start=period.start,
        period_end=period.end,
        sections=list(schedule.sections or []),
        format=schedule.format,
        locale=schedule.locale,
        status="queued",
        progress=0,
        step="queued",
        requested_by=schedule.name[:64],
        schedule_id=schedule.id,
        scheduled_for=slot,
        created_at=now,
    )


def _claim_due(now: dt.datetime, tz: str) -> int:
    """Step 1: the due schedules' slots become queued runs; returns how many this process got."""
    claimed = 0
    with _session() as session:
        due = session.execute(
            select(ReportSchedule.id, ReportSchedule.next_run_at, ReportSchedule.cron).where(
                ReportSchedule.enabled.is_(True),
                ReportSchedule.next_run_at.is_not(None),
                ReportSchedule.next_run_at <= now,
            )
        ).all()
    for schedule_id, slot, cron in due:
        try:
            following = _next_slot(cron, tz, now)
        except ScheduleInvalid:  # a cron the validator took once and APScheduler now refuses
            following = None
        try:
            with _session() as session:
                moved = session.execute(
                    update(ReportSchedule)
                    .where(
                        ReportSchedule.id == schedule_id,
                        ReportSchedule.next_run_at == slot,
                        ReportSchedule.enabled.is_(True),
                    )
                    .values(next_run_at=following, last_run_at=slot)
                ).rowcount
                if moved != 1:  # another process has this slot
                    session.rollback()
                    continue
                schedule = session.get(ReportSchedule, schedule_id)
                assert schedule is not None
                run = _new_run(schedule, slot, tz, now)
                session.add(run)
                session.flush()
                schedule.last_run_id = run.id
                schedule.last_status = "queued"
                session.commit()
                claimed += 1
                log.info("report schedule %s: slot %s queued as run %s", schedule_id, slot, run.id)
        except IntegrityError:  # the slot's run exists already: someone else claimed it
            log.info("report schedule %s: slot %s already taken", schedule_id, slot)
    return claimed


def _queued_runs() -> list[int]:
    with _session() as session:
        return list(
            session.scalars(
                select(ReportRun.id)
                .where(ReportRun.schedule_id.is_not(None), ReportRun.status == "queued")
                .order_by(ReportRun.id)
            )
        )


def _mark_stale(now: dt.datetime) -> list[int]:
    """Scheduled runs left running by a dead worker: failed. Returns their ids."""
    from bi_app.reports.store import STALE_AFTER

    with _session() as session:
        stale = list(
            session.scalars(
                select(ReportRun.id).where(
                    ReportRun.schedule_id.is_not(None),
                    ReportRun.status == "running",
                    ReportRun.started_at < now - STALE_AFTER,
                )
            )
        )
        marked = []
        for run_id in stale:
            done = session.execute(
                update(ReportRun)
                .where(ReportRun.id == run_id, ReportRun.status == "running")
                .values(
                    status="failed",
                    error=_("The worker building the report stopped before it finished."),
                    finished_at=now,
                )
            ).rowcount
            if done:
                marked.append(run_id)
        session.commit()
    return marked


def _outcome(run_id: int, now: dt.datetime) -> None:
    """Record a finished scheduled run on its schedule, and raise or clear its alert."""
    from bi_app.alerts import lifecycle

    with _session() as session:
        run = session.get(ReportRun, run_id)
        if run is None or run.schedule_id is None:
            return
        schedule = session.get(ReportSchedule, run.schedule_id)
        name = schedule.name if schedule is not None else f"#{run.schedule_id}"
        key = ALERT_KEY.format(id=run.schedule_id)
        if schedule is not None and schedule.last_run_id == run.id:
            schedule.last_status = run.status
            schedule.last_error = run.error
        if run.status == "failed":
            lifecycle.raise_system_alert(
                session,
                key=key,
                name=f"Scheduled report {name} failed"[:200],
                severity="warning",
                labels={"report_schedule": name},
                annotations={
                    "summary": f"Report run {run.id} ({run.kind}, "
                    f"{run.period_start}..{run.period_end}): {run.error or 'failed'}"[:1000],
                    "recommended_action": (
                        "Read the error on the Reports page, fix its cause, then use Run now "
                        "on the schedule; the next slot runs on its own."
                    ),
                },
                now=now,
            )
        elif run.status == "succeeded":
            lifecycle.clear_system_alert(session, key, now)
        session.commit()


def _email_text(run: ReportRun, schedule: ReportSchedule, file_name: str) -> tuple[str, str]:
    from bi_app.reports.content import SECTION_TITLES
    from bi_app.reports.store import _period_of

    with use_locale(schedule.locale):
        label = period_label(_period_of(run), schedule.locale)
        title = _(KIND_TITLES.get(run.kind, KIND_TITLES["weekly"]))
        subject = _("%(title)s: %(period)s", title=title, period=label)
        chosen = [s for s in run.sections or [] if s in SECTION_TITLES]
        sections = ", ".join(_(SECTION_TITLES[s]) for s in chosen)
        lines = [
            subject,
            "",
            _("The report %(name)s is attached (%(file)s).", name=schedule.name, file=file_name),
            _("Sections: %(sections)s", sections=sections),
        ]
        link = _public_url()
        if link:
            lines.append(_("Earlier reports: %(url)s", url=link + "/reports"))
    return subject, "\n".join(lines)


def _public_url() -> str:
    import flask

    if not flask.has_app_context():
        return ""
    settings = flask.current_app.config.get("BI_SETTINGS")
    return str(getattr(settings, "public_url", "") or "")


def _enqueue(run_id: int, now: dt.datetime) -> bool:
    """Step 3 for one run: write its e-mail to the outbox and set ``enqueued_at``, in one
    transaction, once. False when there is nothing to do (done already, or no channel)."""
    from bi_app.reports.store import MIMETYPES, download_name

    with _session() as session:
        run = session.get(ReportRun, run_id)
        if run is None or run.enqueued_at is not None or run.status != "succeeded":
            return False
        schedule = session.get(ReportSchedule, run.schedule_id) if run.schedule_id else None
        marked = session.execute(
            update(ReportRun)
            .where(ReportRun.id == run_id, ReportRun.enqueued_at.is_(None))
            .values(enqueued_at=now)
        ).rowcount
        if marked != 1:
            session.rollback()
            return False
        if schedule is None or schedule.channel_id is None:
            _undeliverable(session, run, schedule, now)
            session.commit()
            return False
        file_name = download_name(run.kind, run.period_start, run.period_end, run.format)
        subject, text = _email_text(run, schedule, file_name)
        session.add(
            OutboxMessage(
                idempotency_key=_outbox_key(run.id),
                channel_id=schedule.channel_id,
                alert_id=None,
                kind="report",
                group_key=None,
                payload={
                    "subject": subject,
                    "text": text,
                    "severity": "info",
                    "kind": "report",
                    "alert": None,
                    "recipients": list(schedule.recipients or []),
                    "report_run_id": run.id,
                    "file_name": file_name,
                    "media_type": MIMETYPES[run.format],
                    "schedule": schedule.name,
                },
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        try:
            session.commit()
        except IntegrityError:  # the key is taken: it was enqueued already
            session.rollback()
            return False
    log.info("report run %s: e-mail queued", run_id)
    return True


def _undeliverable(
    session: Session, run: ReportRun, schedule: ReportSchedule | None, now: dt.datetime
) -> None:
    from bi_app.alerts import lifecycle

    name = schedule.name if schedule is not None else f"#{run.schedule_id}"
    if schedule is not None:
        schedule.last_status = "failed"
        schedule.last_error = "no e-mail channel: the schedule's channel was deleted"
    lifecycle.raise_system_alert(
        session,
        key=ALERT_KEY.format(id=run.schedule_id),
        name=f"Scheduled report {name} failed"[:200],
        severity="warning",
        labels={"report_schedule": name},
        annotations={
            "summary": f"Report run {run.id} was built but cannot be e-mailed: its schedule has "
            "no e-mail channel (deleted).",
            "recommended_action": "Choose an e-mail channel for the schedule on the Reports page.",
        },
        now=now,
    )


def _to_enqueue() -> list[int]:
    with _session() as session:
        return list(
            session.scalars(
                select(ReportRun.id)
                .where(
                    and_(
                        ReportRun.schedule_id.is_not(None),
                        ReportRun.status == "succeeded",
                        ReportRun.enqueued_at.is_(None),
                    )
                )
                .order_by(ReportRun.id)
            )
        )


def process_run(run_id: int, now: dt.datetime | None = None) -> str:
    """Build one scheduled run (if still queued), record its outcome and enqueue its e-mail."""
    from bi_app.reports.store import generate

    status = generate(run_id)
    if status == "skipped":
        return status
    moment = now or utcnow()
    _outcome(run_id, moment)
    if status == "succeeded":
        _enqueue(run_id, moment)
    return status


def run_due_schedules(now: dt.datetime | None = None) -> dict[str, int]:
    """One pass (see the module docstring); ``now`` (naive UTC) is injectable for tests.
    Returns counts: claimed, built, failed, enqueued, stale."""
    now = now or utcnow()
    tz = _timezone()
    counts = dict.fromkeys(("claimed", "built", "failed", "enqueued", "stale"), 0)
    counts["claimed"] = _claim_due(now, tz)
    for run_id in _mark_stale(now):
        counts["stale"] += 1
        _outcome(run_id, now)
    for run_id in _queued_runs():
        status = process_run(run_id, now)
        if status == "succeeded":
            counts["built"] += 1
        elif status == "failed":
            counts["failed"] += 1
    for run_id in _to_enqueue():  # built by a process that stopped before enqueuing
        counts["enqueued"] += int(_enqueue(run_id, now))
    return counts


def run_now(schedule_id: int, actor: Any, *, background: bool = True) -> int:
    """Make a schedule's report now (its slot: this moment) and e-mail it; audited. Returns the
    run's id; the build runs in a daemon thread of this process when ``background``."""
    from bi_app.auth.users import audit

    now = utcnow()
    try:
        with _session() as session:
            schedule = session.get(ReportSchedule, int(schedule_id))
            if schedule is None:
                raise _not_found(schedule_id)
            run = _new_run(schedule, now, _timezone(), now)
            run.requested_by = _actor_name(actor) or run.requested_by
            session.add(run)
            session.flush()
            schedule.last_run_id = run.id
            schedule.last_status = "queued"
            audit(
                session,
                "report_schedule.run_now",
                target=f"report schedule {schedule.id}",
                detail={"name": schedule.name, "run": run.id},
                actor=actor,
            )
            session.commit()
            run_id = run.id
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    if background:
        import flask

        app = flask.current_app._get_current_object()

        def work() -> None:
            with app.app_context():
                process_run(run_id)

        threading.Thread(target=work, daemon=True, name=f"report:{run_id}").start()
    return run_id
