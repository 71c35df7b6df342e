"""Silences: time-boxed label matchers with a reason and an author. Alerts they match are still
recorded and shown (as silenced); no notification goes out for them while the silence lasts.
Creating and expiring a silence is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bi_app.alerts import rules
from bi_app.db.alert_models import OPEN_STATES, Alert, Silence
from bi_app.db.models import utcnow
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _

MAX_SILENCE = dt.timedelta(days=90)

WHAT = N_("The alert center")  # names the store in "... is unavailable right now"


class SilenceInvalid(ValueError):
    """A silence that cannot be saved; the message is shown."""


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def _actor_name(actor: Any) -> str:
    if actor is None:
        from bi_app.auth.context import request_user

        user = request_user()
        return user.username if user is not None else "unknown"
    return getattr(actor, "username", None) or str(actor)[:64]


def _as_dict(silence: Silence, now: dt.datetime, open_alerts: list[Alert]) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "matchers_text": rules.format_matchers(silence.matchers),
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "reason": silence.reason,
        "created_by": silence.created_by,
        "created_at": silence.created_at,
        "active": silence.starts_at <= now < silence.ends_at,
        "matching_open_alerts": sum(
            1 for a in open_alerts if rules.silence_matches(silence.matchers, a.labels or {})
        ),
    }


@unavailable_on_database_error(WHAT)
def list_silences(
    engine: Engine | None = None, now: dt.datetime | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Active and upcoming silences first, then the most recently ended."""
    now = now or utcnow()
    with Session(_engine(engine)) as session:
        silences = session.scalars(
            select(Silence).order_by(Silence.ends_at.desc()).limit(limit)
        ).all()
        open_alerts = session.scalars(select(Alert).where(Alert.state.in_(OPEN_STATES))).all()
        rows = [_as_dict(s, now, open_alerts) for s in silences]
    return sorted(rows, key=lambda r: (r["ends_at"] <= now, -r["ends_at"].timestamp()))


@unavailable_on_database_error(WHAT)
def create_silence(
    matchers: Any,
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
    reason: str,
    actor: Any = None,
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A silence from matchers (text such as ``team=ops, severity=~critical|emergency``, or a
    list of dicts), a start and an end (naive UTC) and a reason."""
    from bi_app.auth.users import audit

    now = now or utcnow()
    try:
        checked = rules.validate_matchers(matchers)
    except rules.MatchersInvalid as exc:
        raise SilenceInvalid(str(exc)) from None
    starts_at = starts_at or now
    if ends_at is None:
        raise SilenceInvalid(_("Give the silence an end."))
    if ends_at <= starts_at:
        raise SilenceInvalid(_("The silence must end after it starts."))
    if ends_at <= now:
        raise SilenceInvalid(_("The silence would end in the past."))
    if ends_at - starts_at > MAX_SILENCE:
        raise SilenceInvalid(_("A silence lasts at most 90 days."))
    text = (reason or "").strip()
    if not text:
        raise SilenceInvalid(_("Say why the alerts are silenced."))
    author = _actor_name(actor)
    with Session(_engine(engine)) as session:
        silence = Silence(
            matchers=checked,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=text[:2000],
            created_by=author,
            created_at=now,
        )
        session.add(silence)
        session.flush()
        audit(
            session,
            "silence.create",
            target=f"silence:{silence.id}",
            detail={
                "matchers": rules.format_matchers(checked),
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "reason": silence.reason,
            },
            actor=actor,
        )
        session.commit()
        open_alerts = session.scalars(select(Alert).where(Alert.state.in_(OPEN_STATES))).all()
        return _as_dict(silence, now, open_alerts)


@unavailable_on_database_error(WHAT)
def expire_silence(
    silence_id: int,
    actor: Any = None,
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
) -> None:
    """End a silence now; alerts it covered are notified at the next evaluation if they still
    fire."""
    from bi_app.auth.users import audit

    now = now or utcnow()
    with Session(_engine(engine)) as session:
        silence = session.get(Silence, silence_id)
        if silence is None:
            raise SilenceInvalid(_("There is no silence %(id)s.", id=silence_id))
        if silence.ends_at <= now:
            raise SilenceInvalid(_("This silence has ended already."))
        if silence.starts_at >= now:  # not started yet: it never will
            silence.starts_at = now - dt.timedelta(seconds=1)
        silence.ends_at = now
        audit(session, "silence.expire", target=f"silence:{silence.id}", actor=actor)
        session.commit()
