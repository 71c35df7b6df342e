"""The alert lifecycle: every state change of an alert, its history row and the notifications
it causes, written in one transaction.

States: ``pending`` (the condition holds, the for-duration has not passed) → ``firing`` →
``acknowledged`` → ``resolved``; any open state may also be ``ignored``. At most one alert per
fingerprint is open: the partial unique index ``uq_alerts_open_fingerprint`` holds that across
processes, and an insert that loses the race reads the winner's row instead.

Notifications are outbox rows (:class:`~bi_app.db.alert_models.OutboxMessage`) added to the same
session as the change, so a change is never committed without its notifications or the other
way round. The dispatcher (:mod:`bi_app.alerts.dispatch`) sends them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import flask
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bi_app.alerts import rules
from bi_app.db.alert_models import (
    OPEN_STATES,
    Alert,
    AlertEvent,
    AlertRule,
    NotificationChannel,
    OutboxMessage,
    Silence,
)
from bi_app.db.models import utcnow
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _

log = logging.getLogger(__name__)

ACTION_MESSAGES = {
    "acknowledge": N_("Only a firing alert can be acknowledged; this one is %(state)s."),
    "resolve": N_("This alert is already %(state)s."),
    "ignore": N_("This alert is already %(state)s."),
    "comment": N_("This alert is already %(state)s."),
}
SUBJECTS = {
    "firing": N_("[%(severity)s] %(name)s"),
    "resolved": N_("[resolved] %(name)s"),
    "escalation": N_("[escalated: %(severity)s] %(name)s — not acknowledged"),
    "test": N_("Test notification from bi-app"),
}

WHAT = N_("The alert center")  # names the store in "... is unavailable right now"


class AlertActionError(Exception):
    """An action that cannot be done (unknown alert, wrong state); the message is shown."""


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def _settings() -> Any:
    if flask.has_app_context():
        return flask.current_app.config.get("BI_SETTINGS")
    return None


def _setting(name: str, default: Any) -> Any:
    return getattr(_settings(), name, default)


@contextlib.contextmanager
def _app_language() -> Iterator[None]:
    """Notifications are written in the app's language (``BI_LOCALE``), not the language of
    whoever's request caused them: their readers are the channel's, not the clicker's."""
    if not flask.has_app_context() or "babel" not in flask.current_app.extensions:
        yield
        return
    from flask_babel import force_locale

    from bi_app.i18n import default_locale

    with force_locale(default_locale()):
        yield


# --- reading -----------------------------------------------------------------------------------

PASS_KEY = "bi_alert_pass"


@dataclass
class PassState:
    """What one evaluation pass reads once instead of per rule: the open alerts (locked until
    the pass commits), the active silences and the channels."""

    open_alerts: dict[str, Alert]
    silences: list[Silence]
    channels: list[NotificationChannel]

    def __post_init__(self) -> None:
        self.by_rule: dict[int | None, dict[str, Alert]] = {}
        for alert in self.open_alerts.values():
            self.by_rule.setdefault(alert.rule_id, {})[alert.fingerprint] = alert

    def opened(self, alert: Alert) -> None:
        self.open_alerts[alert.fingerprint] = alert
        self.by_rule.setdefault(alert.rule_id, {})[alert.fingerprint] = alert

    def closed(self, alert: Alert) -> None:
        if self.open_alerts.get(alert.fingerprint) is alert:
            del self.open_alerts[alert.fingerprint]
            self.by_rule.get(alert.rule_id, {}).pop(alert.fingerprint, None)


def begin_pass(session: Session, now: dt.datetime) -> PassState:
    """Load the pass's shared state into ``session`` (see :class:`PassState`); the lifecycle
    functions called with this session use it until :func:`end_pass`."""
    open_alerts = session.scalars(
        select(Alert).where(Alert.state.in_(OPEN_STATES)).order_by(Alert.id).with_for_update()
    ).all()
    state = PassState(
        open_alerts={a.fingerprint: a for a in open_alerts},
        silences=list(
            session.scalars(
                select(Silence)
                .where(Silence.starts_at <= now, Silence.ends_at > now)
                .order_by(Silence.id)
            )
        ),
        channels=_query_channels(session),
    )
    session.info[PASS_KEY] = state
    return state


def end_pass(session: Session) -> None:
    session.info.pop(PASS_KEY, None)


def _pass(session: Session) -> PassState | None:
    return session.info.get(PASS_KEY)


def open_alert(session: Session, fp: str) -> Alert | None:
    """The open alert of a fingerprint, locked until the transaction ends (PostgreSQL), so two
    evaluators cannot both move it (fire it twice, say)."""
    state = _pass(session)
    if state is not None:
        return state.open_alerts.get(fp)
    return session.scalars(
        select(Alert).where(Alert.fingerprint == fp, Alert.state.in_(OPEN_STATES)).with_for_update()
    ).first()


def _last_closed(session: Session, fp: str) -> Alert | None:
    return session.scalars(
        select(Alert)
        .where(Alert.fingerprint == fp, Alert.state.in_(("resolved", "ignored")))
        .order_by(Alert.resolved_at.desc())
        .limit(1)
    ).first()


def active_silence(session: Session, labels: Mapping[str, Any], now: dt.datetime) -> Silence | None:
    state = _pass(session)
    silences = (
        state.silences
        if state is not None
        else session.scalars(
            select(Silence)
            .where(Silence.starts_at <= now, Silence.ends_at > now)
            .order_by(Silence.id)
        ).all()
    )
    return next((s for s in silences if rules.silence_matches(s.matchers, labels)), None)


def _event(
    session: Session,
    alert: Alert,
    kind: str,
    now: dt.datetime,
    actor: str | None = None,
    comment: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AlertEvent(
            alert_id=alert.id, at=now, kind=kind, actor=actor, comment=comment, detail=detail
        )
    )


# --- notifications -----------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def alert_url(alert_id: int) -> str:
    base = _setting("public_url", "")
    return f"{base}/ops/alerts?alert={alert_id}" if base else ""


def render_payload(alert: Alert, kind: str) -> dict[str, Any]:
    """What a notification says, rendered now in the app's language."""
    with _app_language():
        severity = _(rules.SEVERITY_LABELS.get(alert.severity, alert.severity)).upper()
        subject = _(SUBJECTS[kind], severity=severity, name=alert.name)
        notes = alert.annotations or {}
        lines = [subject, ""]
        if notes.get("summary"):
            lines.append(str(notes["summary"]))
        if alert.value is not None:
            lines.append(_("Value: %(value)s", value=f"{alert.value:g}"))
        band = notes.get("expected")
        if isinstance(band, Mapping) and band.get("low") is not None:
            lines.append(
                _(
                    "Expected: %(low)s to %(high)s",
                    low=f"{band['low']:g}",
                    high=f"{band['high']:g}",
                )
            )
        if alert.labels:
            lines.append(_("Labels: %(labels)s", labels=rules.format_labels(alert.labels)))
        if notes.get("recommended_action"):
            lines.append(_("What to do: %(action)s", action=notes["recommended_action"]))
        url = alert_url(alert.id)
        if url:
            lines.append(url)
    return {
        "subject": subject,
        "text": "\n".join(lines),
        "severity": alert.severity,
        "kind": kind,
        "alert": {
            "id": alert.id,
            "name": alert.name,
            "fingerprint": alert.fingerprint,
            "state": alert.state,
            "labels": alert.labels,
            "annotations": notes,
            "value": alert.value,
            "started_at": _iso(alert.started_at),
            "fired_at": _iso(alert.fired_at),
            "resolved_at": _iso(alert.resolved_at),
            "url": url,
        },
    }


def _query_channels(session: Session) -> list[NotificationChannel]:
    return list(session.scalars(select(NotificationChannel).order_by(NotificationChannel.name)))


def _channels(session: Session) -> list[NotificationChannel]:
    state = _pass(session)
    return state.channels if state is not None else _query_channels(session)


def enqueue(
    session: Session,
    alert: Alert,
    kind: str,
    now: dt.datetime,
    targets: Iterable[str] | None = None,
) -> int:
    """Write the outbox rows of one notification about ``alert``; returns how many.

    ``targets`` (channel names) override the routing (escalations use the rule's escalation
    targets). A channel's own failure alert is never sent to that channel. Firing messages of a
    rule wait the grouping window (``BI_ALERT_GROUP_SECONDS``) so a burst goes out as one.
    """
    channels = _channels(session)
    if targets is None:
        rule_targets: tuple[str, ...] = ()
        if alert.rule_id is not None:
            rule = session.get(AlertRule, alert.rule_id)
            rule_targets = tuple(rule.targets or ()) if rule is not None else ()
        names = rules.routes(
            alert.severity,
            rule_targets,
            (
                rules.ChannelRoute(c.name, c.kind, tuple(c.severities or ()), c.enabled)
                for c in channels
            ),
        )
    else:
        wanted = set(targets)
        names = [c.name for c in channels if c.enabled and c.name in wanted]
    excluded = (alert.labels or {}).get("channel") if alert.source == "system" else None
    group_seconds = int(_setting("alert_group_seconds", 0))
    grouped = alert.rule_id is not None and kind in ("firing", "resolved")
    payload = render_payload(alert, kind)
    count = 0
    for channel in channels:
        if channel.name not in names or channel.name == excluded:
            continue
        key = f"alert-{alert.id}-{kind}-{channel.id}"
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)):
            continue  # this notification was written already
        session.add(
            OutboxMessage(
                idempotency_key=key,
                channel_id=channel.id,
                alert_id=alert.id,
                kind=kind,
                group_key=f"rule-{alert.rule_id}-{kind}" if grouped else None,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=now + dt.timedelta(seconds=group_seconds if grouped else 0),
                created_at=now,
            )
        )
        count += 1
    if count:
        _event(session, alert, "notified", now, detail={"kind": kind, "channels": count})
    return count


# --- transitions -------------------------------------------------------------------------------


def _insert_open(session: Session, alert: Alert) -> tuple[Alert, bool]:
    """Add ``alert`` unless another process opened one for its fingerprint first: then that one
    is returned (False: not new).

    No savepoint on SQLite: pysqlite commits a savepoint that opened the transaction when it
    is released, and the rest of the transaction could then no longer be rolled back. There a
    racing insert (a second process, rare with one writer) fails its transaction on the unique
    index instead, and that evaluation is retried at the next pass: still never two alerts."""
    state = _pass(session)
    if session.get_bind().dialect.name == "sqlite":
        session.add(alert)
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:
            existing = session.scalars(
                select(Alert)
                .where(Alert.fingerprint == alert.fingerprint, Alert.state.in_(OPEN_STATES))
                .with_for_update()
            ).first()
            if existing is None:
                raise
            if state is not None:
                state.opened(existing)
            return existing, False
    if state is not None:
        state.opened(alert)
    return alert, True


def _fire(session: Session, alert: Alert, now: dt.datetime, response: list[Any]) -> None:
    alert.state = "firing"
    alert.fired_at = now
    silence = active_silence(session, alert.labels, now)
    alert.silence_id = silence.id if silence is not None else None
    _event(session, alert, "firing", now, detail={"value": alert.value})
    if silence is not None:
        _event(session, alert, "silenced", now, detail={"silence": silence.id})
        return
    enqueue(session, alert, "firing", now)
    response.append(alert)


def _close(
    session: Session,
    alert: Alert,
    state: str,
    now: dt.datetime,
    actor: str | None,
    comment: str | None = None,
) -> None:
    was_notified = alert.fired_at is not None and alert.silence_id is None
    shared = _pass(session)
    if shared is not None:
        shared.closed(alert)
    alert.state = state
    alert.resolved_at = now
    alert.resolved_by = actor
    _event(session, alert, state, now, actor=actor, comment=comment)
    if state == "resolved" and was_notified:
        enqueue(session, alert, "resolved", now)


def _annotations(rule: AlertRule, sample: Any) -> dict[str, Any]:
    notes: dict[str, Any] = {
        "summary": rule.description or rule.name,
        "recommended_action": rule.recommended_action or "",
    }
    band = getattr(sample, "expected", None)
    if band is not None:
        notes["expected"] = {"low": band.low, "high": band.high, "mean": band.mean}
    return notes


def apply_evaluation(
    session: Session, rule: AlertRule, samples: Iterable[Any], now: dt.datetime
) -> list[Alert]:
    """Move this rule's alerts by one evaluation's samples. Returns the alerts that started
    firing (and were notified) — the caller runs the rule's automatic response for them."""
    spec = rules.spec_from_row(rule)
    started: list[Alert] = []
    seen: set[str] = set()
    for sample in samples:
        fp = rules.fingerprint(spec.key, sample.labels)
        seen.add(fp)
        band = getattr(sample, "expected", None)
        holds = rules.condition_holds(
            spec,
            sample.value,
            band.low if band is not None else None,
            band.high if band is not None else None,
        )
        current = open_alert(session, fp)
        if not holds:
            if current is not None:
                current.value = sample.value
                _close(session, current, "resolved", now, None)
            continue
        if current is None:
            last = _last_closed(session, fp)
            if (
                last is not None
                and last.resolved_at is not None
                and (now - last.resolved_at).total_seconds() < spec.cooldown_seconds
            ):
                continue  # in cooldown: re-fires once it has passed
            current, new = _insert_open(
                session,
                Alert(
                    fingerprint=fp,
                    rule_id=rule.id,
                    source="rule",
                    name=rule.name,
                    severity=rule.severity,
                    labels=rules.alert_labels(spec, sample.labels),
                    annotations=_annotations(rule, sample),
                    state="pending",
                    value=sample.value,
                    started_at=now,
                    last_seen_at=now,
                ),
            )
            if new:
                _event(session, current, "pending", now, detail={"value": sample.value})
        current.value = sample.value
        current.last_seen_at = now
        current.annotations = _annotations(rule, sample)
        if current.state == "pending":
            if (now - current.started_at).total_seconds() >= spec.for_seconds:
                _fire(session, current, now, started)
        else:
            _recheck_silence(session, current, now)
    shared = _pass(session)
    still_open = (
        list(shared.by_rule.get(rule.id, {}).values())
        if shared is not None
        else session.scalars(
            select(Alert).where(Alert.rule_id == rule.id, Alert.state.in_(OPEN_STATES))
        ).all()
    )
    for gone in still_open:
        if gone.fingerprint not in seen:  # the series ended (an event finished, a host left)
            _close(session, gone, "resolved", now, None)
    return started


def _recheck_silence(session: Session, alert: Alert, now: dt.datetime) -> None:
    """A firing alert whose silence ended is notified now; one a new silence covers is marked."""
    silence = session.get(Silence, alert.silence_id) if alert.silence_id else None
    if silence is not None and silence.starts_at <= now < silence.ends_at:
        return
    covering = active_silence(session, alert.labels, now)
    if covering is not None:
        if alert.silence_id != covering.id:
            alert.silence_id = covering.id
            _event(session, alert, "silenced", now, detail={"silence": covering.id})
        return
    if alert.silence_id is not None:
        alert.silence_id = None
        _event(session, alert, "unsilenced", now)
        if alert.state == "firing":
            enqueue(session, alert, "firing", now)


def escalate_due(session: Session, now: dt.datetime) -> int:
    """Send firing, unacknowledged, unsilenced alerts past their rule's escalation time to the
    rule's escalation targets, once each."""
    due = session.execute(
        select(Alert, AlertRule)
        .join(AlertRule, Alert.rule_id == AlertRule.id)
        .where(
            Alert.state == "firing",
            Alert.escalated_at.is_(None),
            Alert.silence_id.is_(None),
            AlertRule.escalation_minutes.is_not(None),
        )
    ).all()
    count = 0
    for alert, rule in due:
        if alert.fired_at is None:
            continue
        if now - alert.fired_at < dt.timedelta(minutes=rule.escalation_minutes):
            continue
        alert.escalated_at = now
        sent = enqueue(session, alert, "escalation", now, targets=rule.escalation_targets or ())
        _event(session, alert, "escalated", now, detail={"channels": sent})
        count += 1
    return count


def raise_system_alert(
    session: Session,
    key: str,
    name: str,
    severity: str,
    labels: Mapping[str, Any],
    annotations: Mapping[str, Any],
    now: dt.datetime,
) -> Alert:
    """Open (or refresh) an alert the app raises about itself: a rule that cannot read its
    data, a channel that keeps failing. It fires at once and is routed like any other."""
    fp = rules.fingerprint(key, {})
    all_labels = {**{str(k): str(v) for k, v in labels.items()}, "severity": severity}
    current = open_alert(session, fp)
    if current is not None:
        current.last_seen_at = now
        current.annotations = dict(annotations)
        return current
    alert, new = _insert_open(
        session,
        Alert(
            fingerprint=fp,
            rule_id=None,
            source="system",
            name=name,
            severity=severity,
            labels=all_labels,
            annotations=dict(annotations),
            state="pending",
            started_at=now,
            last_seen_at=now,
        ),
    )
    if new:
        _fire(session, alert, now, [])
    return alert


def clear_system_alert(session: Session, key: str, now: dt.datetime) -> bool:
    current = open_alert(session, rules.fingerprint(key, {}))
    if current is None:
        return False
    _close(session, current, "resolved", now, None)
    return True


def record_external(
    session: Session,
    *,
    fingerprint: str,
    name: str,
    severity: str,
    labels: Mapping[str, Any],
    annotations: Mapping[str, Any],
    firing: bool,
    starts_at: dt.datetime | None,
    now: dt.datetime,
) -> Alert | None:
    """An alert Alertmanager sends: opened (once per fingerprint) and notified while firing,
    resolved when Alertmanager says so. Returns the alert touched, None for a resolution of an
    alert that is not open."""
    current = open_alert(session, fingerprint)
    if not firing:
        if current is None:
            return None
        _close(session, current, "resolved", now, "alertmanager")
        return current
    if current is not None:
        current.last_seen_at = now
        current.annotations = dict(annotations)
        current.labels = {str(k): str(v) for k, v in labels.items()}
        return current
    alert, new = _insert_open(
        session,
        Alert(
            fingerprint=fingerprint,
            rule_id=None,
            source="alertmanager",
            name=name,
            severity=severity,
            labels={str(k): str(v) for k, v in labels.items()},
            annotations=dict(annotations),
            state="pending",
            started_at=starts_at or now,
            last_seen_at=now,
        ),
    )
    if new:
        _fire(session, alert, now, [])
    return alert


# --- people's actions --------------------------------------------------------------------------


def _actor_name(actor: Any) -> str | None:
    if actor is None:
        from bi_app.auth.context import request_user

        user = request_user()
        return user.username if user is not None else None
    return getattr(actor, "username", None) or str(actor)[:64]


def _act(
    action: str,
    alert_id: int,
    actor: Any,
    comment: str | None,
    engine: Engine | None,
    now: dt.datetime | None,
) -> dict[str, Any]:
    from bi_app.auth.users import audit

    now = now or utcnow()
    text = (comment or "").strip()[:2000] or None
    name = _actor_name(actor)
    with Session(_engine(engine)) as session:
        alert = session.get(Alert, alert_id, with_for_update=True)
        if alert is None:
            raise AlertActionError(_("There is no alert %(id)s.", id=alert_id))
        allowed = {
            "acknowledge": ("firing",),
            "resolve": OPEN_STATES,
            "ignore": OPEN_STATES,
            "comment": (*OPEN_STATES, "resolved", "ignored"),
        }[action]
        if alert.state not in allowed:
            state = _(rules.STATE_LABELS.get(alert.state, alert.state))
            raise AlertActionError(_(ACTION_MESSAGES[action], state=state))
        if action == "acknowledge":
            alert.state = "acknowledged"
            alert.acknowledged_at = now
            alert.acknowledged_by = name
            _event(session, alert, "acknowledged", now, actor=name, comment=text)
        elif action in ("resolve", "ignore"):
            _close(
                session, alert, "resolved" if action == "resolve" else "ignored", now, name, text
            )
        else:
            if not text:
                raise AlertActionError(_("Write a comment first."))
            _event(session, alert, "comment", now, actor=name, comment=text)
        audit(
            session,
            f"alert.{action}",
            target=f"alert:{alert.id}",
            detail={"name": alert.name, "state": alert.state, "comment": text},
            actor=actor,
        )
        session.commit()
        return {"id": alert.id, "state": alert.state}


@unavailable_on_database_error(WHAT)
def acknowledge(
    alert_id: int,
    actor: Any = None,
    comment: str | None = None,
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Someone is on it: stops the escalation. Only a firing alert can be acknowledged."""
    return _act("acknowledge", alert_id, actor, comment, engine, now)


@unavailable_on_database_error(WHAT)
def resolve(
    alert_id: int,
    actor: Any = None,
    comment: str | None = None,
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Close an open alert by hand (a "resolved" notification goes where "firing" went)."""
    return _act("resolve", alert_id, actor, comment, engine, now)


@unavailable_on_database_error(WHAT)
def ignore(
    alert_id: int,
    actor: Any = None,
    comment: str | None = None,
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Close an open alert as not worth acting on (no notification)."""
    return _act("ignore", alert_id, actor, comment, engine, now)


@unavailable_on_database_error(WHAT)
def comment(
    alert_id: int,
    actor: Any = None,
    comment: str | None = None,
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Add a note to an alert's history."""
    return _act("comment", alert_id, actor, comment, engine, now)
