"""The evaluation job: read every enabled rule's data, move its alerts, escalate, respond.

Each rule is evaluated and committed on its own, so one rule whose data cannot be read (it goes
to the ``error`` state and raises a "rule cannot read its data" alert) never stops the others,
and never reads as "fine". Runs every ``BI_ALERT_EVAL_SECONDS`` on the scheduler's leader.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bi_app.alerts import lifecycle, sources
from bi_app.db.alert_models import AlertRule
from bi_app.db.models import utcnow
from bi_app.i18n import N_, _

log = logging.getLogger(__name__)
RULE_ERROR_NAME = N_("Rule cannot read its data: %(rule)s")


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def rule_error_key(rule_id: int) -> str:
    return f"rule-error:{rule_id}"


def evaluate_rules(
    engine: Engine | None = None,
    now: dt.datetime | None = None,
    rule_ids: list[int] | None = None,
    dispatch: bool = True,
) -> dict[str, Any]:
    """One evaluation pass over the enabled rules (or ``rule_ids``); returns counts for the job
    record: rules, errors, alerts that started firing, escalations, notifications sent at the
    end of the pass (``dispatch=False`` leaves them to the dispatcher job), and the duration."""
    engine = _engine(engine)
    now = now or utcnow()
    started = time.perf_counter()
    reader = sources.Reader(engine, now)
    summary = {"rules": 0, "errors": 0, "fired": 0, "escalated": 0, "responses": 0}
    responses: list[tuple[str, int, str]] = []
    # One transaction for the pass: the open alerts are read (and locked) once, and the pass's
    # changes and their notifications commit together. Reads of the rules' data go through the
    # reader's own connections, so a rule that cannot read its data only marks that rule.
    with Session(engine, expire_on_commit=False) as session:
        query = select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id)
        if rule_ids is not None:
            query = query.where(AlertRule.id.in_(rule_ids))
        rule_list = session.scalars(query).all()
        lifecycle.begin_pass(session, now)
        for rule in rule_list:
            summary["rules"] += 1
            try:
                samples = reader.current(rule.kind, rule.metric, rule.params or {})
            except sources.SourceError as exc:
                summary["errors"] += 1
                _mark_error(session, rule, str(exc), now)
                continue
            was_in_error = rule.status == "error"
            rule.status, rule.last_error, rule.evaluated_at = "ok", None, now
            values = [s.value for s in samples if s.value is not None]
            rule.last_value = values[0] if len(values) == 1 else rule.last_value
            fired = lifecycle.apply_evaluation(session, rule, samples, now)
            if was_in_error:
                lifecycle.clear_system_alert(session, rule_error_key(rule.id), now)
            summary["fired"] += len(fired)
            if rule.response_job:
                responses.extend((rule.response_job, a, rule.name) for a in fired)
        summary["escalated"] = lifecycle.escalate_due(session, now)
        lifecycle.end_pass(session)
        session.commit()
        responses = [(job, alert.id, name) for job, alert, name in responses]
    summary["dispatched"] = _dispatch(engine) if dispatch else 0
    for job_name, alert_id, rule_name in responses:
        summary["responses"] += _respond(engine, job_name, alert_id, rule_name, now)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _dispatch(engine: Engine) -> int:
    """Send what this pass wrote now instead of at the dispatcher's next run, so a notification
    reaches its channel within one evaluation interval of its condition (plus the send). The
    dispatcher's claim makes this safe next to the ``alert_dispatch`` job, which still does the
    retries and the messages held back for grouping."""
    from bi_app.alerts.dispatch import dispatch_pending

    try:
        return int(dispatch_pending(engine, now=utcnow())["sent"])
    except Exception:  # the dispatch job will try again; the evaluation itself succeeded
        log.exception("dispatch after the evaluation failed")
        return 0


def _mark_error(session: Session, rule: AlertRule, message: str, now: dt.datetime) -> None:
    rule.status, rule.last_error, rule.evaluated_at = "error", message[:2000], now
    log.warning("alert rule %s cannot read its data: %s", rule.name, message)
    with lifecycle._app_language():
        name = _(RULE_ERROR_NAME, rule=rule.name)
    lifecycle.raise_system_alert(
        session,
        rule_error_key(rule.id),
        name,
        "warning",
        {"alertname": "RuleError", "rule": rule.name},
        {"summary": message[:500], "rule_id": rule.id},
        now,
    )


def _respond(engine: Engine, job_name: str, alert_id: int, rule_name: str, now: dt.datetime) -> int:
    """Start a rule's automatic response (a named job, in the background through the job
    runner's own lock, audited as run by ``alert:<id>``) and record it on the alert with its
    run id; the run's outcome is the job run's (shown with the alert, and on Admin → Jobs)."""
    from bi_app.db.alert_models import Alert, AlertEvent

    try:
        from bi_app.jobs.status import run_job_now

        result = run_job_now(job_name, f"alert:{alert_id}", wait=False)
        detail = {
            "job": job_name,
            "run_id": result.get("run_id"),
            "status": result.get("status"),
            "error": result.get("error"),
        }
    except Exception as exc:  # a response failing must not stop the evaluation's record
        log.exception("automatic response %s of rule %s failed", job_name, rule_name)
        detail = {"job": job_name, "run_id": None, "status": "failed", "error": str(exc)[:500]}
    with Session(engine) as session:
        if session.get(Alert, alert_id) is not None:
            session.add(AlertEvent(alert_id=alert_id, at=utcnow(), kind="response", detail=detail))
            session.commit()
    return 1
