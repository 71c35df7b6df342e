"""Treasury: balances by account tier, the window's flow of funds, volume over time and the top
counterparties, all summed in SQL from the ``transactions`` ledger.

Definitions (see :mod:`bi_app.analytics.flow_pattern` for the sign convention):

- **balance** of an account at the end of a window: the sum of its ``amount_cents`` up to the
  end of the window's last local day; a tier's balance is the sum over its accounts;
- **flows** of a window: per tier and kind, the sum of the credits (positive amounts) and of the
  debits (negative amounts, negated) booked in the window; **inflow** / **outflow** are the
  credits / debits of the external kinds (deposit, withdrawal, fee); internal transfers
  (sweep, cold_storage) are two legs that cancel out and count in neither;
- **average daily withdrawals**: the debits of kind ``withdrawal`` over the
  :data:`~bi_app.analytics.flow_pattern.WITHDRAWAL_AVERAGE_DAYS` local days ending with the
  window, divided by that many days;
- **capacity**: the consumable resource the hot wallets use up (transaction energy), see
  :mod:`bi_app.capacity`;
- **volume** per bucket: inflow and outflow of the external kinds per local minute (a window of
  one day) or local hour (longer), bucketed in SQL in the business time zone.

Windows are local days ``start..end`` in ``BI_TIMEZONE`` (:mod:`bi_app.db.periods`). Only the
accounts of one currency are summed (amounts of two currencies do not add up): the app's
currency when there are accounts in it, else the currency most accounts use.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import case, func, literal, select
from sqlalchemy.types import Interval

from bi_app import capacity as capacity_service
from bi_app.analytics import flow_pattern as fp
from bi_app.data._common import date_range, engine
from bi_app.data.cache import cached
from bi_app.db.alert_models import Alert, AlertRule
from bi_app.db.model_models import TransactionFinding
from bi_app.db.models import Account, AppState, Counterparty, Transaction
from bi_app.db.periods import business_timezone, local_date, local_day_bounds

NAMESPACE = "treasury"
MAX_DAYS = 366  # the longest window: a year of hourly buckets
TOP_COUNTERPARTIES = 20
GRAINS = {"minute": 60, "hour": 3600}


def _book_currency(conn: Any, preferred: str) -> str | None:
    """``preferred`` when an account uses it, else the currency of most accounts; None: none."""
    rows = conn.execute(
        select(Account.currency, func.count())
        .group_by(Account.currency)
        .order_by(func.count().desc(), Account.currency)
    ).all()
    codes = [str(c) for c, _n in rows]
    if not codes:
        return None
    return preferred.upper() if preferred.upper() in codes else codes[0]


@cached(NAMESPACE, keep_case=("currency",))
def book_currency(currency: str) -> str | None:
    """The currency the treasury pages sum (see the module's docstring)."""
    with engine().connect() as conn:
        return _book_currency(conn, currency)


@cached(NAMESPACE, keep_case=("currency",))
def last_day(currency: str) -> dt.date | None:
    """The latest local day with a transaction on an account of ``currency`` (None: none)."""
    # per account, through the (account_id, occurred_at) index: a few index probes, no scan
    latest_of_account = (
        select(func.max(Transaction.occurred_at))
        .where(Transaction.account_id == Account.id)
        .scalar_subquery()
    )
    query = select(func.max(latest_of_account)).where(Account.currency == currency.upper())
    with engine().connect() as conn:
        latest = conn.execute(query).scalar()
    if latest is None:
        return None
    if not isinstance(latest, dt.datetime):
        latest = dt.datetime.fromisoformat(str(latest))
    return local_date(latest)


def _window(start: Any, end: Any) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    first, last = date_range(start, end)
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"window {first}..{last} is longer than {MAX_DAYS} days")
    lo, hi = local_day_bounds(first, last)
    assert lo is not None and hi is not None
    return first, last, lo, hi


def _of_currency(currency: str) -> Any:
    return Transaction.account_id.in_(select(Account.id).where(Account.currency == currency))


@dataclass(frozen=True)
class Overview:
    """Balances at the end of the window, its flows and what follows from them."""

    currency: str
    start: dt.date
    end: dt.date
    balances: dict[str, int]  # tier -> minor units
    sums: dict[tuple[str, str], tuple[int, int]]  # (tier, kind) -> (credits, debits)
    average_daily_withdrawals: Fraction
    totals: fp.Totals
    edges: list[fp.Edge]
    recommendations: list[fp.Recommendation]
    shares: dict[str, float | None] = field(default_factory=dict)

    @property
    def total_balance(self) -> int:
        return sum(self.balances.values())


@cached(NAMESPACE, keep_case=("currency",))
def overview(start: dt.date | str, end: dt.date | str, currency: str) -> Overview | None:
    """Balances per tier at the end of ``end``, the flows of ``start..end``, the average daily
    withdrawals of the 30 days ending ``end`` and the recommendations; None without accounts."""
    first, last, lo, hi = _window(start, end)
    avg_lo, _ = local_day_bounds(last - dt.timedelta(days=fp.WITHDRAWAL_AVERAGE_DAYS - 1), last)
    amount = Transaction.amount_cents
    with engine().connect() as conn:
        code = _book_currency(conn, currency)
        if code is None:
            return None
        balance_rows = conn.execute(
            select(Account.tier, func.coalesce(func.sum(amount), 0))
            .join(Account, Account.id == Transaction.account_id)
            .where(Account.currency == code, Transaction.occurred_at < hi)
            .group_by(Account.tier)
        ).all()
        flow_rows = conn.execute(
            select(
                Account.tier,
                Transaction.kind,
                func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0),
                func.coalesce(func.sum(case((amount < 0, -amount), else_=0)), 0),
            )
            .join(Account, Account.id == Transaction.account_id)
            .where(
                Account.currency == code,
                Transaction.occurred_at >= lo,
                Transaction.occurred_at < hi,
            )
            .group_by(Account.tier, Transaction.kind)
        ).all()
        withdrawn = conn.execute(
            select(func.coalesce(func.sum(case((amount < 0, -amount), else_=0)), 0)).where(
                _of_currency(code),
                Transaction.kind == "withdrawal",
                Transaction.occurred_at >= avg_lo,
                Transaction.occurred_at < hi,
            )
        ).scalar()
    balances = {t: 0 for t in fp.TIERS}
    balances.update({str(t): int(v) for t, v in balance_rows})
    sums = {(str(t), str(k)): (int(c), int(d)) for t, k, c, d in flow_rows}
    average = Fraction(int(withdrawn or 0), fp.WITHDRAWAL_AVERAGE_DAYS)
    return Overview(
        currency=code,
        start=first,
        end=last,
        balances=balances,
        sums=sums,
        average_daily_withdrawals=average,
        totals=fp.flow_totals(sums),
        edges=fp.flow_edges(sums),
        recommendations=fp.recommendations(balances, average),
        shares=fp.shares(balances),
    )


# --- volume over time ---------------------------------------------------------------------


def grain_of(start: dt.date, end: dt.date) -> str:
    """Minutes for a window of one day, hours for a longer one."""
    return "minute" if start == end else "hour"


def offset_segments(lo: dt.datetime, hi: dt.datetime, tz: str) -> list[tuple[dt.datetime, int]]:
    """``(utc_from, offset_seconds)``: the time zone's UTC offset over ``lo..hi`` (naive UTC),
    one entry per stretch of constant offset (a clock change starts a new one)."""
    zone = ZoneInfo(tz)

    def offset(moment: dt.datetime) -> int:
        local = moment.replace(tzinfo=dt.UTC).astimezone(zone)
        return int(local.utcoffset().total_seconds())  # type: ignore[union-attr]

    segments = [(lo, offset(lo))]
    hour = dt.timedelta(hours=1)
    moment = lo
    while moment < hi:
        following = min(moment + hour, hi)
        if offset(following) != segments[-1][1]:
            change = moment
            while offset(change) == segments[-1][1]:  # clock changes fall on whole minutes
                change += dt.timedelta(minutes=1)
            segments.append((change, offset(change)))
        moment = following
    return segments


def _local_bucket(column: Any, segments: list[tuple[dt.datetime, int]], grain: str, dialect: str):
    """The local start of the minute or hour of a stored UTC ``column``, in SQL: the column moved
    by the zone's offset (a CASE over the window's clock changes), then truncated."""
    if dialect == "postgresql":

        def shift(seconds: int) -> Any:
            return literal(dt.timedelta(seconds=seconds), Interval())

    else:

        def shift(seconds: int) -> Any:
            return literal(f"{seconds:+d} seconds")

    moved_by = shift(segments[0][1])
    if len(segments) > 1:
        moved_by = case(
            *[(column < until, shift(s)) for (_f, s), (until, _n) in itertools.pairwise(segments)],
            else_=shift(segments[-1][1]),
        )
    if dialect == "postgresql":
        return func.date_trunc(grain, column + moved_by)
    fmt = "%Y-%m-%d %H:%M:00" if grain == "minute" else "%Y-%m-%d %H:00:00"
    return func.strftime(fmt, column, moved_by)


@dataclass(frozen=True)
class Volume:
    """Inflow and outflow per local bucket of the window (every bucket, zeros included)."""

    currency: str
    grain: str  # "minute" or "hour"
    frame: pd.DataFrame  # bucket (local, naive), inflow, outflow (int64 minor units)
    pattern: fp.Pattern


@cached(NAMESPACE, keep_case=("currency",))
def volume(start: dt.date | str, end: dt.date | str, currency: str) -> Volume | None:
    """The window's external inflow and outflow per local minute (one day) or hour, and the
    pattern of their sum (:func:`bi_app.analytics.flow_pattern.classify`)."""
    first, last, lo, hi = _window(start, end)
    tz = business_timezone()
    grain = grain_of(first, last)
    amount = Transaction.amount_cents
    with engine().connect() as conn:
        code = _book_currency(conn, currency)
        if code is None:
            return None
        bucket = _local_bucket(
            Transaction.occurred_at, offset_segments(lo, hi, tz), grain, conn.dialect.name
        ).label("bucket")
        rows = conn.execute(
            select(
                bucket,
                func.sum(case((amount > 0, amount), else_=0)),
                func.sum(case((amount < 0, -amount), else_=0)),
            )
            .where(
                _of_currency(code),
                Transaction.kind.in_(fp.EXTERNAL_KINDS),
                Transaction.occurred_at >= lo,
                Transaction.occurred_at < hi,
            )
            .group_by(bucket)
        ).all()
    found: dict[dt.datetime, tuple[int, int]] = {}
    for b, inflow, outflow in rows:
        moment = b if isinstance(b, dt.datetime) else dt.datetime.fromisoformat(str(b))
        moment = moment.replace(tzinfo=None)
        before = found.get(moment, (0, 0))
        found[moment] = (before[0] + int(inflow or 0), before[1] + int(outflow or 0))
    local_first = dt.datetime.combine(first, dt.time.min)
    local_stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min)
    step = dt.timedelta(seconds=GRAINS[grain])
    buckets = [local_first + i * step for i in range((local_stop - local_first) // step)]
    frame = pd.DataFrame(
        {
            "bucket": pd.Series(buckets, dtype="datetime64[us]"),
            "inflow": pd.array([found.get(b, (0, 0))[0] for b in buckets], dtype="int64"),
            "outflow": pd.array([found.get(b, (0, 0))[1] for b in buckets], dtype="int64"),
        }
    )
    series = (frame["inflow"] + frame["outflow"]).tolist()
    pattern = fp.classify(series, period=24 if grain == "hour" else None)
    return Volume(code, grain, frame, pattern)


# --- counterparties -----------------------------------------------------------------------

COUNTERPARTY_COLUMNS = ("name", "kind", "transactions", "inflow", "outflow", "volume", "share")


@cached(NAMESPACE, keep_case=("currency",))
def top_counterparties(
    start: dt.date | str, end: dt.date | str, currency: str, limit: int = TOP_COUNTERPARTIES
) -> pd.DataFrame:
    """The ``limit`` counterparties with the most external volume (inflow + outflow) in the
    window, largest first: columns :data:`COUNTERPARTY_COLUMNS`; ``share`` is the fraction of
    the window's whole external volume. Transactions without a counterparty form one row with
    an empty name and kind ``unknown``. Internal transfers are left out."""
    _first, _last, lo, hi = _window(start, end)
    amount = Transaction.amount_cents
    credits = func.sum(case((amount > 0, amount), else_=0))
    debits = func.sum(case((amount < 0, -amount), else_=0))
    volume_sum = func.sum(func.abs(amount))
    with engine().connect() as conn:
        code = _book_currency(conn, currency)
        where = [
            _of_currency(code or ""),
            Transaction.kind.in_(fp.EXTERNAL_KINDS),
            Transaction.occurred_at >= lo,
            Transaction.occurred_at < hi,
        ]
        total = conn.execute(select(func.coalesce(volume_sum, 0)).where(*where)).scalar()
        rows = conn.execute(
            select(
                Counterparty.name,
                Counterparty.kind,
                func.count(),
                credits,
                debits,
                volume_sum.label("volume"),
            )
            .select_from(Transaction)
            .outerjoin(Counterparty, Counterparty.id == Transaction.counterparty_id)
            .where(*where)
            .group_by(Transaction.counterparty_id, Counterparty.name, Counterparty.kind)
            .order_by(volume_sum.desc(), Counterparty.name)
            .limit(int(limit))
        ).all()
    total = int(total or 0)
    frame = pd.DataFrame(
        [
            {
                "name": name or "",
                "kind": kind or "unknown",
                "transactions": int(n),
                "inflow": int(c or 0),
                "outflow": int(d or 0),
                "volume": int(v or 0),
                "share": int(v or 0) / total if total else 0.0,
            }
            for name, kind, n, c, d, v in rows
        ],
        columns=list(COUNTERPARTY_COLUMNS),
    )
    for name in ("transactions", "inflow", "outflow", "volume"):
        frame[name] = frame[name].astype("int64")
    frame["share"] = frame["share"].astype("float64")
    return frame


# --- unusual transactions -----------------------------------------------------------------

FINDING_COLUMNS = (
    "occurred_at",
    "reference",
    "account",
    "tier",
    "counterparty",
    "kind",
    "amount",
    "score",
    "level",
    "factors",
    "action",
    "large",
    "alert_id",
)
LEVEL_RANKS = {"critical": 0, "high": 1, "medium": 2, "low": 3}  # None (only large): last
RISK_METRIC = "transaction_risk"  # the alert rule metric that raises one alert per finding
ALERT_LOOKAHEAD = dt.timedelta(days=2)  # an alert starts soon after its finding is scored
MAX_ALERTS_SCANNED = 20_000
# bi_app.models.transactions.WATERMARK_KEY (not imported: it loads the model's libraries)
SCORING_WATERMARK_KEY = "transaction_scoring_watermark"


@dataclass(frozen=True)
class Findings:
    """The window's transactions the scoring job flagged (``frame``: :data:`FINDING_COLUMNS`,
    most severe first); ``scored``: whether the job has scored any transaction yet."""

    currency: str | None
    scored: bool
    frame: pd.DataFrame


def _alert_ids(conn: Any, references: set[str], since: Any, until: Any) -> dict[str, int]:
    """reference -> id of the latest alert of the ``transaction_risk`` rules labelled with it,
    among the alerts started between the first finding's scoring and a little after the last."""
    if not references or since is None:
        return {}
    rows = conn.execute(
        select(Alert.id, Alert.labels)
        .where(
            Alert.rule_id.in_(select(AlertRule.id).where(AlertRule.metric == RISK_METRIC)),
            Alert.started_at >= since,
            Alert.started_at < until + ALERT_LOOKAHEAD,
        )
        .order_by(Alert.id.desc())  # the latest first: bounded, a newer alert wins
        .limit(MAX_ALERTS_SCANNED)
    ).all()
    found: dict[str, int] = {}
    for alert_id, labels in rows:
        reference = labels.get("transaction") if isinstance(labels, dict) else None
        if reference in references:
            found.setdefault(str(reference), int(alert_id))
    return found


@cached(NAMESPACE, keep_case=("currency",))
def findings(start: dt.date | str, end: dt.date | str, currency: str, limit: int = 500) -> Findings:
    """The scoring job's findings for the transactions booked in the window (local days) on the
    accounts of the book currency: the ``limit`` most severe (critical … low, then those only
    large), highest score first within a level, each with the id of its alert when the
    "High-risk transaction" rule raised one."""
    _first, _last, lo, hi = _window(start, end)
    f = TransactionFinding
    rank = case(
        *[(f.level == level, literal(r)) for level, r in LEVEL_RANKS.items()],
        else_=literal(len(LEVEL_RANKS)),
    )
    with engine().connect() as conn:
        code = _book_currency(conn, currency)
        watermark = select(AppState.value).where(AppState.key == SCORING_WATERMARK_KEY)
        scored = (
            conn.execute(watermark).first() is not None
            or conn.execute(select(f.id).limit(1)).first() is not None
        )
        rows = conn.execute(
            select(
                Transaction.occurred_at,
                Transaction.reference,
                Account.code,
                Account.tier,
                Counterparty.name,
                Transaction.kind,
                Transaction.amount_cents,
                f.score,
                f.level,
                f.factors,
                f.action,
                f.large,
                f.scored_at,
            )
            .select_from(f)
            .join(Transaction, Transaction.id == f.transaction_id)
            .join(Account, Account.id == Transaction.account_id)
            .outerjoin(Counterparty, Counterparty.id == Transaction.counterparty_id)
            .where(
                Account.currency == (code or ""),
                Transaction.occurred_at >= lo,
                Transaction.occurred_at < hi,
            )
            .order_by(rank, f.score.desc(), Transaction.occurred_at.desc(), Transaction.id)
            .limit(int(limit))
        ).all()
        references = {str(r.reference) for r in rows if r.level in ("high", "critical")}
        scored_at = [r.scored_at for r in rows if str(r.reference) in references]
        alerts = _alert_ids(
            conn, references, min(scored_at, default=None), max(scored_at, default=None)
        )
    frame = pd.DataFrame(
        [
            {
                "occurred_at": r.occurred_at
                if isinstance(r.occurred_at, dt.datetime)
                else dt.datetime.fromisoformat(str(r.occurred_at)),
                "reference": str(r.reference),
                "account": str(r.code),
                "tier": str(r.tier),
                "counterparty": r.name or "",
                "kind": str(r.kind),
                "amount": int(r.amount_cents),
                "score": float(r.score),
                "level": r.level,
                "factors": [str(x) for x in (r.factors or [])],
                "action": str(r.action),
                "large": bool(r.large),
                "alert_id": alerts.get(str(r.reference)),
            }
            for r in rows
        ],
        columns=list(FINDING_COLUMNS),
    )
    return Findings(code, scored, frame)


# --- capacity gauge -----------------------------------------------------------------------


@cached(capacity_service.CACHE_NAMESPACE, keep_case=("resource",))
def capacity(resource: str | None = None) -> capacity_service.CapacityStatus | None:
    """The consumable resource ``resource`` (default: the first configured) now: its level,
    usage rate, predicted depletion and chart points (:func:`bi_app.capacity.status`); None
    when no resource is configured. Cached in its own namespace, which the sampling job clears
    every 5 minutes."""
    return capacity_service.status(engine(), resource)
