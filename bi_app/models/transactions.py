"""Transaction anomaly detection: features, training, incremental scoring and evaluation.

Features are computed for a bounded batch of transactions (at most :data:`BATCH_SIZE`, taken in
id order) from the batch itself, the same accounts' transactions of the :data:`LOOKBACK_DAYS`
before it, and two grouped SQL aggregates for everything older (balance and counts) -- never by
loading every transaction. Each feature of a transaction uses only transactions *before* it
(ordered by ``occurred_at``, then id):

``amount``            |amount_cents| (``log_amount`` = log10(1 + amount))
``direction``         1 for a debit (money out), 0 for a credit
``hour``, ``dow``     hour of day (0-23) and day of week (Monday 0) in ``BI_TIMEZONE``
``hour_share``        share of the earlier transactions of the lookback within +-1 h of this
                      hour: of the same account and counterparty when they have at least
                      :data:`HOUR_PAIR_MIN_HISTORY`, else of the account
``days_since_prev``   days since the account's previous transaction (capped at the lookback)
``counterparty_count`` this counterparty's earlier transactions with the account, all time (0
                      for an unknown beneficiary)
``balance_before``, ``balance_share``  the account's balance before it (all time), and
                      amount / that balance (capped at 10; 10 when the balance is <= 0)
``usual_balance_share`` the mean balance_share of the earlier transactions of the same account,
                      kind and counterparty in the lookback; of the account and kind when the
                      pair has fewer than :data:`PAIR_MIN_HISTORY` (0 when that has too):
                      a payroll that always empties the account is usual
``velocity_1h``/``velocity_24h`` the account's transactions in the previous hour / 24 hours
``daily_rate``        the account's transactions a day over the lookback
``account_age_days``  days since the account's first transaction
``amount_z``          z-score of log10(amount) against the earlier transactions of the lookback
                      of the same account, kind and counterparty: their mean, their spread shrunk
                      towards the account and kind's (:data:`SPREAD_PRIOR`); against the account
                      and kind when the pair has fewer than :data:`PAIR_MIN_HISTORY`; the spread
                      floored at :data:`Z_STD_FLOOR`; 0 without history

The model is an :class:`~sklearn.ensemble.IsolationForest` over :data:`MODEL_FEATURES`, which
:func:`model_matrix` derives from these. The score thresholds of the levels are quantiles of
the training scores (:data:`LEVEL_QUANTILES`), never read from the demo's ground truth, which
only :func:`evaluate` reads.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, delete, func, select

from bi_app.analytics.anomaly import FactorRules, level_for, recommended_action, risk_factors
from bi_app.db.model_models import TransactionFinding
from bi_app.db.models import AppState, DemoAnomaly, Transaction, utcnow
from bi_app.db.periods import business_timezone
from bi_app.models import registry

log = logging.getLogger(__name__)

MODEL_NAME = "transactions_iforest"
BATCH_SIZE = 5_000
LOOKBACK_DAYS = 100
TRAIN_DAYS = 90
MIN_TRAIN_ROWS = 5_000  # fewer in TRAIN_DAYS: the training window reaches back to this many
SAMPLE_CAP = 200_000
TRAIN_BATCH_SIZE = 50_000  # training reads its window in larger (still bounded) batches
RUN_BUDGET_SECONDS = 200.0  # a scoring run stops after the batch that crosses this (the job's
# timeout is 280 s); the next run continues from the watermark
PAIR_MIN_HISTORY = 3
HOUR_PAIR_MIN_HISTORY = 20
SPREAD_PRIOR = 30.0  # weight (in transactions) of the account's spread in a pair's spread
Z_STD_FLOOR = 0.25  # log10: an amount 1.8x the usual is at least one standard deviation
WATERMARK_KEY = "transaction_scoring_watermark"
# What the forest reads: the features above turned into "how unusual for this account" measures
# (see :func:`model_matrix`), so a regular but rare pattern (a monthly payroll, a weekly move to
# cold storage) is not an outlier while a first payment to an unknown beneficiary is.
MODEL_FEATURES = (
    "amount_excess",
    "hour_rarity",
    "counterparty_novelty",
    "balance_drain",
    "velocity_excess",
    "direction",
)
CREDIT_WEIGHT = 0.5  # money coming in weighs half as much as money going out
# The levels are quantiles of the training scores: about 2 in 1,000 transactions are flagged
# (low), 1 in 1,000 medium, 1 in 2,000 high, 1 in 5,000 critical.
LEVEL_QUANTILES = {"low": 0.998, "medium": 0.999, "high": 0.9995, "critical": 0.9998}
IFOREST_PARAMS = {"n_estimators": 300, "max_samples": 4096, "random_state": 42}
_COLUMNS = (
    Transaction.id,
    Transaction.account_id,
    Transaction.counterparty_id,
    Transaction.kind,
    Transaction.amount_cents,
    Transaction.occurred_at,
)


# --- features ---------------------------------------------------------------------------------


def _frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=["id", "account_id", "counterparty_id", "kind", "amount_cents", "occurred_at"],
    )
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    frame["counterparty_id"] = frame["counterparty_id"].astype("Float64")
    return frame


def _window_sum(times: np.ndarray, values: np.ndarray, seconds: float) -> np.ndarray:
    """For each i (times sorted), the sum of ``values`` of the rows before i (by position) whose
    time lies within ``seconds`` before times[i]."""
    cumulative = np.concatenate([[0.0], np.cumsum(values, axis=0)]) if values.ndim == 1 else None
    if cumulative is None:
        cumulative = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    start = np.searchsorted(times, times - seconds, side="left")
    end = np.arange(len(times))
    return cumulative[end] - cumulative[start]


def _group_features(group: pd.DataFrame) -> pd.DataFrame:
    """Window features of one account's rows (sorted by time, then id)."""
    times = group["occurred_at"].to_numpy("datetime64[s]").astype(np.int64).astype(np.float64)
    n = len(group)
    ones = np.ones(n)
    lookback = LOOKBACK_DAYS * 86400.0
    out = pd.DataFrame(index=group.index)
    out["velocity_1h"] = _window_sum(times, ones, 3600.0)
    out["velocity_24h"] = _window_sum(times, ones, 86400.0)
    history = _window_sum(times, ones, lookback)
    out["daily_rate"] = history / LOOKBACK_DAYS
    previous = np.concatenate([[np.nan], times[:-1]])
    out["days_since_prev"] = np.minimum((times - previous) / 86400.0, LOOKBACK_DAYS)
    out["days_since_prev"] = out["days_since_prev"].fillna(LOOKBACK_DAYS)
    return out


def _hour_shares(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Share of each row's group's earlier rows of the lookback within +-1 h of its local hour
    (1 without history), and how many earlier rows that was."""
    share = np.ones(len(frame))
    count = np.zeros(len(frame))
    lookback = LOOKBACK_DAYS * 86400.0
    for _key, group in frame.groupby(keys, sort=False, dropna=False):
        times = group["occurred_at"].to_numpy("datetime64[s]").astype(np.int64).astype(np.float64)
        hours = group["hour"].to_numpy()
        n = len(group)
        onehot = np.zeros((n, 24))
        onehot[np.arange(n), hours] = 1.0
        per_hour = _window_sum(times, onehot, lookback)
        rows = np.arange(n)
        near = (
            per_hour[rows, hours]
            + per_hour[rows, (hours + 1) % 24]
            + per_hour[rows, (hours - 1) % 24]
        )
        history = per_hour.sum(axis=1)
        positions = frame.index.get_indexer(group.index)
        share[positions] = np.where(history > 0, near / np.maximum(history, 1), 1.0)
        count[positions] = history
    return share, count


def _moments(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, ...]:
    """Mean and variance of log_amount over each row's group's earlier rows of the lookback,
    and how many earlier rows that was."""
    mean = np.zeros(len(frame))
    var = np.zeros(len(frame))
    count = np.zeros(len(frame))
    lookback = LOOKBACK_DAYS * 86400.0
    for _key, group in frame.groupby(keys, sort=False, dropna=False):
        times = group["occurred_at"].to_numpy("datetime64[s]").astype(np.int64).astype(np.float64)
        values = group["log_amount"].to_numpy()
        n = _window_sum(times, np.ones(len(group)), lookback)
        total = _window_sum(times, values, lookback)
        squares = _window_sum(times, values * values, lookback)
        m = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
        positions = frame.index.get_indexer(group.index)
        mean[positions] = m
        var[positions] = np.maximum(
            np.divide(squares, n, out=np.zeros_like(total), where=n > 0) - m * m, 0.0
        )
        count[positions] = n
    return mean, var, count


def _amount_z(frame: pd.DataFrame) -> np.ndarray:
    """log-amount z-score against the same account, kind and counterparty: their mean, and their
    spread shrunk towards the account and kind's (a counterparty's few payments estimate their
    spread poorly); against the account and kind alone when the pair has too little history.
    The spread is floored at :data:`Z_STD_FLOOR`: a perfectly regular history must not turn a
    cent into a z of 1e9."""
    values = frame["log_amount"].to_numpy()
    pair_mean, pair_var, pair_n = _moments(frame, ["account_id", "kind", "counterparty_id"])
    kind_mean, kind_var, kind_n = _moments(frame, ["account_id", "kind"])
    shrunk = (pair_n * pair_var + SPREAD_PRIOR * kind_var) / (pair_n + SPREAD_PRIOR)
    pair_z = (values - pair_mean) / np.maximum(np.sqrt(shrunk), Z_STD_FLOOR)
    kind_z = (values - kind_mean) / np.maximum(np.sqrt(kind_var), Z_STD_FLOOR)
    return np.where(pair_n >= PAIR_MIN_HISTORY, pair_z, np.where(kind_n > 1, kind_z, 0.0))


def _usual(frame: pd.DataFrame, keys: list[str], column: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``column`` over each row's group's earlier rows of the lookback (NaN without
    any), and how many earlier rows that was."""
    mean = np.full(len(frame), np.nan)
    count = np.zeros(len(frame))
    lookback = LOOKBACK_DAYS * 86400.0
    for _key, group in frame.groupby(keys, sort=False, dropna=False):
        times = group["occurred_at"].to_numpy("datetime64[s]").astype(np.int64).astype(np.float64)
        n = _window_sum(times, np.ones(len(group)), lookback)
        total = _window_sum(times, group[column].to_numpy(np.float64), lookback)
        positions = frame.index.get_indexer(group.index)
        mean[positions] = np.divide(total, n, out=np.full_like(total, np.nan), where=n > 0)
        count[positions] = n
    return mean, count


def features_for(engine: Engine, targets: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
    """The features (see the module doc) of ``targets`` (rows of transactions: id, account_id,
    counterparty_id, amount_cents, occurred_at), indexed by transaction id."""
    if targets.empty:
        return pd.DataFrame(columns=["id", *MODEL_FEATURES])
    tz = tz or business_timezone()
    accounts = sorted(int(a) for a in targets["account_id"].unique())
    start = targets["occurred_at"].min().to_pydatetime() - dt.timedelta(days=LOOKBACK_DAYS)
    end = targets["occurred_at"].max().to_pydatetime()
    in_accounts = Transaction.account_id.in_(accounts)
    with engine.connect() as conn:
        context = conn.execute(
            select(*_COLUMNS).where(
                in_accounts, Transaction.occurred_at >= start, Transaction.occurred_at <= end
            )
        ).all()
        older = and_(in_accounts, Transaction.occurred_at < start)
        balances = dict(
            conn.execute(
                select(Transaction.account_id, func.sum(Transaction.amount_cents))
                .where(older)
                .group_by(Transaction.account_id)
            ).all()
        )
        first_seen = dict(
            conn.execute(
                select(Transaction.account_id, func.min(Transaction.occurred_at))
                .where(in_accounts)
                .group_by(Transaction.account_id)
            ).all()
        )
        pairs = {
            (a, c): n
            for a, c, n in conn.execute(
                select(Transaction.account_id, Transaction.counterparty_id, func.count())
                .where(older, Transaction.counterparty_id.is_not(None))
                .group_by(Transaction.account_id, Transaction.counterparty_id)
            ).all()
        }
    frame = _frame(context)
    frame = pd.concat([frame, targets[~targets["id"].isin(frame["id"])][frame.columns]])
    frame = frame.sort_values(["occurred_at", "id"], kind="stable").reset_index(drop=True)
    frame["amount"] = frame["amount_cents"].abs().astype(np.float64)
    frame["log_amount"] = np.log10(1.0 + frame["amount"])
    frame["direction"] = (frame["amount_cents"] < 0).astype(np.float64)
    by_account = frame.groupby("account_id", sort=False)
    base = frame["account_id"].map(lambda a: float(balances.get(a, 0) or 0))
    frame["balance_before"] = base + by_account["amount_cents"].cumsum() - frame["amount_cents"]
    known = frame["counterparty_id"].notna()
    pair_base = [
        float(pairs.get((int(a), int(c)), 0)) if k else 0.0
        for a, c, k in zip(frame["account_id"], frame["counterparty_id"].fillna(0), known)
    ]
    earlier = frame.groupby(["account_id", "counterparty_id"], sort=False).cumcount()
    frame["counterparty_count"] = np.where(known, np.asarray(pair_base) + earlier, 0.0)
    balance = frame["balance_before"].to_numpy(np.float64)
    frame["balance_share"] = np.where(
        balance > 0, np.minimum(frame["amount"] / np.maximum(balance, 1.0), 10.0), 10.0
    )
    windows = pd.concat([_group_features(g) for _a, g in frame.groupby("account_id", sort=False)])
    frame = frame.join(windows)
    opened = pd.to_datetime(frame["account_id"].map(first_seen))
    frame["account_age_days"] = (frame["occurred_at"] - opened).dt.total_seconds() / 86400.0
    local = frame["occurred_at"].dt.tz_localize("UTC").dt.tz_convert(tz)
    frame["hour"] = local.dt.hour
    frame["dow"] = local.dt.day_of_week
    pair_share, pair_n = _hour_shares(frame, ["account_id", "counterparty_id"])
    account_share, _n = _hour_shares(frame, ["account_id"])
    frame["hour_share"] = np.where(pair_n >= HOUR_PAIR_MIN_HISTORY, pair_share, account_share)
    frame["amount_z"] = _amount_z(frame)
    usual_share, share_n = _usual(frame, ["account_id", "kind", "counterparty_id"], "balance_share")
    kind_share, kind_n = _usual(frame, ["account_id", "kind"], "balance_share")
    frame["usual_balance_share"] = np.where(
        share_n >= PAIR_MIN_HISTORY,
        usual_share,
        np.where(kind_n >= PAIR_MIN_HISTORY, kind_share, 0.0),
    )
    wanted = frame[frame["id"].isin(targets["id"])].set_index("id")
    return wanted.loc[targets["id"].to_numpy()]


def model_matrix(features: pd.DataFrame) -> np.ndarray:
    """The detector's input (:data:`MODEL_FEATURES`) from :func:`features_for`'s columns.

    Every measure is 0 for the usual and grows with how unusual the transaction is for its own
    account; all are scaled by the account's maturity (how much of a lookback of history it
    has: an account's first weeks are not judged on norms it does not have yet):

    ``amount_excess``        max(amount_z, 0): only larger than usual counts
    ``hour_rarity``          -log10(hour_share + 0.01): 0 at a usual hour, 2 at a never-seen one
    ``counterparty_novelty`` 1 / (1 + counterparty_count)^2: 1 for a new or unknown one
    ``balance_drain``        debits: max(balance_share (<= 2) - usual_balance_share, 0)
    ``velocity_excess``      max(log1p(velocity_24h) - log1p(daily_rate), 0): a quiet day is
                             not unusual, a busy one is
    ``direction``            1 for a debit

    The first three weigh :data:`CREDIT_WEIGHT` for credits.
    """
    maturity = np.clip(features["account_age_days"].astype(np.float64) / LOOKBACK_DAYS, 0, 1)
    debit = features["direction"].astype(np.float64)
    weight = maturity * np.where(debit == 1.0, 1.0, CREDIT_WEIGHT)
    count = features["counterparty_count"].astype(np.float64)
    matrix = np.column_stack(
        [
            np.maximum(features["amount_z"].astype(np.float64), 0.0) * weight,
            -np.log10(features["hour_share"].astype(np.float64) + 0.01) * weight,
            1.0 / (1.0 + count) ** 2 * weight,
            np.maximum(
                np.minimum(features["balance_share"].astype(np.float64), 2.0)
                - features["usual_balance_share"].astype(np.float64),
                0.0,
            )
            * debit
            * maturity,
            np.maximum(
                np.log1p(features["velocity_24h"].astype(np.float64))
                - np.log1p(features["daily_rate"].astype(np.float64)),
                0.0,
            )
            * maturity,
            debit,
        ]
    )
    return matrix


def _batches(
    engine: Engine,
    after_id: int = 0,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[pd.DataFrame]:
    """Transactions with id > ``after_id`` (optionally within a time window), ``batch_size`` at
    a time in id order."""
    last = after_id
    while True:
        query = select(*_COLUMNS).where(Transaction.id > last)
        if since is not None:
            query = query.where(Transaction.occurred_at >= since)
        if until is not None:
            query = query.where(Transaction.occurred_at <= until)
        with engine.connect() as conn:
            rows = conn.execute(query.order_by(Transaction.id).limit(batch_size)).all()
        if not rows:
            return
        yield _frame(rows)
        last = int(rows[-1][0])
        if len(rows) < batch_size:
            return


# --- the detector -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Detector:
    """A fitted forest and the score thresholds of its levels."""

    model: Any
    thresholds: dict[str, float]

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        """Anomaly scores (higher = more anomalous; IsolationForest's score, negated)."""
        return -self.model.score_samples(model_matrix(features))


def _detector(model: Any, params: dict[str, Any]) -> Detector:
    return Detector(model, {k: float(v) for k, v in params["thresholds"].items()})


def _fit(features: pd.DataFrame) -> tuple[Detector, dict[str, Any], dict[str, Any]]:
    from sklearn.ensemble import IsolationForest

    matrix = model_matrix(features)
    started = time.perf_counter()
    model = IsolationForest(
        **{**IFOREST_PARAMS, "max_samples": min(IFOREST_PARAMS["max_samples"], len(matrix))}
    ).fit(matrix)
    fit_seconds = time.perf_counter() - started
    raw = -model.score_samples(matrix)
    thresholds = {level: float(np.quantile(raw, q)) for level, q in LEVEL_QUANTILES.items()}
    detector = Detector(model, thresholds)
    params = {
        **IFOREST_PARAMS,
        "thresholds": thresholds,
        "level_quantiles": dict(LEVEL_QUANTILES),
        "lookback_days": LOOKBACK_DAYS,
        "credit_weight": CREDIT_WEIGHT,
    }
    flagged = raw >= thresholds["low"]
    center = float(np.median(raw))
    spread = float(np.quantile(raw, 0.75) - np.quantile(raw, 0.25)) or 1e-9
    metrics = {
        "rows": len(matrix),
        "fit_seconds": round(fit_seconds, 3),
        "flag_rate": round(float(flagged.mean()), 6),
        # how far the flagged scores stand from the bulk, in interquartile ranges: the quality
        # a new training is compared on (a forest that cannot tell outliers apart scores low)
        "separation": round(float((raw[flagged].mean() - center) / spread), 4),
    }
    return detector, params, metrics


def _training_rows(
    engine: Engine, since: dt.datetime | None, until: dt.datetime | None
) -> pd.DataFrame:
    parts = [
        features_for(engine, batch)
        for batch in _batches(engine, since=since, until=until, batch_size=TRAIN_BATCH_SIZE)
    ]
    if not parts:
        return pd.DataFrame(columns=list(MODEL_FEATURES))
    features = pd.concat(parts)
    if len(features) > SAMPLE_CAP:
        features = features.sample(SAMPLE_CAP, random_state=42)
    return features


def train(
    engine: Engine,
    days: int | None = TRAIN_DAYS,
    trained_by: str = "job",
) -> registry.VersionInfo:
    """Fit the detector on the last ``days`` of transactions (None: all; at least the latest
    :data:`MIN_TRAIN_ROWS` when there are that many) and store it as a new version: activated
    unless worse than the active one, stored as failed if it raises."""
    with engine.connect() as conn:
        newest, oldest = conn.execute(
            select(func.max(Transaction.occurred_at), func.min(Transaction.occurred_at))
        ).one()
    since = None if days is None or newest is None else newest - dt.timedelta(days=days)
    if since is not None:
        with engine.connect() as conn:
            # the level thresholds are tail quantiles: a quiet window reaches further back
            enough = conn.scalar(
                select(Transaction.occurred_at)
                .order_by(Transaction.occurred_at.desc(), Transaction.id.desc())
                .offset(MIN_TRAIN_ROWS - 1)
                .limit(1)
            )
        if enough is None:
            since = None
        elif enough < since:
            since = enough
    training = registry.Training(
        data_from=since or oldest,
        data_to=newest,
        features=list(MODEL_FEATURES),
        params=dict(IFOREST_PARAMS),
        trained_by=trained_by,
        quality_metric="separation",
    )
    try:
        features = _training_rows(engine, since, None)
        if len(features) < 100:
            raise ValueError(f"too few transactions to train on: {len(features)} (need 100)")
        detector, params, metrics = _fit(features)
    except Exception as exc:  # stored and audited: a failed training keeps the previous model
        log.exception("training %s failed", MODEL_NAME)
        return registry.record_failure(engine, MODEL_NAME, "skops", training, str(exc))
    training = registry.Training(**{**training.__dict__, "params": params})
    return registry.save(engine, MODEL_NAME, detector.model, "skops", training, metrics)


def training_job(engine: Engine) -> dict[str, Any]:
    """Scheduled: retrain the transaction detector on the recent window."""
    info = train(engine)
    return {"version": info.version, "status": info.status, "active": info.active}


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    transaction_id: int
    score: float
    level: str | None
    factors: list[str]
    action: str
    large: bool


def large_threshold_minor(settings: Any) -> int:
    """``BI_LARGE_TRANSACTION`` (major units) in minor units of ``BI_CURRENCY``."""
    from bi_app.i18n import currency_decimals

    return int(settings.large_transaction) * 10 ** currency_decimals(settings.currency)


def assess(
    detector: Detector, features: pd.DataFrame, large_minor: int, rules: FactorRules | None = None
) -> list[Finding]:
    """A finding for every transaction of ``features`` the detector flags or that is large."""
    rules = rules or FactorRules()
    scores = detector.scores(features)
    records = features.reset_index().to_dict("records")
    findings = []
    for record, score in zip(records, scores.tolist()):
        level = level_for(score, detector.thresholds)
        large = record["amount"] >= large_minor
        if level is None and not large:
            continue
        factors = risk_factors(record, rules)
        findings.append(
            Finding(
                int(record["id"]),
                round(float(score), 4),
                level,
                factors,
                recommended_action(level, factors),
                bool(large),
            )
        )
    return findings


def _read_watermark(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.scalar(select(AppState.value).where(AppState.key == WATERMARK_KEY))
    return int(value) if value else 0


def score_new(
    engine: Engine,
    large_minor: int,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
    budget_seconds: float | None = RUN_BUDGET_SECONDS,
) -> dict[str, Any]:
    """Score the transactions added since the last run (the watermark), a batch at a time;
    write findings and move the watermark in the same transaction as each batch. A backlog
    (a first run over years of history) is worked off over several runs: each stops after
    ``max_batches`` or once ``budget_seconds`` have passed."""
    from sqlalchemy.orm import Session

    loaded = registry.load_active(engine, MODEL_NAME)
    if loaded is None:
        return {"scored": 0, "findings": 0, "reason": "no trained model"}
    model, info = loaded
    detector = _detector(model, info.params)
    watermark = _read_watermark(engine)
    scored = written = batches = 0
    seconds: list[float] = []
    run_started = time.perf_counter()
    for batch in _batches(engine, after_id=watermark, batch_size=batch_size):
        started = time.perf_counter()
        features = features_for(engine, batch)
        findings = assess(detector, features, large_minor)
        first_id, last_id = int(batch["id"].min()), int(batch["id"].max())
        now = utcnow()
        with Session(engine) as session, session.begin():
            # a batch is every transaction with an id in [first_id, last_id]: scoring it again
            # (a reset watermark) replaces its findings instead of failing on duplicates
            session.execute(
                delete(TransactionFinding).where(
                    TransactionFinding.transaction_id >= first_id,
                    TransactionFinding.transaction_id <= last_id,
                )
            )
            for f in findings:
                session.add(
                    TransactionFinding(
                        transaction_id=f.transaction_id,
                        model_version_id=info.id,
                        scored_at=now,
                        score=f.score,
                        level=f.level,
                        factors=f.factors,
                        action=f.action,
                        large=f.large,
                    )
                )
            state = session.get(AppState, WATERMARK_KEY)
            if state is None:
                session.add(AppState(key=WATERMARK_KEY, value=str(last_id), updated_at=now))
            else:
                state.value, state.updated_at = str(last_id), now
        seconds.append(time.perf_counter() - started)
        scored += len(batch)
        written += len(findings)
        batches += 1
        if max_batches is not None and batches >= max_batches:
            break
        if budget_seconds is not None and time.perf_counter() - run_started > budget_seconds:
            break
    if written:
        from bi_app.data.cache import invalidate

        invalidate("treasury")  # the Treasury page lists the findings: show new ones now
    return {
        "scored": scored,
        "findings": written,
        "batches": batches,
        "model_version": info.version,
        "seconds_per_batch": round(max(seconds), 3) if seconds else 0.0,
    }


def scoring_job(engine: Engine, settings: Any) -> dict[str, Any]:
    """Scheduled every 5 minutes: score new transactions. Without a good model yet, train one
    first -- at most once a day, so an empty database does not record a failure every run."""
    if registry.active_version_id(engine, MODEL_NAME) is None:
        latest = registry.list_versions(engine, MODEL_NAME)[:1]
        if not latest or utcnow() - latest[0].trained_at > dt.timedelta(days=1):
            training_job(engine)
    return score_new(engine, large_threshold_minor(settings))


def count_findings(engine: Engine, since: dt.datetime, levels: Sequence[str]) -> int:
    """Findings scored since ``since`` (naive UTC) at one of ``levels``: the alert metric."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(TransactionFinding)
                .where(
                    TransactionFinding.scored_at >= since,
                    TransactionFinding.level.in_(list(levels)),
                )
            )
            or 0
        )


# --- evaluation against the demo's ground truth -----------------------------------------------


def _prf(flagged: set[int], truth: set[int]) -> dict[str, float]:
    hits = len(flagged & truth)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "flagged": len(flagged),
        "true_positives": hits,
    }


def evaluate(engine: Engine, large_minor: int) -> dict[str, Any]:
    """Train on all the data, score every transaction (without writing findings) and compare
    the flagged ones with the injected ``unusual_transaction`` anomalies: precision, recall and
    F1 per detector, stored in the trained version's metrics."""
    info = train(engine, days=None, trained_by="evaluate")
    if info.status == "failed":
        raise registry.ModelError(info.error or "training failed")
    with engine.connect() as conn:
        truth = {
            int(r)
            for r in conn.scalars(
                select(DemoAnomaly.ref_id).where(
                    DemoAnomaly.kind == "unusual_transaction",
                    DemoAnomaly.ref_table == "transactions",
                )
            )
        }
        from bi_app.db.model_models import ModelVersion

        artifact = conn.scalar(select(ModelVersion.artifact).where(ModelVersion.id == info.id))
    detector = _detector(registry.deserialize(artifact, "skops"), info.params)
    flagged: set[int] = set()
    large: set[int] = set()
    total = 0
    started = time.perf_counter()
    for batch in _batches(engine):
        findings = assess(detector, features_for(engine, batch), large_minor)
        flagged |= {f.transaction_id for f in findings if f.level is not None}
        large |= {f.transaction_id for f in findings if f.large}
        total += len(batch)
    score_seconds = time.perf_counter() - started
    figures = {
        "transactions": total,
        "anomalies": len(truth),
        "score_seconds": round(score_seconds, 3),
        "detectors": {"iforest": _prf(flagged, truth), "large_transaction": _prf(large, truth)},
    }
    registry.update_metrics(engine, info.id, {"evaluation": figures})
    return {
        "version": info.version,
        "status": info.status,
        "fit_seconds": info.metrics.get("fit_seconds", 0.0),
        **figures,
    }
