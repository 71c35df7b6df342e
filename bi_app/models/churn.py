"""Customer churn: features as of a cutoff, a time-based hold-out, training, scoring, evaluation.

What "churned" means here: a customer who has visited before a cutoff date churns when they make
**no visit in the** :data:`CHURN_DAYS` **(60) days after it** -- two months of silence, twice the
default "reactivation needed" rule of :mod:`bi_app.analytics.churn` (30 days), long enough that a
monthly shopper who skips one month is not counted as lost. The probability on the Customers
page is the classifier's estimate of exactly that, as of the scoring time.

Features (as of a cutoff ``T``; only visits and orders strictly before ``T``) come from one SQL
statement that groups visits and revenue orders by customer (never every order in pandas); its
per-customer rows are read :data:`READ_BATCH` at a time. Customers with no visit before ``T`` are
not scored. :data:`MODEL_FEATURES`:

``recency_days``       days since the last visit
``visits``             visits before ``T`` (frequency); ``visits_30``/``_90``/``_365`` in the
                       last 30 / 90 / 365 days
``avg_interval_days``  (last visit - first visit) / (visits - 1); missing with one visit
``recency_ratio``      recency_days / avg_interval_days (how overdue against their own rhythm)
``tenure_days``        days since the customer was created
``active_span_days``   last visit - first visit
``orders``, ``orders_90``  revenue orders before ``T`` / in its last 90 days
``log_spend``, ``log_spend_90``  log1p of the revenue spend (minor units), all / last 90 days
``order_recency_days`` days since the last revenue order (missing without one)
``segment``            0 new, 1 growing, 2 loyal, 3 VIP (the business's segment thresholds)

Hold-out (time-based, no look-ahead): with ``end`` the newest visit and ``H`` = CHURN_DAYS,
the test cutoff is ``T2 = end - H`` (labels from visits in ``[T2, end)``) and training uses the
cutoffs ``T1 = T2 - H`` and :data:`EXTRA_CUTOFFS` more, each :data:`CUTOFF_STEP_DAYS` earlier
(labels end by ``T2``, so no training label sees the test window). The test population is the
customers active (a visit) in the :data:`ACTIVE_DAYS` before ``T2``: long-gone customers are easy
and would flatter the scores. The metrics are ROC AUC and the precision among the top 10 % of
probabilities, with the base rate (share churned) for comparison. The stored model is then refit
on the cutoffs ending at ``T2`` (the latest fully labelled one) and scores every customer with a
visit as of now (or the newest visit, if the data runs ahead of the clock).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, case, delete, func, insert, select

from bi_app.analytics.churn import next_expected_visit
from bi_app.analytics.segmentation import SegmentThresholds
from bi_app.db.churn_models import ChurnScore
from bi_app.db.models import REVENUE_STATUSES, Customer, Order, Visit, utcnow
from bi_app.models import registry

log = logging.getLogger(__name__)

MODEL_NAME = "customer_churn"
CHURN_DAYS = 60
ACTIVE_DAYS = 365  # the evaluated population: a visit in the year before the cutoff
EXTRA_CUTOFFS = 3  # training stacks this many earlier cutoffs too (more rows, other seasons)
CUTOFF_STEP_DAYS = 30
READ_BATCH = 20_000  # per-customer feature rows read at a time
WRITE_BATCH = 5_000  # scores written per statement
TOP_SHARE = 0.1  # "top decile"
MIN_ROWS = 50
MODEL_FEATURES = (
    "recency_days",
    "visits",
    "visits_30",
    "visits_90",
    "visits_365",
    "avg_interval_days",
    "recency_ratio",
    "tenure_days",
    "active_span_days",
    "orders",
    "orders_90",
    "log_spend",
    "log_spend_90",
    "order_recency_days",
    "segment",
)
HGB_PARAMS = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "random_state": 42,
}
SEGMENT_CODES = {"new": 0, "growing": 1, "loyal": 2, "vip": 3}
_RAW = (
    "customer_id",
    "created_at",
    "visits",
    "first_visit",
    "last_visit",
    "visits_30",
    "visits_90",
    "visits_365",
    "orders",
    "spend_cents",
    "orders_90",
    "spend_90_cents",
    "last_order",
)
_DAY = np.timedelta64(1, "D")


# --- features and labels ----------------------------------------------------------------------


def _since(column: Any, start: dt.datetime) -> Any:
    return func.sum(case((column >= start, 1), else_=0))


def raw_query(cutoff: dt.datetime) -> Any:
    """One row per customer with a visit before ``cutoff``: visit and revenue-order aggregates
    (two ``GROUP BY customer_id``), joined to the customer's creation time."""
    v, o = Visit.__table__, Order.__table__
    days = {n: cutoff - dt.timedelta(days=n) for n in (30, 90, 365)}
    visits = (
        select(
            v.c.customer_id,
            func.count().label("visits"),
            func.min(v.c.visited_at).label("first_visit"),
            func.max(v.c.visited_at).label("last_visit"),
            _since(v.c.visited_at, days[30]).label("visits_30"),
            _since(v.c.visited_at, days[90]).label("visits_90"),
            _since(v.c.visited_at, days[365]).label("visits_365"),
        )
        .where(v.c.visited_at < cutoff)
        .group_by(v.c.customer_id)
        .subquery("v")
    )
    orders = (
        select(
            o.c.customer_id,
            func.count().label("orders"),
            func.sum(o.c.total_cents).label("spend_cents"),
            _since(o.c.ordered_at, days[90]).label("orders_90"),
            func.sum(case((o.c.ordered_at >= days[90], o.c.total_cents), else_=0)).label(
                "spend_90_cents"
            ),
            func.max(o.c.ordered_at).label("last_order"),
        )
        .where(o.c.ordered_at < cutoff, o.c.status.in_(REVENUE_STATUSES))
        .group_by(o.c.customer_id)
        .subquery("o")
    )
    return (
        select(
            visits.c.customer_id,
            Customer.created_at,
            visits.c.visits,
            visits.c.first_visit,
            visits.c.last_visit,
            visits.c.visits_30,
            visits.c.visits_90,
            visits.c.visits_365,
            func.coalesce(orders.c.orders, 0),
            func.coalesce(orders.c.spend_cents, 0),
            func.coalesce(orders.c.orders_90, 0),
            func.coalesce(orders.c.spend_90_cents, 0),
            orders.c.last_order,
        )
        .select_from(visits)
        .join(Customer, Customer.id == visits.c.customer_id)
        .outerjoin(orders, orders.c.customer_id == visits.c.customer_id)
        .order_by(visits.c.customer_id)
    )


def raw_batches(
    engine: Engine, cutoff: dt.datetime, batch: int = READ_BATCH
) -> Iterator[pd.DataFrame]:
    """:func:`raw_query`'s rows, ``batch`` at a time (streamed: never every customer at once
    in the driver)."""
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            raw_query(cutoff)
        )
        for part in result.partitions(batch):
            yield pd.DataFrame([tuple(r) for r in part], columns=list(_RAW))


def _days(later: Any, earlier: pd.Series) -> np.ndarray:
    delta = (later - pd.to_datetime(earlier)).to_numpy(dtype="timedelta64[ns]")
    return delta / _DAY


def derive(raw: pd.DataFrame, cutoff: dt.datetime, t: SegmentThresholds) -> pd.DataFrame:
    """:data:`MODEL_FEATURES` (indexed by customer id) and ``last_visit``/``avg_interval_days``
    for the next expected visit, from :func:`raw_query`'s columns."""
    at = pd.Timestamp(cutoff)
    visits = raw["visits"].astype(np.float64).to_numpy()
    recency = _days(at, raw["last_visit"])
    span = _days(pd.to_datetime(raw["last_visit"]), raw["first_visit"])
    with np.errstate(divide="ignore", invalid="ignore"):
        interval = np.where(visits > 1, span / np.maximum(visits - 1, 1), np.nan)
        ratio = np.where(interval > 0, recency / interval, np.nan)
    spend = raw["spend_cents"].astype(np.float64).to_numpy()
    last_order = pd.to_datetime(raw["last_order"])
    order_recency = np.where(last_order.isna(), np.nan, _days(at, last_order.fillna(at)))
    segment = np.select(
        [
            spend >= t.vip_min_spend_cents,
            visits <= t.new_max_visits,
            visits <= t.growing_max_visits,
        ],
        [SEGMENT_CODES["vip"], SEGMENT_CODES["new"], SEGMENT_CODES["growing"]],
        default=SEGMENT_CODES["loyal"],
    )
    frame = pd.DataFrame(
        {
            "recency_days": recency,
            "visits": visits,
            "visits_30": raw["visits_30"].astype(np.float64).to_numpy(),
            "visits_90": raw["visits_90"].astype(np.float64).to_numpy(),
            "visits_365": raw["visits_365"].astype(np.float64).to_numpy(),
            "avg_interval_days": interval,
            "recency_ratio": ratio,
            "tenure_days": np.maximum(_days(at, raw["created_at"]), 0.0),
            "active_span_days": span,
            "orders": raw["orders"].astype(np.float64).to_numpy(),
            "orders_90": raw["orders_90"].astype(np.float64).to_numpy(),
            "log_spend": np.log1p(np.maximum(spend, 0.0)),
            "log_spend_90": np.log1p(
                np.maximum(raw["spend_90_cents"].astype(np.float64).to_numpy(), 0.0)
            ),
            "order_recency_days": order_recency,
            "segment": segment.astype(np.float64),
        },
        index=pd.Index(raw["customer_id"].astype(np.int64).to_numpy(), name="customer_id"),
    )
    frame["last_visit"] = pd.to_datetime(raw["last_visit"]).to_numpy()
    return frame


def _thresholds(engine: Engine) -> SegmentThresholds:
    from bi_app.data import settings

    with engine.connect() as conn:
        return SegmentThresholds.from_settings(settings.settings_in(conn))


def features_as_of(
    engine: Engine, cutoff: dt.datetime, t: SegmentThresholds | None = None
) -> pd.DataFrame:
    """:func:`derive` for every customer with a visit before ``cutoff``."""
    t = t or _thresholds(engine)
    parts = [derive(raw, cutoff, t) for raw in raw_batches(engine, cutoff)]
    if not parts:
        return derive(pd.DataFrame(columns=list(_RAW)), cutoff, t)
    return pd.concat(parts)


def returned(engine: Engine, cutoff: dt.datetime, days: int = CHURN_DAYS) -> set[int]:
    """The customers with a visit in ``[cutoff, cutoff + days)``."""
    v = Visit.__table__
    query = (
        select(v.c.customer_id)
        .where(v.c.visited_at >= cutoff, v.c.visited_at < cutoff + dt.timedelta(days=days))
        .group_by(v.c.customer_id)
    )
    with engine.connect() as conn:
        return {int(c) for c in conn.scalars(query)}


def label(features: pd.DataFrame, came_back: set[int]) -> np.ndarray:
    """1 for each customer of ``features`` who did not come back (churned), else 0."""
    return (~features.index.isin(list(came_back))).astype(np.int64)


def active(features: pd.DataFrame, days: int = ACTIVE_DAYS) -> pd.DataFrame:
    """The customers of ``features`` with a visit in the ``days`` before the cutoff."""
    return features[features["recency_days"] <= days]


def holdout_cutoffs(end: dt.datetime, days: int = CHURN_DAYS) -> dict[str, Any]:
    """The hold-out's cutoffs for data ending at ``end``: ``test`` (T2 = end - days), ``train``
    (T1 = T2 - days and the :data:`EXTRA_CUTOFFS` before it) and ``final`` (T2 and the cutoffs
    before it: what the stored model is refit on)."""
    test = end - dt.timedelta(days=days)
    first = test - dt.timedelta(days=days)
    step = dt.timedelta(days=CUTOFF_STEP_DAYS)
    return {
        "test": test,
        "train": [first - i * step for i in range(EXTRA_CUTOFFS + 1)],
        "final": [test - i * step for i in range(EXTRA_CUTOFFS + 1)],
    }


def labelled(
    engine: Engine, cutoffs: list[dt.datetime], t: SegmentThresholds
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of the active customers at each cutoff, stacked, and their churn labels."""
    frames, labels = [], []
    for cutoff in cutoffs:
        features = active(features_as_of(engine, cutoff, t))
        frames.append(features)
        labels.append(label(features, returned(engine, cutoff)))
    return pd.concat(frames), np.concatenate(labels)


def matrix(features: pd.DataFrame) -> np.ndarray:
    return features.loc[:, list(MODEL_FEATURES)].to_numpy(dtype=np.float64)


# --- training ---------------------------------------------------------------------------------


def top_precision(y: np.ndarray, p: np.ndarray, share: float = TOP_SHARE) -> float:
    """The share of churners among the ``share`` of rows with the highest probabilities."""
    k = max(1, round(len(p) * share))
    top = np.argsort(-p, kind="stable")[:k]
    return float(np.mean(y[top]))


def quality(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC AUC, top-decile precision and the base rate of a hold-out."""
    from sklearn.metrics import roc_auc_score

    return {
        "auc": round(float(roc_auc_score(y, p)), 4),
        "top_decile_precision": round(top_precision(y, p), 4),
        "base_rate": round(float(np.mean(y)), 4),
    }


def _check(y: np.ndarray, what: str) -> None:
    if len(y) < MIN_ROWS:
        raise ValueError(f"too few customers to {what}: {len(y)} (need {MIN_ROWS})")
    if len(set(y.tolist())) < 2:
        raise ValueError(f"cannot {what}: every customer has the same outcome")


def fit(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(**HGB_PARAMS).fit(x, y)


def _data_end(engine: Engine) -> tuple[dt.datetime | None, dt.datetime | None]:
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(Visit.visited_at), func.max(Visit.visited_at))
        ).one()
    return first, last


def train(engine: Engine, trained_by: str = "job") -> registry.VersionInfo:
    """Measure the classifier on the time-based hold-out, refit it on the latest labelled
    cutoffs and store it as a new version of :data:`MODEL_NAME` (active unless its hold-out AUC
    is worse than the active version's; stored as failed if anything raises)."""
    first, end = _data_end(engine)
    training = registry.Training(
        data_from=first,
        data_to=end,
        features=list(MODEL_FEATURES),
        params={**HGB_PARAMS, "churn_days": CHURN_DAYS, "active_days": ACTIVE_DAYS},
        trained_by=trained_by,
        quality_metric="auc",
    )
    try:
        if end is None:
            raise ValueError("no visits to train on")
        cuts = holdout_cutoffs(end)
        t = _thresholds(engine)
        train_x, train_y = labelled(engine, cuts["train"], t)
        test_x, test_y = labelled(engine, [cuts["test"]], t)
        _check(train_y, "train")
        _check(test_y, "test")
        probe = fit(matrix(train_x), train_y)
        metrics: dict[str, Any] = quality(test_y, probe.predict_proba(matrix(test_x))[:, 1])
        final_x, final_y = labelled(engine, cuts["final"], t)
        _check(final_y, "train")
        started = time.perf_counter()
        model = fit(matrix(final_x), final_y)
        metrics.update(
            {
                "fit_seconds": round(time.perf_counter() - started, 3),
                "rows_train": len(train_y),
                "rows_test": len(test_y),
                "rows_final": len(final_y),
                "holdout_from": cuts["test"].isoformat(timespec="seconds"),
                "holdout_to": end.isoformat(timespec="seconds"),
                "churn_days": CHURN_DAYS,
            }
        )
    except Exception as exc:  # stored and audited: a failed training keeps the previous model
        log.exception("training %s failed", MODEL_NAME)
        return registry.record_failure(engine, MODEL_NAME, "skops", training, str(exc))
    return registry.save(engine, MODEL_NAME, model, "skops", training, metrics)


# --- scoring ----------------------------------------------------------------------------------


def score_time(engine: Engine) -> dt.datetime | None:
    """Now, or just after the newest visit when the data runs ahead of the clock."""
    _first, end = _data_end(engine)
    if end is None:
        return None
    return max(utcnow(), end + dt.timedelta(seconds=1))


def _next_visits(features: pd.DataFrame) -> list[dt.date | None]:
    from bi_app.db.periods import local_date

    out = []
    for last, interval in zip(features["last_visit"], features["avg_interval_days"]):
        day = None if pd.isna(last) else local_date(pd.Timestamp(last).to_pydatetime())
        out.append(next_expected_visit(day, None if pd.isna(interval) else float(interval)))
    return out


def score_all(engine: Engine) -> dict[str, Any]:
    """Score every customer with a visit, as of :func:`score_time`, with the active model and
    replace all stored scores (one transaction; inserted :data:`WRITE_BATCH` rows at a time)."""
    loaded = registry.load_active(engine, MODEL_NAME)
    if loaded is None:
        return {"scored": 0, "reason": "no trained model"}
    model, info = loaded
    as_of = score_time(engine)
    if as_of is None:
        return {"scored": 0, "reason": "no visits"}
    started = time.perf_counter()
    t = _thresholds(engine)
    now = utcnow()
    scored = 0
    table = ChurnScore.__table__
    with engine.begin() as conn:
        conn.execute(delete(table))
        for raw in raw_batches(engine, as_of):
            features = derive(raw, as_of, t)
            probability = model.predict_proba(matrix(features))[:, 1]
            rows = [
                {
                    "customer_id": int(cid),
                    "probability": float(p),
                    "probability_ppm": round(float(p) * 1_000_000),
                    "next_expected_visit": nxt,
                    "model_version_id": info.id,
                    "scored_at": now,
                }
                for cid, p, nxt in zip(features.index, probability, _next_visits(features))
            ]
            for i in range(0, len(rows), WRITE_BATCH):
                conn.execute(insert(table), rows[i : i + WRITE_BATCH])
            scored += len(rows)
    from bi_app.data.cache import invalidate

    invalidate("customers")  # the Customers page shows the probabilities
    return {
        "scored": scored,
        "model_version": info.version,
        "as_of": as_of.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 3),
    }


def training_job(engine: Engine) -> dict[str, Any]:
    """Scheduled nightly: train a new version, then score every customer with the active one
    (the new version, or the previous one when the new training failed or was worse)."""
    info = train(engine)
    scores = score_all(engine)
    if not scores.get("scored"):
        from bi_app.data.cache import invalidate

        invalidate("customers")  # the page's model card tells a failed or rejected training
    return {
        "version": info.version,
        "status": info.status,
        "active": info.active,
        "auc": info.metrics.get("auc"),
        "scored": scores.get("scored", 0),
    }


def count_at_risk(engine: Engine | Connection, min_probability: float) -> int:
    """Customers whose stored churn probability is at least ``min_probability``: an alert
    metric (``engine`` may also be an open connection, as the alert sources hold one)."""
    query = (
        select(func.count())
        .select_from(ChurnScore)
        .where(ChurnScore.probability >= float(min_probability))
    )
    if isinstance(engine, Connection):
        return int(engine.scalar(query) or 0)
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def evaluate(engine: Engine) -> dict[str, Any]:
    """Train (as ``evaluate``) and return the hold-out figures: AUC, top-decile precision, base
    rate, rows and the hold-out window (stored with the version like every training)."""
    started = time.perf_counter()
    info = train(engine, trained_by="evaluate")
    if info.status == "failed":
        raise registry.ModelError(info.error or "training failed")
    return {
        "version": info.version,
        "status": info.status,
        "active": info.active,
        "seconds": round(time.perf_counter() - started, 3),
        **info.metrics,
    }


__all__ = [
    "CHURN_DAYS",
    "MODEL_FEATURES",
    "MODEL_NAME",
    "count_at_risk",
    "derive",
    "evaluate",
    "features_as_of",
    "holdout_cutoffs",
    "label",
    "quality",
    "score_all",
    "top_precision",
    "train",
    "training_job",
]
