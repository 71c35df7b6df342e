"""The alert center's tables: rules, alerts and their history, silences, notification channels
and the notification outbox.

An alert is identified by its ``fingerprint`` (rule + labels, or Alertmanager's own). At most one
alert per fingerprint is *open* (pending, firing or acknowledged): a partial unique index holds
that across every worker and host, so two evaluators racing on the same condition cannot both
open one. Resolved and ignored alerts stay as history.

Notifications are rows of ``notification_outbox``, written in the same transaction as the state
change that caused them; the dispatcher claims, sends and marks them (see
:mod:`bi_app.alerts.dispatch`). A row is ``sent`` only after the channel accepted it; its
``idempotency_key`` travels with the message so a receiver can drop a repeat.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, _in, utcnow

SEVERITIES = ("info", "warning", "critical", "emergency")
RULE_KINDS = ("threshold", "health", "business", "deviation")
ALERT_STATES = ("pending", "firing", "acknowledged", "resolved", "ignored")
OPEN_STATES = ("pending", "firing", "acknowledged")
ALERT_SOURCES = ("rule", "alertmanager", "system")
CHANNEL_KINDS = ("email", "slack", "webhook", "sms")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
OUTBOX_KINDS = ("firing", "resolved", "escalation", "test", "report")
_OPEN_WHERE = text("state IN " + _in(OPEN_STATES))


class AlertRule(Base):
    """A rule the evaluator checks every interval. ``params`` holds the kind's own settings
    (operator and value, the check and run count, k and weeks of a deviation, the window)."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        CheckConstraint("kind IN " + _in(RULE_KINDS), name="kind"),
        CheckConstraint("severity IN " + _in(SEVERITIES), name="severity"),
        CheckConstraint("status IN ('ok', 'error')", name="status"),
        CheckConstraint("for_seconds >= 0 AND cooldown_seconds >= 0", name="durations"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    for_seconds: Mapped[int] = mapped_column(Integer, default=0)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=900)
    # channel names; empty: routed by severity to every channel that takes it
    targets: Mapped[list[Any]] = mapped_column(default=list)
    escalation_minutes: Mapped[int | None] = mapped_column(Integer)
    escalation_targets: Mapped[list[Any]] = mapped_column(default=list)
    response_job: Mapped[str | None] = mapped_column(String(64))
    recommended_action: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    # the last evaluation: "error" when the rule's data could not be read
    status: Mapped[str] = mapped_column(String(8), default="ok")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_value: Mapped[float | None] = mapped_column(Float)
    evaluated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("state IN " + _in(ALERT_STATES), name="state"),
        CheckConstraint("severity IN " + _in(SEVERITIES), name="severity"),
        CheckConstraint("source IN " + _in(ALERT_SOURCES), name="source"),
        Index(
            "uq_alerts_open_fingerprint",
            "fingerprint",
            unique=True,
            postgresql_where=_OPEN_WHERE,
            sqlite_where=_OPEN_WHERE,
        ),
        Index("ix_alerts_state_severity", "state", "severity"),
        Index("ix_alerts_rule_started", "rule_id", "started_at"),
        Index("ix_alerts_started_at", "started_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="rule")
    name: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # summary, description, recommended action, expected band (low, high, mean), external URL
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    fired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    silence_id: Mapped[int | None] = mapped_column(ForeignKey("silences.id", ondelete="SET NULL"))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AlertEvent(Base):
    """One step in an alert's history: a state change, a comment, an escalation, a response."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_at", "alert_id", "at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("alerts.id", ondelete="CASCADE")
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column()


class Silence(Base):
    """Alerts whose labels match every matcher between ``starts_at`` and ``ends_at`` are recorded
    and shown as silenced, and no notification goes out for them."""

    __tablename__ = "silences"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # [{"name": ..., "op": "=" | "!=" | "=~" | "!~", "value": ...}]
    matchers: Mapped[list[Any]] = mapped_column(default=list)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class NotificationChannel(Base):
    """Where notifications go. ``config`` holds what is not secret (SMTP host, recipients, URL);
    ``secret`` is sealed with :mod:`bi_app.secret_box` (an SMTP password, a webhook's signing key,
    a Slack webhook URL, an SMS gateway's token)."""

    __tablename__ = "notification_channels"
    __table_args__ = (CheckConstraint("kind IN " + _in(CHANNEL_KINDS), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret: Mapped[str | None] = mapped_column(Text)
    # the severities routed here when a rule names no targets
    severities: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class OutboxMessage(Base):
    """One notification to one channel. ``group_key`` joins the messages of one rule (and kind)
    that the dispatcher may send as one; ``not_before`` holds a message back for the grouping
    window; ``lease_until`` is how long a claimed (``sending``) row belongs to its claimer."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint("status IN " + _in(OUTBOX_STATUSES), name="status"),
        CheckConstraint("kind IN " + _in(OUTBOX_KINDS), name="kind"),
        Index("ix_notification_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_notification_outbox_channel_created", "channel_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    alert_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("alerts.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))
    group_key: Mapped[str | None] = mapped_column(String(200))
    # what the message says, rendered when the row is written (subject, text, severity, labels,
    # links): a message reads the same however late it goes out
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # the message this one was sent inside (grouping); its delivery is that message's
    sent_with: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
