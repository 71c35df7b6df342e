"""Admin → Alert channels: the services the page calls (admins only; every change audited).

Secrets (an SMTP password, a webhook's signing key, a Slack webhook URL, an SMS gateway token)
are sealed with :mod:`bi_app.secret_box` and never leave this module: listings say only
``has_secret``; a blank secret on an edit keeps the stored one. Delivery statistics and the
delivery log come from the outbox (``notification_outbox``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bi_app.alerts import channels, dispatch, rules
from bi_app.alerts.channels import ChannelInvalid
from bi_app.auth import audit
from bi_app.db.alert_models import SEVERITIES, NotificationChannel, OutboxMessage
from bi_app.db.models import utcnow
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _

__all__ = [
    "ChannelInvalid",
    "ChannelNotFound",
    "delete_channel",
    "delivery_log",
    "list_channels",
    "save_channel",
    "send_test_notification",
]

STATS_DAYS = 7
CHANNEL_EXISTS = N_("name: a channel named %(name)s already exists")

WHAT = N_("The alert center")  # names the store in "... is unavailable right now"


class ChannelNotFound(LookupError):
    """The channel named in a request does not exist (any more); the message is safe to show."""


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def _row(session: Session, channel_id: int) -> NotificationChannel:
    row = session.get(NotificationChannel, channel_id)
    if row is None:
        raise ChannelNotFound(_("notification channel %(id)s does not exist", id=channel_id))
    return row


def _public(row: NotificationChannel, stats: Mapping[str, int] | None = None) -> dict[str, Any]:
    """What the page may show of a channel: never its secret."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "config": dict(row.config or {}),
        "severities": list(row.severities or []),
        "enabled": bool(row.enabled),
        "has_secret": bool(row.secret),
        "consecutive_failures": row.consecutive_failures or 0,
        "last_error": row.last_error,
        "last_success_at": row.last_success_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "stats": dict(stats or {"sent": 0, "failed": 0, "pending": 0}),
    }


@unavailable_on_database_error(WHAT)
def list_channels(
    *, engine: Engine | None = None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Every channel by name, with its delivery counts of the last :data:`STATS_DAYS` days
    (``pending`` counts rows waiting or being sent)."""
    engine = _engine(engine)
    since = (now or utcnow()) - dt.timedelta(days=STATS_DAYS)
    with Session(engine) as session:
        counts: dict[int, dict[str, int]] = {}
        for channel_id, status, n in session.execute(
            select(OutboxMessage.channel_id, OutboxMessage.status, func.count())
            .where(OutboxMessage.created_at >= since)
            .group_by(OutboxMessage.channel_id, OutboxMessage.status)
        ):
            bucket = counts.setdefault(channel_id, {"sent": 0, "failed": 0, "pending": 0})
            key = "pending" if status in ("pending", "sending") else status
            bucket[key] = bucket.get(key, 0) + n
        rows = session.scalars(select(NotificationChannel).order_by(NotificationChannel.name))
        return [_public(r, counts.get(r.id)) for r in rows]


@unavailable_on_database_error(WHAT)
def get_channel(channel_id: int, *, engine: Engine | None = None) -> dict[str, Any]:
    with Session(_engine(engine)) as session:
        return _public(_row(session, channel_id))


def _severities(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise ChannelInvalid(_("severities: must be a list of severities"), "severities")
    wanted = {str(s).strip() for s in items if str(s).strip()}
    unknown = sorted(wanted - set(SEVERITIES))
    if unknown:
        raise ChannelInvalid(
            _(
                "severities: %(value)s is not one of %(values)s",
                value=unknown[0],
                values=", ".join(SEVERITIES),
            ),
            "severities",
        )
    return [s for s in SEVERITIES if s in wanted]


def _detail(row: NotificationChannel) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "config": dict(row.config or {}),
        "severities": list(row.severities or []),
        "enabled": bool(row.enabled),
    }


@unavailable_on_database_error(WHAT)
def save_channel(
    raw: Mapping[str, Any],
    actor: Any = None,
    channel_id: int | None = None,
    *,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Create (``channel_id`` None) or update a channel from its form; returns it as
    :func:`list_channels` shows it. Raises :class:`ChannelInvalid` naming the bad field, or
    :class:`ChannelNotFound`. Audited without the secret (only whether it changed).

    ``raw``: ``kind``, ``name``, ``severities`` (list), ``enabled`` (bool), ``secret`` and the
    kind's fields (see :func:`bi_app.alerts.channels.validate_channel`), at the top level or
    under ``config``. On an edit, a blank ``secret`` keeps the stored one and a missing
    ``severities`` / ``enabled`` keeps the stored value; the kind cannot change."""
    from bi_app.secret_box import current_box

    engine = _engine(engine)
    with Session(engine) as session:
        row = _row(session, channel_id) if channel_id is not None else None
        has_stored = row is not None and bool(row.secret)
        if row is not None and raw.get("kind") not in (None, "", row.kind):
            raise ChannelInvalid(_("kind: a channel's kind cannot change"), "kind")
        merged = dict(raw)
        if row is not None and not merged.get("kind"):
            merged["kind"] = row.kind
        kind, name, config, secret = channels.validate_channel(merged, has_stored_secret=has_stored)
        # an edit leaves out what it does not change
        if row is None and raw.get("severities") is None:
            severities = rules.default_severities(kind)  # the routing by severity
        elif "severities" in raw or row is None:
            severities = _severities(raw.get("severities"))
        else:
            severities = list(row.severities or [])
        enabled = bool(raw.get("enabled", True if row is None else row.enabled))
        clash = session.scalar(
            select(NotificationChannel.id).where(NotificationChannel.name == name)
        )
        if clash is not None and (row is None or clash != row.id):
            raise ChannelInvalid(_(CHANNEL_EXISTS, name=name), "name")
        now = utcnow()
        if row is None:
            row = NotificationChannel(kind=kind, created_at=now, consecutive_failures=0)
            session.add(row)
            action, old = "alert.channel.create", None
        else:
            action, old = "alert.channel.update", _detail(row)
            if kind == "slack" and secret is None:
                config = dict(row.config or {})  # the stored URL stays: so does its origin
        row.name, row.config, row.severities, row.enabled = name, config, severities, enabled
        row.updated_at = now
        if secret is not None:
            row.secret = current_box().seal(secret)
        new = _detail(row)
        if old is None:
            detail: dict[str, Any] = {**new, "secret_set": secret is not None}
        else:
            detail = {k: {"old": old[k], "new": new[k]} for k in new if old[k] != new[k]}
            if secret is not None:
                detail["secret"] = "changed"
        session.flush()
        audit(session, action, name, detail, actor=actor)
        try:
            session.commit()
        except IntegrityError:  # another admin saved the same name a moment ago
            session.rollback()
            raise ChannelInvalid(_(CHANNEL_EXISTS, name=name), "name") from None
        return _public(row)


@unavailable_on_database_error(WHAT)
def delete_channel(channel_id: int, actor: Any = None, *, engine: Engine | None = None) -> str:
    """Remove a channel and its outbox rows (audited with what it was); returns its name."""
    engine = _engine(engine)
    with Session(engine) as session:
        row = _row(session, channel_id)
        name, detail = row.name, _detail(row)
        session.execute(delete(OutboxMessage).where(OutboxMessage.channel_id == channel_id))
        session.delete(row)
        audit(session, "alert.channel.delete", name, detail, actor=actor)
        session.commit()
    return name


@unavailable_on_database_error(WHAT)
def send_test_notification(
    channel_id: int,
    actor: Any = None,
    *,
    engine: Engine | None = None,
    send: dispatch.SendFn = channels.send,
    settings: Any = None,
) -> dict[str, Any]:
    """Send a test message through the channel now (also a disabled one), through the outbox
    like any notification: ``{"status": "sent" | "failed" | "pending", "error": str | None}``
    (``pending``: a transient failure, retried by the dispatcher)."""
    engine = _engine(engine)
    with Session(engine) as session:
        name = _row(session, channel_id).name
    try:
        row_id = dispatch.enqueue_test(channel_id, engine)
    except LookupError:
        raise ChannelNotFound(
            _("notification channel %(id)s does not exist", id=channel_id)
        ) from None
    result = dispatch.dispatch_now([row_id], engine, send=send, settings=settings)
    outcome = result.get(row_id, {"status": "pending", "error": None})
    status = outcome["status"] if outcome["status"] in ("sent", "failed") else "pending"
    with Session(engine) as session:
        audit(
            session,
            "alert.channel.test",
            name,
            {"status": status, "error": outcome["error"]},
            actor=actor,
        )
        session.commit()
    return {"status": status, "error": outcome["error"]}


@unavailable_on_database_error(WHAT)
def delivery_log(
    channel_id: int | None = None, limit: int = 100, *, engine: Engine | None = None
) -> list[dict[str, Any]]:
    """Outbox rows, newest first (one channel's, or every channel's with its name)."""
    engine = _engine(engine)
    limit = max(1, min(int(limit), 1000))
    query = (
        select(OutboxMessage, NotificationChannel.name)
        .join(NotificationChannel, NotificationChannel.id == OutboxMessage.channel_id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    if channel_id is not None:
        query = query.where(OutboxMessage.channel_id == channel_id)
    with Session(engine) as session:
        return [
            {
                "id": m.id,
                "channel_id": m.channel_id,
                "channel": channel_name,
                "created_at": m.created_at,
                "sent_at": m.sent_at,
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at if m.status == "pending" else None,
                "last_error": m.last_error,
                "subject": str((m.payload or {}).get("subject") or ""),
                "alert_id": m.alert_id,
                "sent_with": m.sent_with,
            }
            for m, channel_name in session.execute(query)
        ]
