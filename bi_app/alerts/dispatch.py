"""The notification dispatcher: claims due outbox rows, sends them, marks them.

Delivery is at least once (like Alertmanager): a row is ``sent`` only after its channel accepted
it, and its idempotency key travels with the message, so a receiver that drops repeated keys
sees each notification exactly once.

One pass of :func:`dispatch_pending`:

1. **Claim** (one short transaction): rows that are ``pending`` and due (``next_attempt_at <=
   now``; the lifecycle writes a firing row due after the grouping window), and ``sending`` rows
   whose lease ran out (their claimer died mid-send). On PostgreSQL ``SELECT … FOR UPDATE SKIP
   LOCKED LIMIT n``, so dispatchers on several hosts never claim the same row; on SQLite (one
   writer) the claim is a single ``UPDATE … WHERE id IN (SELECT … LIMIT n)``, which takes the
   write lock at once. Claimed rows become ``sending`` with ``lease_until``, ``claimed_by`` (the
   worker and a token of this pass) and ``attempts + 1`` — counted before the send, so a message
   that kills its dispatcher every time still ends ``failed`` after ``BI_ALERT_MAX_ATTEMPTS``.
2. **Group**: claimed rows of one channel with the same ``group_key`` and kind go out as one
   message ("3 alerts: <rule>"; payload ``alerts: [...]``); the others get ``sent_with`` = the
   first row's id. A group's idempotency key is its row's key, or for several rows a hash of
   their keys (another composition is another message).
3. **Send** the messages in a small thread pool (:data:`SEND_THREADS`), each with its
   timeout; no send starts after :data:`PASS_BUDGET_S` (the job's own timeout is 55 s): those
   rows go back to ``pending`` without counting an attempt. The lease (:func:`lease_seconds`,
   80 s by default) outlasts the budget plus one timeout.
4. **Record** each result as it comes in, in its own transaction, only if this pass still
   holds the claim (``claimed_by`` = its token): ``sent``; or a transient failure →
   ``pending`` again after a bounded exponential backoff with full jitter
   (:func:`bi_app.alerts.rules.backoff_seconds`); or ``failed`` (a permanent failure, or the
   last attempt). A channel whose message failed for good, or that failed
   :data:`FAILURE_ALERT_AFTER` times in a row, raises its own critical alert
   (``channel:<name>``, labelled ``channel=<name>``, so it is never routed to that channel);
   its next success resolves it. A disabled channel's rows fail ("the channel is disabled"),
   except test messages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bi_app import outbound
from bi_app.alerts import channels
from bi_app.db.alert_models import NotificationChannel, OutboxMessage
from bi_app.db.models import utcnow
from bi_app.i18n import _

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
MIN_LEASE_S = 60
SEND_THREADS = 8
# no send starts later than this into a pass (the job's timeout is 55 s): the rest go back to
# 'pending' for the next pass, their attempt not counted
PASS_BUDGET_S = 35.0
FAILURE_ALERT_AFTER = 3  # consecutive failures of a channel that raise its own alert
DEFAULT_MAX_ATTEMPTS = 8
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2, "emergency": 3}

SendFn = Callable[..., None]


@dataclass
class _Outgoing:
    """One message to send: one outbox row, or a group of them (``rows[0]`` leads)."""

    channel: channels.ChannelConfig | None
    channel_id: int
    rows: list[OutboxMessage]
    message: channels.Message
    error: channels.SendError | None = None  # known before sending (bad secret, disabled)
    result: channels.SendError | None = field(default=None)
    channel_failure: bool = True  # False: not sent for a reason that is not the channel's
    deferred: bool = False  # not sent: the pass ran out of time before its turn


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _settings(settings: Any) -> Any:
    if settings is not None:
        return settings
    import flask

    if flask.has_app_context():
        return flask.current_app.config.get("BI_SETTINGS")
    return None


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt``: the rules module's bounded exponential with jitter."""
    from bi_app.alerts.rules import backoff_seconds

    return backoff_seconds(attempt)


def lease_seconds(timeout: float, budget: float = PASS_BUDGET_S) -> int:
    """How long a claim lasts: no send starts after ``budget`` seconds and each ends within
    ``timeout``, plus a margin; never under :data:`MIN_LEASE_S`."""
    return max(MIN_LEASE_S, math.ceil(budget + timeout) + 30)


# --- claim ----------------------------------------------------------------------------------


def _due(now: dt.datetime, max_attempts: int, ids: Sequence[int] | None):
    due = or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
    )
    clause = and_(due, OutboxMessage.attempts < max_attempts)
    if ids is not None:
        clause = and_(clause, OutboxMessage.id.in_(list(ids)))
    return clause


def _claim(
    engine: Engine,
    now: dt.datetime,
    limit: int,
    token: str,
    lease: int,
    max_attempts: int,
    ids: Sequence[int] | None,
) -> list[OutboxMessage]:
    lease_until = now + dt.timedelta(seconds=lease)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        # A row left 'sending' by a dead claimer that has used its last attempt: failed.
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "sending",
                OutboxMessage.lease_until < now,
                OutboxMessage.attempts >= max_attempts,
            )
            .values(
                status="failed",
                lease_until=None,
                last_error="the dispatcher stopped during the last attempt",
            )
        )
        pick = (
            select(OutboxMessage.id)
            .where(_due(now, max_attempts, ids))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if engine.dialect.name == "postgresql":
            claimed_ids = list(session.scalars(pick.with_for_update(skip_locked=True)))
            if not claimed_ids:
                return []
            where = OutboxMessage.id.in_(claimed_ids)
        else:  # SQLite: one statement, the write lock at once; no other writer meanwhile
            where = OutboxMessage.id.in_(pick.scalar_subquery())
        session.execute(
            update(OutboxMessage)
            .where(where)
            .values(
                status="sending",
                lease_until=lease_until,
                claimed_by=token,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.claimed_by == token, OutboxMessage.status == "sending")
                .order_by(OutboxMessage.id)
            )
        )


# --- group and build ------------------------------------------------------------------------


def _group_key(rows: Sequence[OutboxMessage]) -> str:
    if len(rows) == 1:
        return rows[0].idempotency_key
    joined = "\n".join(sorted(r.idempotency_key for r in rows))
    return "group-" + hashlib.sha256(joined.encode()).hexdigest()[:40]


def _message(rows: Sequence[OutboxMessage]) -> channels.Message:
    first = rows[0].payload or {}
    if len(rows) == 1:
        return channels.Message(
            str(first.get("subject") or ""),
            str(first.get("text") or first.get("subject") or ""),
            dict(first),
            rows[0].idempotency_key,
        )
    payloads = [r.payload or {} for r in rows]
    alert = first.get("alert") if isinstance(first.get("alert"), Mapping) else {}
    name = str(alert.get("name") or first.get("subject") or "")
    subject = _("%(count)s alerts: %(name)s", count=len(rows), name=name)
    text = "\n\n".join([subject] + [str(p.get("text") or p.get("subject") or "") for p in payloads])
    severity = max(
        (str(p.get("severity") or "info") for p in payloads),
        key=lambda s: SEVERITY_RANK.get(s, 0),
    )
    payload = {
        "subject": subject,
        "text": text,
        "severity": severity,
        "kind": rows[0].kind,
        "count": len(rows),
        "alerts": [p.get("alert") for p in payloads],
    }
    return channels.Message(subject, text, payload, _group_key(rows))


def _open_channel(row: NotificationChannel) -> channels.ChannelConfig:
    from bi_app.secret_box import SecretUnreadable, current_box

    secret = None
    if row.secret:
        try:
            secret = current_box().open(row.secret)
        except SecretUnreadable:
            raise channels.PermanentSendError(
                "the channel's secret cannot be decrypted (the key changed): re-enter it"
            ) from None
    return channels.ChannelConfig(row.kind, row.name, dict(row.config or {}), secret)


def _own_alert(row: OutboxMessage, channel_name: str) -> bool:
    """A channel's own failure alert addressed to that channel (routing never does this)."""
    from bi_app.alerts.rules import fingerprint

    alert = (row.payload or {}).get("alert")
    if row.kind == "test" or not isinstance(alert, Mapping):
        return False
    return alert.get("fingerprint") == fingerprint(f"channel:{channel_name}", {})


def _build(engine: Engine, rows: list[OutboxMessage]) -> list[_Outgoing]:
    ids = {r.channel_id for r in rows}
    with Session(engine) as session:
        found = {
            c.id: c
            for c in session.scalars(
                select(NotificationChannel).where(NotificationChannel.id.in_(ids))
            )
        }
        configs: dict[int, channels.ChannelConfig | channels.SendError] = {}
        enabled: dict[int, bool] = {}
        for cid, c in found.items():
            enabled[cid] = bool(c.enabled)
            try:
                configs[cid] = _open_channel(c)
            except channels.SendError as exc:
                configs[cid] = exc
    groups: dict[tuple[int, str, str], list[OutboxMessage]] = {}
    singles: list[list[OutboxMessage]] = []
    for row in rows:
        if row.group_key:
            groups.setdefault((row.channel_id, row.group_key, row.kind), []).append(row)
        else:
            singles.append([row])
    out: list[_Outgoing] = []
    for members in [*groups.values(), *singles]:
        cid = members[0].channel_id
        config = configs.get(cid)
        item = _Outgoing(
            config if isinstance(config, channels.ChannelConfig) else None,
            cid,
            members,
            _message(members),
        )
        if config is None:
            item.error = channels.PermanentSendError("the channel no longer exists")
        elif isinstance(config, channels.SendError):
            item.error = config
        elif not enabled.get(cid, False) and members[0].kind != "test":
            item.error = channels.PermanentSendError("the channel is disabled")
            item.channel_failure = False
        elif _own_alert(members[0], config.name):
            item.error = channels.PermanentSendError(
                "a channel's own failure alert: not sent to it"
            )
            item.channel_failure = False
        elif members[0].kind == "report":
            _attach_report(engine, item, config)
        out.append(item)
    return out


def _attach_report(engine: Engine, item: _Outgoing, config: channels.ChannelConfig) -> None:
    """A scheduled report's e-mail: its recipients and its file, read now (the outbox row
    holds the run's id, not the bytes)."""
    from bi_app.reports.store import ReportStoreError, stored_file

    payload = item.rows[0].payload or {}
    item.channel_failure = False  # none of these errors is the channel's
    if config.kind != "email":
        item.error = channels.PermanentSendError("reports are sent by e-mail channels only")
        return
    try:
        with Session(engine) as session:
            found = stored_file(session, int(payload.get("report_run_id") or 0))
    except (ReportStoreError, SQLAlchemyError) as exc:  # the directory or database, for now
        item.error = channels.TransientSendError(f"the report cannot be read: {exc}"[:500])
        return
    if found is None:
        item.error = channels.PermanentSendError("the report was deleted before it was sent")
        return
    name, media_type, content = found
    recipients = tuple(str(r) for r in payload.get("recipients") or ())
    item.message = replace(
        item.message,
        recipients=recipients,
        attachments=(channels.Attachment(name, media_type, content),),
    )
    item.channel_failure = True


# --- record ---------------------------------------------------------------------------------


def _system_name(channel_name: str) -> str:
    return f"Notification channel {channel_name} is failing"


def _raise_channel_alert(
    session: Session, channel: NotificationChannel, error: str, now: dt.datetime
) -> None:
    try:
        from bi_app.alerts import lifecycle
    except ImportError:  # pragma: no cover - the lifecycle module ships with this one
        log.error("channel %s is failing and no alert can be raised: %s", channel.name, error)
        return
    try:
        with session.begin_nested():
            lifecycle.raise_system_alert(
                session,
                key=f"channel:{channel.name}",
                name=_system_name(channel.name),
                severity="critical",
                labels={"channel": channel.name, "channel_kind": channel.kind},
                annotations={
                    "summary": f"{channel.kind} channel {channel.name}: {error}",
                    "consecutive_failures": channel.consecutive_failures,
                    "recommended_action": (
                        "Check the channel's settings and its receiver under Admin → Alert "
                        "channels, then send a test notification."
                    ),
                },
                now=now,
            )
    except Exception:  # the delivery result must be recorded anyway
        log.exception("could not raise the failure alert of channel %s", channel.name)


def _clear_channel_alert(session: Session, channel: NotificationChannel, now: dt.datetime) -> None:
    try:
        from bi_app.alerts import lifecycle
    except ImportError:  # pragma: no cover
        return
    try:
        with session.begin_nested():
            lifecycle.clear_system_alert(session, f"channel:{channel.name}", now)
    except Exception:  # the delivery result must be recorded anyway
        log.exception("could not resolve the failure alert of channel %s", channel.name)


def _record(
    engine: Engine,
    item: _Outgoing,
    token: str,
    now: dt.datetime,
    max_attempts: int,
    backoff_fn: Callable[[int], float],
) -> str:
    """Store one message's result; returns "sent", "retry", "failed", "deferred" (not tried:
    the pass ran out of time) or "lost" (the claim was taken over by another dispatcher after
    the lease ran out)."""
    error = item.error or item.result
    lead = item.rows[0]
    ids = [r.id for r in item.rows]
    with Session(engine) as session, session.begin():
        owned = and_(
            OutboxMessage.id.in_(ids),
            OutboxMessage.claimed_by == token,
            OutboxMessage.status == "sending",
        )
        if item.deferred:
            done = session.execute(
                update(OutboxMessage)
                .where(owned)
                .values(status="pending", lease_until=None, attempts=OutboxMessage.attempts - 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            return "deferred" if done else "lost"
        if error is None:
            done = session.execute(
                update(OutboxMessage)
                .where(owned)
                .values(status="sent", sent_at=now, lease_until=None, last_error=None)
                .execution_options(synchronize_session=False)
            ).rowcount
            if len(ids) > 1:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids[1:]), OutboxMessage.claimed_by == token)
                    .values(sent_with=lead.id)
                    .execution_options(synchronize_session=False)
                )
            outcome = "sent" if done else "lost"
        else:
            permanent = isinstance(error, channels.PermanentSendError)
            final = permanent or lead.attempts >= max_attempts
            values: dict[str, Any] = {"last_error": str(error)[:2000], "lease_until": None}
            if final:
                values["status"] = "failed"
            else:
                values["status"] = "pending"
                values["next_attempt_at"] = now + dt.timedelta(
                    seconds=backoff_fn(max(1, lead.attempts))
                )
            done = session.execute(
                update(OutboxMessage)
                .where(owned)
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            outcome = ("failed" if final else "retry") if done else "lost"
        if outcome == "lost":
            return outcome
        channel = session.get(NotificationChannel, item.channel_id)
        if channel is None:
            return outcome
        if error is None:
            had_failures = (channel.consecutive_failures or 0) > 0
            channel.consecutive_failures = 0
            channel.last_success_at = now
            channel.last_error = None
            if had_failures:
                _clear_channel_alert(session, channel, now)
        elif item.channel_failure:
            channel.consecutive_failures = (channel.consecutive_failures or 0) + 1
            channel.last_error = str(error)[:2000]
            if lead.kind != "test" and (
                outcome == "failed" or channel.consecutive_failures == FAILURE_ALERT_AFTER
            ):
                _raise_channel_alert(session, channel, str(error)[:500], now)
    return outcome


# --- the job --------------------------------------------------------------------------------


def _send_one(send: SendFn, item: _Outgoing, timeout: float, deadline: float) -> _Outgoing:
    if item.error is not None or item.channel is None:
        return item
    if time.monotonic() > deadline:
        item.deferred = True
        return item
    try:
        send(item.channel, item.message, timeout=timeout)
    except channels.SendError as exc:
        item.result = exc
    except Exception as exc:  # a sender's bug is a failed attempt, not a lost row
        log.exception("sending through channel %s failed unexpectedly", item.channel.name)
        item.result = channels.TransientSendError(f"unexpected error: {type(exc).__name__}")
    return item


def dispatch_pending(
    engine: Engine | None = None,
    now: dt.datetime | None = None,
    limit: int = 100,
    worker: str | None = None,
    send: SendFn = channels.send,
    *,
    settings: Any = None,
    ids: Iterable[int] | None = None,
    timeout: float = SEND_TIMEOUT_S,
    threads: int = SEND_THREADS,
    backoff_fn: Callable[[int], float] | None = None,
) -> dict[str, int]:
    """One dispatcher pass (see the module docstring). ``now``, ``send`` and ``backoff_fn`` are
    injectable for tests; ``ids`` restricts the pass to those rows (the test button). Returns
    counts: claimed, messages, sent, retry, failed, deferred, lost."""
    engine = _engine(engine)
    settings = _settings(settings)
    now = now or utcnow()
    max_attempts = int(getattr(settings, "alert_max_attempts", DEFAULT_MAX_ATTEMPTS))
    token = f"{worker or default_worker()}/{uuid.uuid4().hex[:12]}"[-200:]
    lease = lease_seconds(timeout)
    deadline = time.monotonic() + PASS_BUDGET_S
    id_list = list(ids) if ids is not None else None
    rows = _claim(engine, now, limit, token, lease, max_attempts, id_list)
    counts = dict.fromkeys(("messages", "sent", "retry", "failed", "deferred", "lost"), 0)
    counts["claimed"] = len(rows)
    if not rows:
        return counts
    items = _build(engine, rows)
    counts["messages"] = len(items)
    if send is channels.send:
        policy = (
            outbound.OutboundPolicy.from_settings(settings)
            if settings is not None
            else outbound.current_policy()
        )

        def sender(channel, message, *, timeout):
            return channels.send(channel, message, timeout=timeout, policy=policy)
    else:
        sender = send
    to_send = [i for i in items if i.error is None]
    done: Iterable[_Outgoing]
    pool = None
    if len(to_send) > 1 and threads > 1:
        # each result is recorded as it comes in: a crash re-sends only what was not recorded
        pool = ThreadPoolExecutor(max_workers=min(threads, len(to_send)))
        futures = [pool.submit(_send_one, sender, i, timeout, deadline) for i in to_send]
        done = (f.result() for f in as_completed(futures))
    else:
        done = (_send_one(sender, i, timeout, deadline) for i in to_send)
    try:
        for item in itertools.chain((i for i in items if i.error is not None), done):
            _record_and_count(engine, item, token, now, max_attempts, backoff_fn, counts)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return counts


def _record_and_count(
    engine: Engine,
    item: _Outgoing,
    token: str,
    now: dt.datetime,
    max_attempts: int,
    backoff_fn: Callable[[int], float] | None,
    counts: dict[str, int],
) -> None:
    outcome = _record(engine, item, token, now, max_attempts, backoff_fn or backoff)
    counts[outcome] += 1
    if item.error is not None or (item.result is not None and not item.deferred):
        log.warning(
            "notification %s through channel %s: %s (%s)",
            item.rows[0].id,
            item.channel.name if item.channel else item.channel_id,
            item.error or item.result,
            outcome,
        )


def enqueue_test(
    channel_id: int, engine: Engine | None = None, now: dt.datetime | None = None
) -> int:
    """Write a ``test`` outbox row for the channel (due at once); returns its id."""
    engine = _engine(engine)
    now = now or utcnow()
    from bi_app.alerts import lifecycle

    with lifecycle._app_language():  # read by the channel's people, like every notification
        subject = _(lifecycle.SUBJECTS["test"])
        text = _(
            "This is a test notification. If you can read it, the channel works: alerts will "
            "reach you here."
        )
    with Session(engine) as session, session.begin():
        channel = session.get(NotificationChannel, channel_id)
        if channel is None:
            raise LookupError(channel_id)
        row = OutboxMessage(
            idempotency_key=f"test-{uuid.uuid4()}",
            channel_id=channel_id,
            alert_id=None,
            kind="test",
            group_key=None,
            payload={
                "subject": subject,
                "text": text,
                "severity": "info",
                "kind": "test",
                "alert": None,
                "channel": channel.name,
            },
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def dispatch_now(
    ids: Iterable[int],
    engine: Engine | None = None,
    now: dt.datetime | None = None,
    send: SendFn = channels.send,
    *,
    settings: Any = None,
) -> dict[int, dict[str, Any]]:
    """One dispatcher pass over just these rows; returns {id: {"status", "error"}}."""
    engine = _engine(engine)
    id_list = list(ids)
    dispatch_pending(
        engine, now=now, limit=max(1, len(id_list)), send=send, settings=settings, ids=id_list
    )
    with Session(engine) as session:
        return {
            r.id: {"status": r.status, "error": r.last_error}
            for r in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(id_list)))
        }
