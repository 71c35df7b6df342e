"""Treasury computations on plain numbers: the flow of funds between tiers, the window's totals,
the rebalancing recommendations and the pattern of a volume series.

Pure: no Dash, no database. Amounts are integers of the currency's minor unit; the callers
format and translate (each result carries a ``kind`` code and the numbers a reason cites).

Sign convention (as :mod:`bi_app.db.demo_treasury` writes the ledger): ``amount_cents`` is signed
from the account's point of view, + credit, - debit, so an account's balance is the sum of its
amounts. ``deposit`` brings money in from outside, ``withdrawal`` and ``fee`` send it out, and
``sweep`` / ``cold_storage`` are internal transfers posted as two legs (a debit on the source
account, an equal credit on the target) that cancel out in the total.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

TIERS = ("hot", "warm", "cold")
EXTERNAL_KINDS = ("deposit", "withdrawal", "fee")
INTERNAL_KINDS = ("sweep", "cold_storage")
# the Sankey's nodes, in drawing order (sources left, sinks right)
NODES = ("deposits", "hot", "warm", "cold", "withdrawals", "fees")

COLD_MIN_SHARE = Fraction(70, 100)  # cold storage should hold at least 70 % of all funds
HOT_MIN_WITHDRAWAL_DAYS = Fraction(50, 100)  # hot >= 50 % of the average daily withdrawals
WITHDRAWAL_AVERAGE_DAYS = 30

SPIKE_SIGMAS = 4.0  # a spike is above mean + 4 std of the other buckets ...
SPIKE_MEDIAN_RATIO = 3.0  # ... and above 3x their median (of buckets with any movement)
BURST_MEDIAN_RATIO = 3.0  # a burst bucket is above 3x the median (of buckets with movement) ...
BURST_MIN_RUN = 3  # ... in a single run of at least 3 consecutive such buckets
REGULAR_CV = 0.5  # regular: the coefficient of variation is below 0.5 ...
REGULAR_AUTOCORR = 0.6  # ... or the series repeats itself daily (autocorrelation at one day)
MIN_BUCKETS = 4

# (tier, kind) -> (credits, debits): sums of the positive amounts and of the negated negative ones
FlowSums = Mapping[tuple[str, str], tuple[int, int]]


@dataclass(frozen=True)
class Edge:
    source: str  # one of NODES
    target: str
    value: int  # minor units, > 0


@dataclass(frozen=True)
class Totals:
    inflow: int  # money that came in from outside (credits of external kinds)
    outflow: int  # money that left (debits of external kinds, positive)

    @property
    def net(self) -> int:
        return self.inflow - self.outflow


def _get(sums: FlowSums, tier: str, kind: str) -> tuple[int, int]:
    credits, debits = sums.get((tier, kind), (0, 0))
    return int(credits), int(debits)


def flow_edges(sums: FlowSums) -> list[Edge]:
    """The window's flow of funds as Sankey edges between :data:`NODES`.

    How kinds map to edges (the demo's semantics, :mod:`bi_app.db.demo_treasury`):

    - ``deposit`` credits on a tier's accounts: *External deposits → tier*. Card settlements,
      marketplace payouts and B2B payments land on the hot accounts (payments clearing and
      operating); the opening deposits also fund warm and cold. This data has no separate
      "user wallet" accounts: the first stop of outside money is the account it is booked on.
    - ``sweep`` legs move money between the hot accounts and the reserve: a sweep credit on a
      non-hot tier is *hot → tier* (the evening excess sweep), a sweep debit there is
      *tier → hot* (funding and top-ups). Sweeps between two hot accounts (clearing to
      operating) stay inside the hot node and are not drawn.
    - ``cold_storage`` legs move money into cold storage: a debit on a non-cold tier is
      *tier → cold* (the weekly move from the warm reserve), a credit there is *cold → tier*.
    - ``withdrawal`` debits: *tier → External withdrawals* (suppliers, payroll, transfers out);
      ``fee`` debits: *tier → Fees* (processing fees on clearing, monthly account fees on every
      account).

    Reversals against a kind's usual sign (a negative deposit, a refunded fee) are not drawn;
    they still count in :func:`flow_totals`. Edges are gross: a window with both sweeps to and
    top-ups from the reserve shows both directions.
    """
    edges: dict[tuple[str, str], int] = {}

    def add(source: str, target: str, value: int) -> None:
        if value > 0:
            edges[(source, target)] = edges.get((source, target), 0) + value

    for tier in TIERS:
        add("deposits", tier, _get(sums, tier, "deposit")[0])
        if tier != "hot":
            credits, debits = _get(sums, tier, "sweep")
            add("hot", tier, credits)
            add(tier, "hot", debits)
        if tier != "cold":
            credits, debits = _get(sums, tier, "cold_storage")
            add(tier, "cold", debits)
            add("cold", tier, credits)
        add(tier, "withdrawals", _get(sums, tier, "withdrawal")[1])
        add(tier, "fees", _get(sums, tier, "fee")[1])
    order = {node: i for i, node in enumerate(NODES)}
    return [
        Edge(s, t, v)
        for (s, t), v in sorted(edges.items(), key=lambda e: (order[e[0][0]], order[e[0][1]]))
    ]


def flow_totals(sums: FlowSums) -> Totals:
    """Inflow (credits of deposits, withdrawals and fees: money from outside), outflow (their
    debits) and net flow; internal transfers are left out (their legs cancel)."""
    inflow = outflow = 0
    for (_tier, kind), (credits, debits) in sums.items():
        if kind in EXTERNAL_KINDS:
            inflow += int(credits)
            outflow += int(debits)
    return Totals(inflow, outflow)


# --- recommendations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """``kind``: ``move_to_cold``, ``top_up_hot`` or ``balanced``; ``amount``: what to move
    (minor units) to reach ``target``; ``current`` is the cold share (a fraction) or the hot
    balance; ``target`` the minimum cold share or the minimum hot balance."""

    kind: str
    amount: int = 0
    current: float = 0.0
    target: float = 0.0


def _ceil(value: Fraction) -> int:
    return math.ceil(value)


def recommendations(
    balances: Mapping[str, int],
    average_daily_withdrawals: float | Fraction,
    *,
    cold_min_share: Fraction = COLD_MIN_SHARE,
    hot_min_days: Fraction = HOT_MIN_WITHDRAWAL_DAYS,
) -> list[Recommendation]:
    """What to rebalance, from the balances per tier and the average daily withdrawals.

    - cold share below ``cold_min_share`` (70 %): move ``cold_min_share · total − cold`` to
      cold storage (moving keeps the total, so that amount brings the share to exactly 70 %);
    - hot balance below ``hot_min_days`` (50 %) of the average daily withdrawals: top up hot by
      the difference.

    Neither: one ``balanced`` note. No funds at all (total ≤ 0): no cold share to judge.
    """
    hot, warm, cold = (int(balances.get(t, 0)) for t in TIERS)
    total = hot + warm + cold
    found: list[Recommendation] = []
    if total > 0:
        share = Fraction(cold, total)
        if share < cold_min_share:
            found.append(
                Recommendation(
                    "move_to_cold",
                    _ceil(cold_min_share * total - cold),
                    float(share),
                    float(cold_min_share),
                )
            )
    needed = Fraction(average_daily_withdrawals) * hot_min_days
    if hot < needed:
        found.append(Recommendation("top_up_hot", _ceil(needed - hot), float(hot), float(needed)))
    return found or [Recommendation("balanced")]


def shares(balances: Mapping[str, int]) -> dict[str, float | None]:
    """Each tier's share of the total balance (None when the total is not positive)."""
    total = sum(int(balances.get(t, 0)) for t in TIERS)
    return {t: (int(balances.get(t, 0)) / total if total > 0 else None) for t in TIERS}


# --- the flow pattern -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """The window's flow pattern and the numbers its reason cites.

    ``kind``: ``spike``, ``burst``, ``regular`` or ``normal``; ``basis`` says which test decided
    (``peak``, ``run``, ``cv``, ``daily``, ``none``, ``too_few``); ``index`` is the spike's or the
    run's first bucket, ``length`` the run's length; ``peak`` the highest bucket, ``threshold``
    the line it crossed, ``median`` the median of the buckets with movement, ``cv`` the
    coefficient of variation, ``autocorr`` the autocorrelation at one day."""

    kind: str
    basis: str
    index: int | None = None
    length: int = 0
    peak: float = 0.0
    threshold: float = 0.0
    median: float = 0.0
    cv: float | None = None
    autocorr: float | None = None


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    return statistics.fmean(values), statistics.pstdev(values)


def _active_median(values: Sequence[float]) -> float:
    active = [v for v in values if v > 0]
    return statistics.median(active) if active else 0.0


def _autocorrelation(values: Sequence[float], lag: int) -> float | None:
    if lag <= 0 or len(values) < 2 * lag:
        return None
    a, b = values[:-lag], values[lag:]
    if statistics.pstdev(a) == 0 or statistics.pstdev(b) == 0:
        return None
    return statistics.correlation(a, b)


def _high_runs(values: Sequence[float], line: float) -> list[tuple[int, int]]:
    """``(start, length)`` of every run of consecutive buckets above ``line``."""
    runs, start = [], None
    for i, v in enumerate([*values, -math.inf]):
        if v > line and start is None:
            start = i
        elif v <= line and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def classify(values: Sequence[float], period: int | None = None) -> Pattern:
    """The pattern of a volume series (one value per bucket, zeros included, in time order);
    ``period`` is the number of buckets in a day (24 for hours) for the daily-rhythm test.

    Tests, in order:

    1. **spike** — one bucket far above the rest: above the mean + 4 std of the other buckets
       and above 3x their median (the median of buckets with any movement), and it is the only
       one above that line;
    2. **burst** — a single run of at least 3 consecutive buckets above 3x the median of the
       buckets with movement (and above the mean); several such runs are a rhythm, not a burst.
       The median, not the standard deviation, is the yardstick: a burst inflates the standard
       deviation it would be measured against;
    3. **regular** — a coefficient of variation below 0.5, or an autocorrelation at one day of
       at least 0.6 (the same hours are busy every day);
    4. **normal** — anything else.
    """
    series = [float(v) for v in values]
    n = len(series)
    if n < MIN_BUCKETS or not any(series):
        return Pattern("normal", "too_few")
    mean, std = _mean_std(series)
    cv = std / mean if mean > 0 else None
    median = _active_median(series)
    peak_index = max(range(n), key=series.__getitem__)
    peak = series[peak_index]

    rest = series[:peak_index] + series[peak_index + 1 :]
    rest_mean, rest_std = _mean_std(rest)
    rest_median = _active_median(rest)
    line = max(rest_mean + SPIKE_SIGMAS * rest_std, SPIKE_MEDIAN_RATIO * rest_median)
    if peak > line and sum(1 for v in series if v > line) == 1:
        return Pattern("spike", "peak", peak_index, 1, peak, line, rest_median, cv, None)

    burst_line = max(BURST_MEDIAN_RATIO * median, mean)
    runs = _high_runs(series, burst_line)
    long_runs = [r for r in runs if r[1] >= BURST_MIN_RUN]
    if len(long_runs) == 1:
        start, length = long_runs[0]
        top = max(series[start : start + length])
        return Pattern("burst", "run", start, length, top, burst_line, median, cv, None)

    autocorr = _autocorrelation(series, period) if period else None
    if cv is not None and cv < REGULAR_CV:
        return Pattern("regular", "cv", None, 0, peak, 0.0, median, cv, autocorr)
    if autocorr is not None and autocorr >= REGULAR_AUTOCORR:
        return Pattern("regular", "daily", None, 0, peak, 0.0, median, cv, autocorr)
    return Pattern("normal", "none", peak_index, 0, peak, 0.0, median, cv, autocorr)
