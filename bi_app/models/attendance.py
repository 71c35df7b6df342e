"""Attendance forecast for a planned event, from its configuration.

Training rows are the *completed* events with a capacity and at least one registration (a
campaign has neither). Each row's features come from :func:`features` applied to the event's
:class:`EventConfig`, the same function a forecast uses, so training and prediction agree:

``dow``, ``hour``      day of week (Monday 0) and hour of the start, in ``BI_TIMEZONE``
``season``             0 winter, 1 spring, 2 summer, 3 autumn (meteorological, by month)
``holiday``            1 when the start day is a public holiday of the business's country
                       (:func:`bi_app.forecasting.app_holiday_country`, the ``holidays`` package)
``kind_<kind>``        one-hot event type (the kinds seen in training)
``duration_hours``     ends_at - starts_at
``capacity``           seats (required: the forecast is a share of it)
``ticket_price``       the registration fee in the currency's minor units
``online``             1 when the venue is online (the demo's online events have no region and
                       the venue "Online")
``advance_days``       days of advance notice: starts_at minus the first sign of the event (its
                       first registration or first channel-statistics day); for a form, from
                       today unless given
``channels``           marketing channels: distinct channels in ``event_channel_stats``
``organizer_history``  the organizer's mean attendance rate (attended / capacity) over their
                       earlier completed events; without any, the typical organizer's (so it is
                       neutral)

Incentives (early-bird price, giveaway, raffle) are not recorded for past events, so the model
cannot learn their effect: they are a form input (default none) that only the recommendations
read, and their factor is always neutral.

Target: the attendance rate ``attended / capacity`` (attended = registrations with
``attended`` true, i.e. checked in); the forecast is that rate times the capacity. Model: a
a :class:`~sklearn.ensemble.RandomForestRegressor` (bagged trees: robust on a few dozen events,
no tuning to overfit the hold-out; compared on the demo with gradient boosting, which was no
better and slower). Interval: the 10 % / 90 % quantiles of out-of-fold residuals (split conformal,
nominal 80 %). Quality: the latest :data:`HOLDOUT_SHARE` of events by start date are held out,
the model is fitted on the earlier ones and scored on them (MAE in people, MAPE, coverage of the
interval), then the stored model is refitted on all rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, case, func, select

from bi_app.db.models import Event, EventChannelStat, EventRegistration, utcnow
from bi_app.i18n import _
from bi_app.models import registry

log = logging.getLogger(__name__)

MODEL_NAME = "event_attendance"
MIN_TRAIN_EVENTS = 12  # fewer completed events with registrations: no model (a clear message)
HOLDOUT_SHARE = 0.2
MIN_HOLDOUT = 3
INTERVAL_QUANTILES = (0.1, 0.9)
NEUTRAL_BAND = 0.02  # a factor that moves the forecast by less than 2 % is neutral
PEAK_SLOT_MINUTES = 15
PEAK_SLOTS = 3
INCENTIVES = ("early_bird", "giveaway", "raffle")
FOREST_PARAMS = {"n_estimators": 200, "min_samples_leaf": 2, "random_state": 42, "n_jobs": 1}
BASE_FEATURES = (
    "dow",
    "hour",
    "season",
    "holiday",
    "duration_hours",
    "capacity",
    "ticket_price",
    "online",
    "advance_days",
    "channels",
    "organizer_history",
)
# the inputs a factor is reported for, and the features each one moves
FACTOR_INPUTS = (
    "kind",
    "dow",
    "hour",
    "season",
    "holiday",
    "duration_hours",
    "capacity",
    "ticket_price",
    "online",
    "advance_days",
    "channels",
    "organizer_history",
    "incentives",
)
LIMITS = {"capacity": 1_000_000, "duration_hours": 24 * 60, "channels": 50, "advance_days": 3650}


class AttendanceError(Exception):
    """A forecast that cannot be made; the message is safe to show."""


class NoModelError(AttendanceError):
    """No attendance model has trained well yet."""


class ConfigError(AttendanceError):
    """Invalid form input: ``problems`` maps each field to a message safe to show."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class EventConfig:
    """A (planned) event's configuration. ``starts_at`` is the wall-clock start in the business
    time zone (naive); money in the currency's minor units."""

    starts_at: dt.datetime
    kind: str
    duration_hours: float
    capacity: int
    ticket_price: int = 0
    online: bool = False
    channels: int = 0
    incentives: tuple[str, ...] = ()
    organizer: str | None = None
    advance_days: float | None = None  # None: from today until the start


@dataclass(frozen=True)
class Factor:
    """How one input moves the forecast: ``direction`` positive / negative / neutral and the
    relative change against its typical value (``effect`` 0.1 = 10 % more people)."""

    key: str
    value: Any
    typical: Any
    direction: str
    effect: float


@dataclass(frozen=True)
class PeakSlot:
    starts: dt.datetime  # local wall-clock time
    ends: dt.datetime
    share: float  # of check-ins in past events of the kind


@dataclass(frozen=True)
class Recommendation:
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttendanceForecast:
    point: int
    lower: int
    upper: int
    capacity: int
    factors: list[Factor]
    peak_checkin: list[PeakSlot]
    recommendations: list[Recommendation]
    model_version: int
    trained_at: dt.datetime
    metrics: dict[str, Any]
    config: EventConfig


# --- features ----------------------------------------------------------------------------------


def season_of(month: int) -> int:
    """0 winter (Dec-Feb), 1 spring, 2 summer, 3 autumn."""
    return (month % 12) // 3


def is_holiday(day: dt.date, country: str) -> bool:
    import holidays

    try:
        return day in holidays.country_holidays(country, years=day.year)
    except (NotImplementedError, KeyError):
        return False


def features(
    config: EventConfig,
    kinds: list[str],
    organizer_history: float | None,
    country: str,
    today: dt.date | None = None,
) -> dict[str, float]:
    """The model's features of one configuration (see the module's text)."""
    starts = config.starts_at
    advance = config.advance_days
    if advance is None:
        advance = max((starts.date() - (today or dt.date.today())).days, 0)
    row = {
        "dow": float(starts.weekday()),
        "hour": float(starts.hour),
        "season": float(season_of(starts.month)),
        "holiday": float(is_holiday(starts.date(), country)),
        "duration_hours": float(config.duration_hours),
        "capacity": float(config.capacity),
        "ticket_price": float(config.ticket_price),
        "online": float(bool(config.online)),
        "advance_days": float(advance),
        "channels": float(config.channels),
        "organizer_history": math.nan if organizer_history is None else float(organizer_history),
    }
    for kind in kinds:
        row[f"kind_{kind}"] = float(config.kind == kind)
    return row


def feature_names(kinds: list[str]) -> list[str]:
    return [*BASE_FEATURES, *(f"kind_{k}" for k in kinds)]


def matrix(rows: list[dict[str, float]], kinds: list[str], history_fill: float) -> np.ndarray:
    """The rows as the model's input; a missing organizer history becomes ``history_fill`` (the
    typical organizer's), so an organizer without history is neutral."""
    names = feature_names(kinds)
    x = np.array([[row[n] for n in names] for row in rows], dtype=np.float64)
    return np.nan_to_num(x, nan=history_fill)


# --- training data -----------------------------------------------------------------------------


def _local(moment: dt.datetime, tz: str) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def _is_online(venue: str | None, region: str | None) -> bool:
    return (venue or "").strip().lower() in ("online", "온라인") or (not region and bool(venue))


def history_events(engine: Engine, tz: str) -> pd.DataFrame:
    """One row per completed event with a capacity and registrations: its configuration,
    organizer, attended count and start (UTC), oldest first -- aggregated in SQL."""
    registrations = (
        select(
            EventRegistration.event_id.label("event_id"),
            func.count().label("registered"),
            func.sum(case((EventRegistration.attended.is_(True), 1), else_=0)).label("attended"),
            func.min(EventRegistration.registered_at).label("first_registration"),
        )
        .group_by(EventRegistration.event_id)
        .subquery()
    )
    channels = (
        select(
            EventChannelStat.event_id.label("event_id"),
            func.count(func.distinct(EventChannelStat.channel)).label("channels"),
            func.min(EventChannelStat.day).label("first_day"),
        )
        .group_by(EventChannelStat.event_id)
        .subquery()
    )
    query = (
        select(
            Event.id,
            Event.kind,
            Event.organizer,
            Event.starts_at,
            Event.ends_at,
            Event.venue,
            Event.region,
            Event.capacity,
            Event.ticket_price_cents,
            registrations.c.attended,
            registrations.c.first_registration,
            channels.c.channels,
            channels.c.first_day,
        )
        .join(registrations, registrations.c.event_id == Event.id)
        .outerjoin(channels, channels.c.event_id == Event.id)
        .where(Event.status == "completed", Event.capacity > 0)
        .order_by(Event.starts_at, Event.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    records = []
    for r in rows:
        records.append(
            {
                "event_id": r.id,
                "organizer": r.organizer,
                "starts_utc": r.starts_at,
                "attended": int(r.attended or 0),
                "config": config_of(
                    r.starts_at,
                    r.ends_at,
                    r.kind,
                    r.capacity,
                    r.ticket_price_cents,
                    r.venue,
                    r.region,
                    r.channels,
                    r.first_registration,
                    r.first_day,
                    r.organizer,
                    tz,
                ),
            }
        )
    return pd.DataFrame(
        records, columns=["event_id", "organizer", "starts_utc", "attended", "config"]
    )


def config_of(
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    kind: str,
    capacity: int | None,
    ticket_price_cents: int | None,
    venue: str | None,
    region: str | None,
    channels: int | None,
    first_registration: dt.datetime | None,
    first_channel_day: dt.date | None,
    organizer: str | None,
    tz: str,
    now: dt.datetime | None = None,
) -> EventConfig:
    """The :class:`EventConfig` of a stored event (times naive UTC as stored)."""
    firsts = [t for t in (first_registration,) if t is not None]
    if first_channel_day is not None:
        firsts.append(dt.datetime.combine(first_channel_day, dt.time()))
    announced = min(firsts) if firsts else (now or utcnow())
    return EventConfig(
        starts_at=_local(starts_at, tz),
        kind=kind,
        duration_hours=round((ends_at - starts_at).total_seconds() / 3600, 2),
        capacity=int(capacity or 0),
        ticket_price=int(ticket_price_cents or 0),
        online=_is_online(venue, region),
        channels=int(channels or 0),
        organizer=organizer,
        advance_days=max((starts_at - announced).total_seconds() / 86400, 0.0),
    )


def organizer_histories(events: pd.DataFrame) -> list[float | None]:
    """For each event (oldest first), its organizer's mean attendance rate over their earlier
    events of ``events``; None without any."""
    seen: dict[str, list[float]] = {}
    out: list[float | None] = []
    for organizer, attended, config in zip(
        events["organizer"], events["attended"], events["config"]
    ):
        past = seen.get(organizer)
        out.append(float(np.mean(past)) if past else None)
        seen.setdefault(organizer, []).append(attended / config.capacity)
    return out


def peak_profile(engine: Engine) -> dict[str, list[list[float]]]:
    """Per kind (and ``"*"`` for all), the :data:`PEAK_SLOTS` 15-minute slots relative to the
    start that held the most check-ins of completed events: ``[[offset_minutes, share], ...]``."""
    query = (
        select(Event.kind, Event.starts_at, EventRegistration.checked_in_at)
        .join(Event, Event.id == EventRegistration.event_id)
        .where(
            Event.status == "completed",
            EventRegistration.attended.is_(True),
            EventRegistration.checked_in_at.is_not(None),
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return {}
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["kind", "starts", "checked"])
    minutes = (
        pd.to_datetime(frame["checked"]) - pd.to_datetime(frame["starts"])
    ).dt.total_seconds() / 60
    frame["slot"] = (np.floor(minutes / PEAK_SLOT_MINUTES) * PEAK_SLOT_MINUTES).astype(int)
    profile = {}
    for kind, group in [("*", frame), *frame.groupby("kind")]:
        shares = group["slot"].value_counts(normalize=True).head(PEAK_SLOTS)
        profile[str(kind)] = [[int(s), round(float(v), 4)] for s, v in sorted(shares.items())]
    return profile


# --- fitting -----------------------------------------------------------------------------------


def _regressor():
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(**FOREST_PARAMS)


def _oof_residuals(x: np.ndarray, y: np.ndarray, folds: int = 5) -> np.ndarray:
    """Out-of-fold residuals (actual - predicted) of the rate: the interval's calibration."""
    order = np.random.default_rng(42).permutation(len(y))
    residuals = np.empty(len(y))
    for part in np.array_split(order, min(folds, len(y))):
        train = np.setdiff1d(order, part)
        residuals[part] = y[part] - _regressor().fit(x[train], y[train]).predict(x[part])
    return residuals


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[Any, tuple[float, float]]:
    residuals = _oof_residuals(x, y)
    low, high = (float(np.quantile(residuals, q)) for q in INTERVAL_QUANTILES)
    return _regressor().fit(x, y), (low, high)


def _holdout_metrics(
    x: np.ndarray, y: np.ndarray, capacity: np.ndarray, kinds_of: list[str]
) -> dict[str, Any]:
    """Fit on the earlier events, score on the latest :data:`HOLDOUT_SHARE` (rows oldest first)."""
    n_test = max(MIN_HOLDOUT, round(len(y) * HOLDOUT_SHARE))
    split = len(y) - n_test
    model, (low, high) = _fit(x[:split], y[:split])
    rate = model.predict(x[split:])
    actual = y[split:] * capacity[split:]
    point = np.clip(rate, 0, None) * capacity[split:]
    lower = np.clip(rate + low, 0, None) * capacity[split:]
    upper = np.clip(rate + high, 0, None) * capacity[split:]
    # the naive baseline: the kind's mean rate (else the overall mean) over the earlier events
    train_kinds = np.array(kinds_of[:split])
    means = {k: float(y[:split][train_kinds == k].mean()) for k in set(kinds_of[:split])}
    base_rate = np.array([means.get(k, float(y[:split].mean())) for k in kinds_of[split:]])
    baseline = base_rate * capacity[split:]
    positive = actual > 0
    return {
        "holdout_events": int(n_test),
        "train_events": int(split),
        "mae": round(float(np.mean(np.abs(point - actual))), 2),
        "mape": round(float(np.mean(np.abs(point - actual)[positive] / actual[positive])), 4)
        if positive.any()
        else None,
        "coverage": round(float(np.mean((actual >= lower) & (actual <= upper))), 4),
        "baseline_mae": round(float(np.mean(np.abs(baseline - actual))), 2),
        "interval_nominal": INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0],
    }


def _typical(rows: list[dict[str, float]], kinds: list[str]) -> dict[str, Any]:
    """The typical value of each input (median; the most common kind, organizer history's
    median over events that had one): what a factor is compared with."""
    frame = pd.DataFrame(rows)
    typical: dict[str, Any] = {
        name: float(frame[name].median()) for name in BASE_FEATURES if name in frame
    }
    for name in ("dow", "hour", "season", "holiday", "online", "channels"):
        typical[name] = float(frame[name].mode().iloc[0])
    history = frame["organizer_history"].dropna()
    typical["organizer_history"] = float(history.median()) if len(history) else math.nan
    counts = {k: float(frame[f"kind_{k}"].sum()) for k in kinds}
    typical["kind"] = max(kinds, key=lambda k: counts[k])
    return typical


def training_rows(engine: Engine, tz: str, country: str) -> tuple[pd.DataFrame, list[dict]]:
    events = history_events(engine, tz)
    if events.empty:
        return events, []
    histories = organizer_histories(events)
    kinds = sorted({c.kind for c in events["config"]})
    rows = [
        features(config, kinds, history, country)
        for config, history in zip(events["config"], histories)
    ]
    return events, rows


def y_rates(events: pd.DataFrame) -> np.ndarray:
    """The target: each event's attendance rate, attended / capacity."""
    capacity = np.array([c.capacity for c in events["config"]], dtype=np.float64)
    return events["attended"].to_numpy(dtype=np.float64) / capacity


def _settings() -> tuple[str, str]:
    from bi_app.db.periods import business_timezone
    from bi_app.forecasting import app_holiday_country

    return business_timezone(), app_holiday_country()


def train(engine: Engine, trained_by: str = "job") -> registry.VersionInfo:
    """Fit the attendance model on every completed event and store it as a new version
    (activated unless worse than the active one; stored as failed with too few events)."""
    tz, country = _settings()
    with engine.connect() as conn:
        oldest, newest = conn.execute(
            select(func.min(Event.starts_at), func.max(Event.starts_at)).where(
                Event.status == "completed"
            )
        ).one()
    training = registry.Training(
        data_from=oldest,
        data_to=newest,
        features=list(BASE_FEATURES),
        params=dict(FOREST_PARAMS),
        trained_by=trained_by,
        quality_metric="mae",
        higher_is_better=False,
    )
    try:
        events, rows = training_rows(engine, tz, country)
        if len(rows) < MIN_TRAIN_EVENTS:
            raise AttendanceError(
                _(
                    "Too few completed events to train an attendance forecast: %(count)s "
                    "(at least %(needed)s with a capacity and registrations are needed).",
                    count=len(rows),
                    needed=MIN_TRAIN_EVENTS,
                )
            )
        kinds = sorted({c.kind for c in events["config"]})
        fill = _typical(rows, kinds)["organizer_history"]
        fill = float(np.mean(y_rates(events))) if math.isnan(fill) else fill
        x = matrix(rows, kinds, fill)
        capacity = np.array([c.capacity for c in events["config"]], dtype=np.float64)
        y = y_rates(events)
        kinds_of = [c.kind for c in events["config"]]
        metrics = _holdout_metrics(x, y, capacity, kinds_of)
        started = time.perf_counter()
        model, (low, high) = _fit(x, y)
        metrics["fit_seconds"] = round(time.perf_counter() - started, 3)
        metrics["rows"] = len(y)
        rates = pd.DataFrame({"organizer": events["organizer"], "rate": y})
        organizers = {
            str(name): [round(float(g["rate"].mean()), 4), len(g)]
            for name, g in rates.groupby("organizer")
        }
        params = {
            **FOREST_PARAMS,
            "kinds": kinds,
            "features": feature_names(kinds),
            "residual_quantiles": [round(low, 5), round(high, 5)],
            "typical": {**_typical(rows, kinds), "organizer_history": fill},
            "history_fill": fill,
            "organizers": organizers,
            "peak_checkin": peak_profile(engine),
            "holiday_country": country,
            "timezone": tz,
        }
    except AttendanceError as exc:  # too few events: stored as failed, the previous model stays
        log.warning("training %s failed: %s", MODEL_NAME, exc)
        return registry.record_failure(engine, MODEL_NAME, "skops", training, str(exc))
    except Exception as exc:  # stored and audited: a failed training keeps the previous model
        log.exception("training %s failed", MODEL_NAME)
        return registry.record_failure(engine, MODEL_NAME, "skops", training, str(exc))
    training = replace(training, features=feature_names(kinds), params=params)
    return registry.save(engine, MODEL_NAME, model, "skops", training, metrics)


def training_job(engine: Engine) -> dict[str, Any]:
    """Scheduled: retrain the attendance forecast on every completed event."""
    info = train(engine)
    return {
        "version": info.version,
        "status": info.status,
        "active": info.active,
        "mae": info.metrics.get("mae"),
        "error": info.error,
    }


def evaluate(engine: Engine) -> dict[str, Any]:
    """Train (stored like any training) and return its hold-out figures for ``bi-app evaluate``."""
    info = train(engine, trained_by="evaluate")
    if info.status == "failed":
        raise registry.ModelError(info.error or "training failed")
    keys = (
        "rows",
        "train_events",
        "holdout_events",
        "mae",
        "mape",
        "coverage",
        "interval_nominal",
        "baseline_mae",
        "fit_seconds",
    )
    return {
        "version": info.version,
        "status": info.status,
        **{k: info.metrics.get(k) for k in keys},
    }


# --- prediction --------------------------------------------------------------------------------


def _direction(effect: float) -> str:
    if effect > NEUTRAL_BAND:
        return "positive"
    if effect < -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def _attendance(
    model: Any, rows: list[dict[str, float]], kinds: list[str], fill: float
) -> np.ndarray:
    rates = np.clip(model.predict(matrix(rows, kinds, fill)), 0, None)
    return rates * np.array([row["capacity"] for row in rows])


def explain(
    model: Any, row: dict[str, float], config: EventConfig, params: dict[str, Any]
) -> list[Factor]:
    """Each input's push: the forecast with the input at its typical value, against the
    forecast itself (ratio - 1; within +-:data:`NEUTRAL_BAND`: neutral)."""
    kinds, typical = list(params["kinds"]), dict(params["typical"])
    variants, keys = [], []
    for key in FACTOR_INPUTS:
        if key == "incentives":
            continue
        variant = dict(row)
        if key == "kind":
            for kind in kinds:
                variant[f"kind_{kind}"] = float(kind == typical["kind"])
        else:
            variant[key] = float(typical[key])
        variants.append(variant)
        keys.append(key)
    values = _attendance(model, [row, *variants], kinds, float(params["history_fill"]))
    base, others = values[0], values[1:]
    factors = []
    for key, other in zip(keys, others):
        effect = float(base / other - 1) if other > 0 else (0.0 if base <= 0 else 1.0)
        value = config.kind if key == "kind" else row[key]
        factors.append(Factor(key, value, typical[key], _direction(effect), round(effect, 4)))
    factors.append(Factor("incentives", list(config.incentives), [], "neutral", 0.0))
    return factors


def peak_slots(config: EventConfig, profile: dict[str, list[list[float]]]) -> list[PeakSlot]:
    slots = profile.get(config.kind) or profile.get("*") or []
    return [
        PeakSlot(
            config.starts_at + dt.timedelta(minutes=offset),
            config.starts_at + dt.timedelta(minutes=offset + PEAK_SLOT_MINUTES),
            float(share),
        )
        for offset, share in slots
    ]


def recommend(
    point: int, upper: int, config: EventConfig, factors: list[Factor], advance_days: float
) -> list[Recommendation]:
    """Plain rules from the forecast, the capacity and the factors."""
    by_key = {f.key: f for f in factors}
    out: list[Recommendation] = []
    capacity = config.capacity
    if point >= 0.95 * capacity or upper > capacity:
        out.append(Recommendation("over_capacity", {"capacity": capacity}))
    elif point < 0.5 * capacity:
        out.append(Recommendation("low_fill", {"share": round(point / capacity * 100)}))
    if advance_days < 14 or by_key["advance_days"].direction == "negative":
        out.append(Recommendation("announce_earlier", {"days": round(advance_days)}))
    if config.channels < 3 or by_key["channels"].direction == "negative":
        out.append(Recommendation("add_channel", {"channels": config.channels}))
    if config.ticket_price > 0 and by_key["ticket_price"].direction == "negative":
        out.append(Recommendation("review_fee"))
    if by_key["dow"].direction == "negative":
        out.append(Recommendation("other_day"))
    if by_key["hour"].direction == "negative":
        out.append(Recommendation("other_time"))
    if by_key["holiday"].value:
        out.append(Recommendation("holiday"))
    if not config.incentives and point < 0.8 * capacity:
        out.append(Recommendation("add_incentive"))
    if not out:
        out.append(Recommendation("on_track"))
    return out


def predict(
    config: EventConfig,
    model: Any,
    info: registry.VersionInfo,
    today: dt.date | None = None,
) -> AttendanceForecast:
    """The forecast of ``config`` with a loaded model and its stored metadata."""
    params = info.params
    kinds = list(params["kinds"])
    if config.kind not in kinds:
        raise AttendanceError(
            _(
                "No completed events of type %(kind)s to learn from: the forecast covers "
                "%(kinds)s.",
                kind=config.kind.replace("_", " "),
                kinds=", ".join(k.replace("_", " ") for k in kinds),
            )
        )
    if config.capacity <= 0:
        raise AttendanceError(_("The forecast needs the event's capacity."))
    history = params.get("organizers", {}).get(config.organizer or "")
    row = features(config, kinds, history[0] if history else None, params["holiday_country"], today)
    rate = float(
        np.clip(model.predict(matrix([row], kinds, float(params["history_fill"])))[0], 0, None)
    )
    low, high = params["residual_quantiles"]
    capacity = config.capacity
    point = round(rate * capacity)
    lower = round(max(rate + low, 0.0) * capacity)
    upper = round(max(rate + high, 0.0) * capacity)
    factors = explain(model, row, config, params)
    return AttendanceForecast(
        point=point,
        lower=min(lower, point),
        upper=max(upper, point),
        capacity=capacity,
        factors=factors,
        peak_checkin=peak_slots(config, params.get("peak_checkin", {})),
        recommendations=recommend(point, upper, config, factors, row["advance_days"]),
        model_version=info.version,
        trained_at=info.trained_at,
        metrics=dict(info.metrics),
        config=config,
    )


# --- form input --------------------------------------------------------------------------------


def _number(raw: Any) -> float | None:
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return math.nan
    return value


def parse_config(
    starts: Any,
    kind: Any,
    duration_hours: Any,
    capacity: Any,
    fee: Any,
    online: Any,
    channels: Any,
    incentives: Any,
    organizer: Any,
    advance_days: Any,
    currency: str,
) -> EventConfig:
    """The form's raw values as an :class:`EventConfig`; :class:`ConfigError` names each
    invalid field. ``starts`` is the local start as ``YYYY-MM-DD HH:MM``; ``fee`` is in the
    currency's major unit; ``advance_days`` empty means from today."""
    from bi_app.i18n import currency_decimals

    problems: dict[str, str] = {}
    starts_at = None
    try:
        starts_at = dt.datetime.strptime(str(starts or "").strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        problems["starts_at"] = _("Start: a date and time as YYYY-MM-DD HH:MM.")
    if not isinstance(kind, str) or not kind:
        problems["kind"] = _("Event type: choose one.")

    def whole(name: str, raw: Any, low: float, message: str, required: bool = True) -> float | None:
        value = _number(raw)
        if value is None and not required:
            return None
        if value is None or math.isnan(value) or value < low or value > LIMITS.get(name, 1e12):
            problems[name] = message
            return None
        return value

    duration = whole("duration_hours", duration_hours, 0.25, _("Duration: 0.25 to 1,440 hours."))
    seats = whole("capacity", capacity, 1, _("Capacity: a whole number of 1 or more."))
    if seats is not None and seats != int(seats):
        problems["capacity"] = _("Capacity: a whole number of 1 or more.")
    price = whole("ticket_price", fee, 0, _("Registration fee: 0 or more."), required=False)
    count = whole("channels", channels, 0, _("Marketing channels: a whole number from 0 to 50."))
    if count is not None and count != int(count):
        problems["channels"] = _("Marketing channels: a whole number from 0 to 50.")
    notice = whole(
        "advance_days", advance_days, 0, _("Advance notice: 0 to 3,650 days."), required=False
    )
    chosen = tuple(sorted(i for i in (incentives or []) if i in INCENTIVES))
    if problems:
        raise ConfigError(problems)
    return EventConfig(
        starts_at=starts_at,
        kind=kind,
        duration_hours=float(duration),
        capacity=int(seats),
        ticket_price=round((price or 0) * 10 ** currency_decimals(currency)),
        online=bool(online),
        channels=int(count),
        incentives=chosen,
        organizer=organizer if isinstance(organizer, str) and organizer else None,
        advance_days=notice,
    )


# --- for the pages: services that find their own engine ----------------------------------------


def _default_engine() -> Engine:
    from bi_app.extensions import db

    return db.require_engine()


def _loaded() -> tuple[Any, registry.VersionInfo]:
    loaded = registry.load_active(_default_engine(), MODEL_NAME)
    if loaded is None:
        raise NoModelError(
            _(
                "No attendance model has been trained yet: it trains in the background once "
                "there are enough completed events."
            )
        )
    return loaded


def forecast(config: EventConfig) -> AttendanceForecast:
    """:func:`predict` with the app's active model (:class:`NoModelError` without one)."""
    model, info = _loaded()
    return predict(config, model, info)


def form_choices() -> dict[str, list[str]]:
    """The form's choices: the event types the active model knows and every organizer. Fails
    open (empty lists, logged): the form then says what is missing when submitted."""
    from bi_app.data import events

    choices: dict[str, list[str]] = {"kinds": [], "organizers": []}
    try:
        loaded = registry.load_active(_default_engine(), MODEL_NAME)
        if loaded is not None:
            choices["kinds"] = list(loaded[1].params["kinds"])
        choices["organizers"] = list(events.organizers())
    except Exception:
        log.exception("attendance form choices unavailable")
    return choices


def forecast_for_event(event_id: int) -> AttendanceForecast | None:
    """The forecast of a planned event from its stored configuration; None when the event is
    not planned (or does not exist). Raises :class:`AttendanceError` when it cannot be made."""
    from bi_app.data import events

    inputs = events.forecast_inputs(event_id)
    if inputs is None or inputs["status"] != "planned":
        return None
    from bi_app.db.periods import business_timezone

    config = config_of(
        inputs["starts_at"],
        inputs["ends_at"],
        inputs["kind"],
        inputs["capacity"],
        inputs["ticket_price_cents"],
        inputs["venue"],
        inputs["region"],
        inputs["channels"],
        inputs["first_registration"],
        inputs["first_channel_day"],
        inputs["organizer"],
        business_timezone(),
    )
    if config.capacity <= 0:
        raise AttendanceError(_("The forecast needs the event's capacity; this event has none."))
    return forecast(config)


__all__ = [
    "AttendanceError",
    "AttendanceForecast",
    "ConfigError",
    "EventConfig",
    "Factor",
    "NoModelError",
    "PeakSlot",
    "Recommendation",
    "evaluate",
    "forecast",
    "forecast_for_event",
    "form_choices",
    "parse_config",
    "predict",
    "train",
    "training_job",
]
