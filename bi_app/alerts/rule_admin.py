"""Rules as admins see and change them: list, read, validate and save, delete, enable, and the
backtest the editor shows before saving. Every change is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bi_app.alerts import rules, sources
from bi_app.alerts.defaults import display_name
from bi_app.db.alert_models import OPEN_STATES, Alert, AlertRule, NotificationChannel
from bi_app.db.models import utcnow
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _

COLUMNS = (
    "id",
    "name",
    "description",
    "kind",
    "metric",
    "params",
    "severity",
    "labels",
    "for_seconds",
    "cooldown_seconds",
    "targets",
    "escalation_minutes",
    "escalation_targets",
    "response_job",
    "recommended_action",
    "enabled",
    "builtin",
    "status",
    "last_error",
    "last_value",
    "evaluated_at",
    "updated_at",
)

WHAT = N_("The alert center")  # names the store in "... is unavailable right now"


class RuleNotFound(LookupError):
    """No such rule; the message is shown."""


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def _as_dict(rule: AlertRule, open_alerts: int = 0) -> dict[str, Any]:
    row = {name: getattr(rule, name) for name in COLUMNS}
    row["display_name"] = display_name(rule.name, rule.builtin)
    row["open_alerts"] = open_alerts
    return row


@unavailable_on_database_error(WHAT)
def list_rules(engine: Engine | None = None) -> list[dict[str, Any]]:
    with Session(_engine(engine)) as session:
        counts = dict(
            session.execute(
                select(Alert.rule_id, func.count())
                .where(Alert.state.in_(OPEN_STATES), Alert.rule_id.is_not(None))
                .group_by(Alert.rule_id)
            ).all()
        )
        return [
            _as_dict(rule, counts.get(rule.id, 0))
            for rule in session.scalars(select(AlertRule).order_by(AlertRule.name))
        ]


@unavailable_on_database_error(WHAT)
def get_rule(rule_id: int, engine: Engine | None = None) -> dict[str, Any]:
    with Session(_engine(engine)) as session:
        rule = session.get(AlertRule, rule_id)
        if rule is None:
            raise RuleNotFound(_("There is no rule %(id)s.", id=rule_id))
        return _as_dict(rule)


def _job_names() -> list[str] | None:
    try:
        from bi_app.jobs.status import job_specs

        return list(job_specs())
    except RuntimeError:  # outside an app: jobs are not checked
        return None


def validate(raw: Mapping[str, Any], engine: Engine | None = None) -> rules.RuleSpec:
    """The rule as it would be saved, or :class:`~bi_app.alerts.rules.RuleInvalid`."""
    with Session(_engine(engine)) as session:
        channels = session.scalars(select(NotificationChannel.name)).all()
    return rules.validate_rule(
        raw,
        metrics=sources.METRICS,
        health_checks=sources.HEALTH_CHECKS,
        channels=channels,
        jobs=_job_names(),
    )


@unavailable_on_database_error(WHAT)
def save_rule(
    raw: Mapping[str, Any],
    actor: Any = None,
    rule_id: int | None = None,
    *,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Create a rule, or replace rule ``rule_id``'s settings; returns the saved rule."""
    from bi_app.auth.users import audit

    spec = validate(raw, engine)
    now = utcnow()
    with Session(_engine(engine)) as session:
        if rule_id is None:
            rule = AlertRule(created_at=now, builtin=False, status="ok")
            session.add(rule)
        else:
            rule = session.get(AlertRule, rule_id)
            if rule is None:
                raise RuleNotFound(_("There is no rule %(id)s.", id=rule_id))
        rule.name = spec.name
        rule.description = spec.description
        rule.kind = spec.kind
        rule.metric = spec.metric
        rule.params = spec.params
        rule.severity = spec.severity
        rule.labels = spec.labels
        rule.for_seconds = spec.for_seconds
        rule.cooldown_seconds = spec.cooldown_seconds
        rule.targets = list(spec.targets)
        rule.escalation_minutes = spec.escalation_minutes
        rule.escalation_targets = list(spec.escalation_targets)
        rule.response_job = spec.response_job
        rule.recommended_action = spec.recommended_action
        rule.enabled = spec.enabled
        rule.updated_at = now
        try:
            session.flush()
        except IntegrityError:
            raise rules.RuleInvalid(
                "name", _("A rule named %(name)s exists already.", name=spec.name)
            ) from None
        audit(
            session,
            "alert_rule.create" if rule_id is None else "alert_rule.update",
            target=f"alert_rule:{rule.id}",
            detail={"name": rule.name, "kind": rule.kind, "metric": rule.metric},
            actor=actor,
        )
        session.commit()
        return _as_dict(rule)


@unavailable_on_database_error(WHAT)
def delete_rule(rule_id: int, actor: Any = None, *, engine: Engine | None = None) -> None:
    """Delete a rule; its alerts stay as history (without a rule)."""
    from bi_app.auth.users import audit

    with Session(_engine(engine)) as session:
        rule = session.get(AlertRule, rule_id)
        if rule is None:
            raise RuleNotFound(_("There is no rule %(id)s.", id=rule_id))
        audit(
            session,
            "alert_rule.delete",
            target=f"alert_rule:{rule.id}",
            detail={"name": rule.name},
            actor=actor,
        )
        session.delete(rule)
        session.commit()


@unavailable_on_database_error(WHAT)
def set_enabled(
    rule_id: int, enabled: bool, actor: Any = None, *, engine: Engine | None = None
) -> dict[str, Any]:
    from bi_app.auth.users import audit

    with Session(_engine(engine)) as session:
        rule = session.get(AlertRule, rule_id)
        if rule is None:
            raise RuleNotFound(_("There is no rule %(id)s.", id=rule_id))
        rule.enabled = bool(enabled)
        rule.updated_at = utcnow()
        audit(
            session,
            "alert_rule.enable" if enabled else "alert_rule.disable",
            target=f"alert_rule:{rule.id}",
            detail={"name": rule.name},
            actor=actor,
        )
        session.commit()
        return _as_dict(rule)


@unavailable_on_database_error(WHAT)
def backtest_rule(
    raw: Mapping[str, Any], now: dt.datetime | None = None, *, engine: Engine | None = None
) -> dict[str, Any]:
    """How often the rule as typed would have fired over the last 7 and 30 days, on the series
    it reads (the 7 days at the metric's finer step), and the 30 days' series for the chart. A
    rule that does not validate, or whose data cannot be read, gives ``error`` (its message)."""
    now = now or utcnow()
    result: dict[str, Any] = {
        "series": [],
        "fired_7d": [],
        "fired_30d": [],
        "error": None,
        "unit": None,
        "threshold": None,
    }
    try:
        spec = validate(raw, engine)
    except rules.RuleInvalid as exc:
        result["error"] = str(exc)
        return result
    info = sources.METRICS.get(spec.metric)
    result["unit"] = info.unit if info is not None else "count"
    result["threshold"] = rules.threshold_of(spec)
    try:
        # 30 days for the chart (minute metrics come hourly at that range) and, for the 7-day
        # count, the last week again at its finer step (5 minutes)
        month = sources.read_series(
            spec.kind, spec.metric, spec.params, _engine(engine), now - dt.timedelta(days=30), now
        )
        week = sources.read_series(
            spec.kind, spec.metric, spec.params, _engine(engine), now - dt.timedelta(days=7), now
        )
    except sources.SourceError as exc:
        result["error"] = exc.localized()
        return result
    result["series"] = [
        {
            "at": s.at,
            "value": s.value,
            "low": s.expected.low if s.expected is not None else None,
            "high": s.expected.high if s.expected is not None else None,
            "series": rules.format_labels(s.labels),
        }
        for s in month
    ]
    result["fired_30d"] = _fired(spec, month)
    result["fired_7d"] = _fired(spec, week)
    return result


def _fired(spec: rules.RuleSpec, samples: list[Any]) -> list[dt.datetime]:
    """The moments ``spec`` would have fired over ``samples``, each series on its own."""
    by_series: dict[str, list[rules.Point]] = {}
    for s in samples:
        band = s.expected
        by_series.setdefault(rules.format_labels(s.labels), []).append(
            rules.Point(
                s.at,
                s.value,
                band.low if band is not None else None,
                band.high if band is not None else None,
            )
        )
    return sorted(at for points in by_series.values() for at in rules.backtest(spec, points))
