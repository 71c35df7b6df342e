"""Treasury demo data: hot/warm/cold accounts, counterparties and a year-long money flow.

``amount_cents`` is signed from the account's point of view (+ credit, - debit), so the sum
over an account is its balance. Payment processors settle into the hot accounts each business
morning, suppliers and payroll are paid from them, the excess is swept to the warm reserve each
evening and moved to cold storage on Fridays. A few unusual transactions are injected and
returned as ground truth.

:func:`make_capacity` adds the hot wallets' transaction energy (a consumable resource, see
:mod:`bi_app.capacity`) and its samples of the last :data:`CAPACITY_DAYS` days, consistent with
the ledger: each sample's usage is the cost of the hot accounts' debits since the previous one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from bi_app.db.capacity_models import CapacityResource, CapacitySample
from bi_app.db.demo_calendar import Calendar

CAPACITY_NAME = "hot_wallet_energy"
CAPACITY_LABEL = "Hot wallet transaction energy"
CAPACITY_UNIT = "energy"
CAPACITY_DAYS = 14  # of 5-minute samples, up to the end of the calendar's last day
CAPACITY_STEP_SECONDS = 300
COST_PER_TRANSACTION = 100.0
REFILL_SHARE = 0.6  # the refill covers this share of the average usage: the level falls
CAPACITY_DAYS_OF_USAGE = 2.9  # the capacity holds about this many days of average usage
CAPACITY_END_PCT = 35.0  # where the demo leaves the level (about; clipping may add a little)
CAPACITY_TOP_UP_PCT = 15.0  # operators top up to full when the level falls to this

TREASURY_STREAM = 303
AVERAGE_ORDER_CENTS = 12_000  # rough revenue per order, to size settlements like the shop
CLEARING_FLOAT = 1_000_000  # kept on the clearing account so fees never overdraw it
ACCOUNTS = (
    ("HOT-EUR-01", "Operating account", "hot"),
    ("HOT-EUR-02", "Payments clearing", "hot"),
    ("WARM-EUR-01", "Treasury reserve", "warm"),
    ("COLD-EUR-01", "Long-term reserve", "cold"),
    ("COLD-EUR-02", "Escrow reserve", "cold"),
)
HOT, CLEARING, WARM, COLD_A, COLD_B = range(5)
COUNTERPARTIES = (
    ("CP-INT", "Internal transfer", "internal"),
    ("CP-ADYEN", "Adyen settlements", "bank"),
    ("CP-STRIPE", "Stripe payouts", "bank"),
    ("CP-PAYPAL", "PayPal settlements", "bank"),
    ("CP-MKT", "Marketplace settlement", "exchange"),
    ("CP-ING", "ING Bank", "bank"),
    ("CP-BNP", "BNP Paribas", "bank"),
    ("CP-FX", "Ebury FX desk", "exchange"),
    ("CP-B2B-01", "Hotel Lindner Group", "customer"),
    ("CP-B2B-02", "CityOffice Supplies", "customer"),
    ("CP-B2B-03", "Alpine Sports Clubs", "customer"),
    ("CP-B2B-04", "Studio Verde Interiors", "customer"),
    ("CP-SUP-01", "Northwind Logistics", "supplier"),
    ("CP-SUP-02", "Greenleaf Packaging", "supplier"),
    ("CP-SUP-03", "Shenzhen Brightway Electronics", "supplier"),
    ("CP-SUP-04", "Tessile Rossi S.p.A.", "supplier"),
    ("CP-SUP-05", "Orbit Cloud Hosting", "supplier"),
    ("CP-SUP-06", "Lumen Media Agency", "supplier"),
    ("CP-SUP-07", "Nordic Toy Works", "supplier"),
)
PROCESSORS = (1, 2, 3)
PROCESSOR_SHARES = (0.45, 0.35, 0.2)
B2B = (8, 9, 10, 11)
SUPPLIERS = (12, 13, 14, 15, 16, 17, 18)
KIND_CODES = ("deposit", "sweep", "cold_storage", "withdrawal", "fee")
DEPOSIT, SWEEP, COLD, WITHDRAWAL, FEE = range(5)
NOTES = {
    "opening": "Opening balance",
    "card_settlement": "Card settlement",
    "processing_fee": "Processing fee 1.4%",
    "marketplace_payout": "Marketplace payout",
    "payroll": "Payroll",
    "account_fee": "Monthly account fee",
    "supplier_invoice": "Supplier invoice",
    "invoice_payment": "Invoice payment",
    "funding": "Funding from reserve",
    "clearing_sweep": "Clearing to operating",
    "excess_sweep": "Excess to reserve",
    "top_up": "Top-up from reserve",
    "cold_move": "Weekly move to cold storage",
    "huge amount": "Supplier prepayment",
    "odd hour": "Urgent transfer",
}


def _iban(rng: np.random.Generator) -> str:
    return f"LT{rng.integers(10, 99)} 3250 {rng.integers(1000, 9999)} {rng.integers(1000, 9999)}"


def _english_anomaly(reason: str, amount: int, magnitude: float, note: str) -> str:
    return (
        f"{reason}: withdrawal of {amount / 100:,.2f} EUR, "
        f"{magnitude:g}x the typical withdrawal ({note})"
    )


@dataclass(frozen=True)
class TreasuryProfile:
    """A market's accounts, counterparties and wording; ``money_factor`` is how many minor
    units of its currency stand for one euro cent of the amounts below (1 for EUR)."""

    currency: str
    accounts: tuple[tuple[str, str, str], ...]  # code, name, tier (in the order of HOT..COLD_B)
    counterparties: tuple[tuple[str, str, str], ...]  # code, name, kind (same roles as below)
    notes: Mapping[str, str]  # keys of :data:`NOTES`
    money_factor: int
    average_order: int  # minor units of revenue per order
    unknown_beneficiary: Callable[[np.random.Generator], str]  # "Beneficiary not on file: ..."
    anomaly_text: Callable[[str, int, float, str], str]  # (reason, amount, magnitude, note)
    capacity_label: str = CAPACITY_LABEL  # the demo's consumable resource (make_capacity)


ENGLISH_TREASURY = TreasuryProfile(
    currency="EUR",
    accounts=ACCOUNTS,
    counterparties=COUNTERPARTIES,
    notes=NOTES,
    money_factor=1,
    average_order=AVERAGE_ORDER_CENTS,
    unknown_beneficiary=lambda rng: f"Beneficiary not on file: {_iban(rng)}",
    anomaly_text=_english_anomaly,
)


@dataclass
class _Ledger:
    start: np.datetime64
    account: list[int] = field(default_factory=list)
    counterparty: list[int | None] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    amount: list[int] = field(default_factory=list)
    at: list[np.datetime64] = field(default_factory=list)
    note: list[str | None] = field(default_factory=list)
    balance: np.ndarray = field(default_factory=lambda: np.zeros(len(ACCOUNTS), dtype=np.int64))
    profile: TreasuryProfile = ENGLISH_TREASURY

    @property
    def notes(self) -> Mapping[str, str]:
        return self.profile.notes

    @property
    def factor(self) -> int:
        return self.profile.money_factor

    @property
    def clearing_float(self) -> int:
        return CLEARING_FLOAT * self.factor

    def post(
        self,
        account: int,
        counterparty: int | None,
        kind: int,
        amount: int,
        day: int,
        seconds: int,
        note: str | None = None,
    ) -> int:
        self.account.append(account)
        self.counterparty.append(counterparty)
        self.kind.append(kind)
        self.amount.append(int(amount))
        self.at.append(self.start + np.timedelta64(day * 86400 + int(seconds), "s"))
        self.note.append(note)
        self.balance[account] += int(amount)
        return len(self.amount) - 1

    def transfer(
        self, source: int, target: int, kind: int, amount: int, day: int, seconds: int, note: str
    ) -> None:
        self.post(source, 0, kind, -amount, day, seconds, note)
        self.post(target, 0, kind, amount, day, seconds, note)


@dataclass(frozen=True)
class UnusualTransaction:
    row: int  # position in the generated ledger (before ids are assigned)
    reason: str
    magnitude: float


def make_treasury(
    scale: float,
    calendar: Calendar,
    seed: int,
    profile: TreasuryProfile = ENGLISH_TREASURY,
) -> tuple[dict[str, dict], list[dict]]:
    """Accounts, counterparties and transactions, plus ground-truth rows for demo_anomalies."""
    rng = np.random.default_rng([seed, TREASURY_STREAM])
    ledger = _Ledger(start=np.datetime64(calendar.start, "s"), profile=profile)
    notes, factor = profile.notes, profile.money_factor
    weekday = calendar.weekday()
    revenue = calendar.expected * profile.average_order
    opening = int(revenue[:30].sum())
    for account, share in ((HOT, 0.3), (WARM, 1.0), (COLD_A, 2.0), (COLD_B, 0.8)):
        ledger.post(account, 5, DEPOSIT, int(opening * share), 0, 7 * 3600, notes["opening"])
    ledger.post(CLEARING, 5, DEPOSIT, ledger.clearing_float, 0, 7 * 3600, notes["opening"])
    typical = _typical_withdrawal(revenue, scale, factor)
    planned = _plan_unusual(rng, len(calendar.days))
    unusual: list[UnusualTransaction] = []

    pending = 0.0  # processor revenue not yet settled (weekends settle on Monday)
    for day in range(len(calendar.days)):
        # Posting order matters: each check of the operating balance must only see money that
        # has already arrived at that time of day.
        if day in planned:
            unusual.append(_unusual(ledger, rng, day, planned[day], typical))
        pending += revenue[day]
        business = weekday[day] < 5 and not calendar.is_bank_holiday(day)
        if business:
            _settle(ledger, rng, day, pending)
            pending = 0.0
        if calendar.days[day].astype(object).day == 25:
            payroll = int(revenue[max(0, day - 30) : day + 1].sum() * 0.12)
            _prefund(ledger, day, payroll)
            ledger.post(HOT, 5, WITHDRAWAL, -payroll, day, 9 * 3600 + 1800, notes["payroll"])
        if business:
            _b2b_and_suppliers(ledger, rng, day, scale, revenue[day])
        if calendar.days[day].astype(object).day == 1:
            for account in range(len(ACCOUNTS)):
                ledger.post(
                    account,
                    5 + account % 2,
                    FEE,
                    (-2_500 - 1_000 * (account >= WARM)) * factor,
                    day,
                    20 * 3600,
                    notes["account_fee"],
                )
        _rebalance(ledger, day, weekday[day], revenue[max(0, day - 6) : day + 1].mean())
    return _tables(ledger, unusual, calendar)


def _settle(ledger: _Ledger, rng: np.random.Generator, day: int, pending: float) -> None:
    for processor, share in zip(PROCESSORS, PROCESSOR_SHARES):
        gross = int(pending * share * rng.normal(1.0, 0.04))
        if gross <= 0:
            continue
        seconds = int(rng.integers(5 * 3600, 7 * 3600))
        notes = ledger.notes
        ledger.post(CLEARING, processor, DEPOSIT, gross, day, seconds, notes["card_settlement"])
        fee = -int(gross * 0.014)
        ledger.post(CLEARING, processor, FEE, fee, day, seconds + 60, notes["processing_fee"])
    if rng.random() < 0.25:  # the marketplace pays out about weekly
        amount = int(pending * rng.uniform(1.2, 1.8))
        at = int(rng.integers(8, 12)) * 3600
        ledger.post(CLEARING, 4, DEPOSIT, amount, day, at, ledger.notes["marketplace_payout"])


def _b2b_and_suppliers(
    ledger: _Ledger, rng: np.random.Generator, day: int, scale: float, revenue: float
) -> None:
    factor, notes = ledger.factor, ledger.notes
    bills = rng.poisson(2.5 * scale)
    median = revenue * 0.15 / max(scale, 0.1)
    least = 5_000 * factor
    amounts = np.clip(
        rng.lognormal(np.log(max(median, least)), 0.9, bills), least, revenue * 3 + 50_000 * factor
    ).astype(np.int64)
    payees = rng.choice(SUPPLIERS, bills)
    times = rng.integers(8 * 3600, 17 * 3600, bills)
    _prefund(ledger, day, int(amounts.sum()))
    for amount, payee, seconds in zip(amounts.tolist(), payees.tolist(), times.tolist()):
        ledger.post(HOT, payee, WITHDRAWAL, -amount, day, seconds, notes["supplier_invoice"])
    invoices = rng.poisson(1.2 * scale)
    amounts = rng.lognormal(np.log(150_000 * factor), 0.8, invoices).astype(np.int64)
    payers = rng.choice(B2B, invoices)
    times = rng.integers(8 * 3600, 17 * 3600, invoices)
    for amount, payer, seconds in zip(amounts.tolist(), payers.tolist(), times.tolist()):
        ledger.post(HOT, payer, DEPOSIT, amount, day, seconds, notes["invoice_payment"])


def _prefund(ledger: _Ledger, day: int, needed: int, seconds: int = 7 * 3600 + 1800) -> None:
    """Transfer from the reserve when upcoming payments exceed the operating balance."""
    shortfall = needed - int(ledger.balance[HOT])
    if shortfall > 0:
        amount = min(int(shortfall * 1.2), int(ledger.balance[WARM]))
        ledger.transfer(WARM, HOT, SWEEP, amount, day, seconds, ledger.notes["funding"])


def _rebalance(ledger: _Ledger, day: int, weekday: int, daily_revenue: float) -> None:
    """Evening sweeps keep the hot accounts at about three days of revenue."""
    sweep_at, notes = 21 * 3600, ledger.notes
    clearing = int(ledger.balance[CLEARING]) - ledger.clearing_float
    if clearing > 0:
        ledger.transfer(CLEARING, HOT, SWEEP, clearing, day, sweep_at, notes["clearing_sweep"])
    target = int(daily_revenue * 3)
    excess = int(ledger.balance[HOT]) - target
    if excess > target * 0.25:
        ledger.transfer(HOT, WARM, SWEEP, excess, day, sweep_at + 300, notes["excess_sweep"])
    elif excess < -target * 0.5 and ledger.balance[WARM] > -excess:
        ledger.transfer(WARM, HOT, SWEEP, -excess, day, sweep_at + 300, notes["top_up"])
    if weekday == 4:
        spare = int(ledger.balance[WARM]) - int(daily_revenue * 20)
        if spare > 0:
            target_cold = COLD_A if (day // 7) % 3 else COLD_B
            ledger.transfer(
                WARM,
                target_cold,
                COLD,
                int(spare * 0.8),
                day,
                sweep_at + 900,
                notes["cold_move"],
            )


def _typical_withdrawal(revenue: np.ndarray, scale: float, factor: int = 1) -> float:
    """Median supplier payment, the yardstick of the injected unusual withdrawals."""
    return float(np.median(np.maximum(revenue * 0.15 / max(scale, 0.1), 5_000 * factor)))


def _plan_unusual(rng: np.random.Generator, span: int) -> dict[int, str]:
    reasons = ["huge amount"] * 3 + ["odd hour"] * 3 + ["unknown counterparty"] * 2
    days = np.sort(rng.choice(np.arange(20, span - 3), len(reasons), replace=False))
    return dict(zip(days.tolist(), rng.permutation(reasons).tolist()))


def _unusual(
    ledger: _Ledger, rng: np.random.Generator, day: int, reason: str, typical: float
) -> UnusualTransaction:
    if reason == "huge amount":
        factor = float(rng.uniform(15, 40))
        seconds, counterparty, note = (
            int(rng.integers(10, 16)) * 3600,
            int(rng.choice(SUPPLIERS)),
            ledger.notes[reason],
        )
    elif reason == "odd hour":
        factor = float(rng.uniform(4, 9))
        seconds, counterparty, note = (
            int(rng.integers(1 * 3600, 4 * 3600)),
            int(rng.choice(SUPPLIERS)),
            ledger.notes[reason],
        )
    else:
        factor = float(rng.uniform(3, 8))
        beneficiary = ledger.profile.unknown_beneficiary(rng)
        seconds, counterparty, note = (
            int(rng.integers(9 * 3600, 18 * 3600)),
            None,
            beneficiary,
        )
    _prefund(ledger, day, int(typical * factor), seconds - 600)
    row = ledger.post(HOT, counterparty, WITHDRAWAL, -int(typical * factor), day, seconds, note)
    return UnusualTransaction(row=row, reason=reason, magnitude=round(factor, 2))


def _tables(
    ledger: _Ledger, unusual: list[UnusualTransaction], calendar: Calendar
) -> tuple[dict[str, dict], list[dict]]:
    profile = ledger.profile
    at = np.array(ledger.at, dtype="datetime64[s]")
    order = np.argsort(at, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    ids = np.arange(1, len(order) + 1)
    days = at[order].astype("datetime64[D]").astype(object)
    counterparty = [ledger.counterparty[i] for i in order.tolist()]
    transactions = {
        "id": ids,
        "reference": [f"TX-{d:%Y%m%d}-{i:07d}" for d, i in zip(days, ids.tolist())],
        "account_id": np.array(ledger.account)[order] + 1,
        "counterparty_id": [None if c is None else c + 1 for c in counterparty],
        "kind": np.array(KIND_CODES, dtype=object)[np.array(ledger.kind)[order]],
        "amount_cents": np.array(ledger.amount, dtype=np.int64)[order],
        "occurred_at": at[order],
        "note": [ledger.note[i] for i in order.tolist()],
    }
    accounts = {
        "id": list(range(1, len(profile.accounts) + 1)),
        "code": [a[0] for a in profile.accounts],
        "name": [a[1] for a in profile.accounts],
        "tier": [a[2] for a in profile.accounts],
        "currency": [profile.currency] * len(profile.accounts),
    }
    counterparties = {
        "id": list(range(1, len(profile.counterparties) + 1)),
        "code": [c[0] for c in profile.counterparties],
        "name": [c[1] for c in profile.counterparties],
        "kind": [c[2] for c in profile.counterparties],
    }
    anomalies = []
    for item in unusual:
        row_id = int(position[item.row]) + 1
        amount = -ledger.amount[item.row]
        anomalies.append(
            {
                "kind": "unusual_transaction",
                "day": ledger.at[item.row].astype("datetime64[D]").astype(object),
                "ref_table": "transactions",
                "ref_id": row_id,
                "magnitude": item.magnitude,
                "description": profile.anomaly_text(
                    item.reason, amount, item.magnitude, ledger.note[item.row]
                ),
            }
        )
    return {
        "accounts": accounts,
        "counterparties": counterparties,
        "transactions": transactions,
    }, anomalies


def make_capacity(
    tables: Mapping[str, Mapping], calendar: Calendar, label: str = CAPACITY_LABEL
) -> dict[str, dict]:
    """``capacity_resources`` (the hot wallets' transaction energy) and ``capacity_samples``
    every 5 minutes over the last :data:`CAPACITY_DAYS` days of ``tables`` (as
    :func:`make_treasury` returns them; times on the wall clock like the ledger's).

    Sized from the ledger: the refill covers :data:`REFILL_SHARE` of the average usage and the
    capacity about :data:`CAPACITY_DAYS_OF_USAGE` days of it. The operators top the energy up to
    full when it falls to :data:`CAPACITY_TOP_UP_PCT` %; the last top-up is placed and sized
    so that the window ends near :data:`CAPACITY_END_PCT` % and falling. Vectorized over the
    sorted debit times (one ``searchsorted``): a few milliseconds at any scale."""
    accounts, transactions = tables["accounts"], tables["transactions"]
    hot_ids = [i for i, tier in zip(accounts["id"], accounts["tier"]) if tier == "hot"]
    account_ids = np.asarray(transactions["account_id"])
    debit = np.isin(account_ids, hot_ids) & (np.asarray(transactions["amount_cents"]) < 0)
    times = np.sort(np.asarray(transactions["occurred_at"], dtype="datetime64[s]")[debit])
    end = np.datetime64(calendar.end, "s") + np.timedelta64(1, "D")
    steps = CAPACITY_DAYS * 86400 // CAPACITY_STEP_SECONDS
    grid = end - np.arange(steps, -1, -1) * np.timedelta64(CAPACITY_STEP_SECONDS, "s")
    counts = np.diff(np.searchsorted(times, grid, side="right"), prepend=0)
    counts[0] = 0  # the first sample only starts the series
    used = counts * COST_PER_TRANSACTION
    daily = float(used.sum()) / CAPACITY_DAYS
    refill_per_hour = round(REFILL_SHARE * daily / 24, 1)
    capacity = float(_nice(max(daily * CAPACITY_DAYS_OF_USAGE, COST_PER_TRANSACTION * 10)))
    refill_step = refill_per_hour * CAPACITY_STEP_SECONDS / 3600
    # the step after the latest full top-up that still drains to the target: topped up to a
    # level sized to land on it (a whole transaction would overshoot between steps)
    last_top_up = min(_last_top_up(used, capacity, refill_step) + 1, len(used) - 1)
    top_up_to = _top_up_level(used, capacity, refill_step, last_top_up)
    level, levels, topped = 0.7 * capacity, [], []
    for i, spent in enumerate(used.tolist()):
        level = min(capacity, max(0.0, level + (refill_step if i else 0.0) - spent))
        added = 0.0
        if i == last_top_up or (i < last_top_up and level <= capacity * CAPACITY_TOP_UP_PCT / 100):
            target = top_up_to if i == last_top_up else capacity
            added = max(0.0, target - level)
            level = max(level, target)
        levels.append(level)
        topped.append(added)
    n = len(grid)
    refilled = np.full(n, refill_step)
    refilled[0] = 0.0
    resources = {
        "id": [1],
        "name": [CAPACITY_NAME],
        "label": [label],
        "unit": [CAPACITY_UNIT],
        "capacity": [capacity],
        "refill_per_hour": [refill_per_hour],
        "cost_per_transaction": [COST_PER_TRANSACTION],
        "tier": ["hot"],
        "currency": [str(accounts["currency"][0]) if len(accounts["currency"]) else None],
        "created_at": np.array([grid[0]], dtype="datetime64[s]"),
    }
    samples = {
        "id": np.arange(1, n + 1),
        "resource_id": np.ones(n, dtype=np.int64),
        "sampled_at": grid,
        "level": np.array(levels, dtype=np.float64),
        "used": used.astype(np.float64),
        "refilled": refilled,
        "topped_up": np.array(topped, dtype=np.float64),
        "transactions": counts.astype(np.int64),
    }
    # the models are imported here so the demo sink finds their tables in the metadata
    return {CapacityResource.__tablename__: resources, CapacitySample.__tablename__: samples}


def _nice(value: float) -> float:
    """``value`` rounded up to two significant digits (29,340 -> 30,000)."""
    magnitude = 10 ** max(0, int(np.floor(np.log10(max(value, 1.0)))) - 1)
    return float(np.ceil(value / magnitude) * magnitude)


def _end_level(
    used: np.ndarray, capacity: float, refill_step: float, start: int, level: float | None = None
) -> float:
    level = capacity if level is None else level
    for spent in used[start + 1 :].tolist():
        level = min(capacity, max(0.0, level + refill_step - spent))
    return level


def _last_top_up(used: np.ndarray, capacity: float, refill_step: float) -> int:
    """The latest step from which a full tank ends at or below :data:`CAPACITY_END_PCT` %: the
    end level only falls as the start moves earlier, so a binary search finds it (0 when even
    the whole window does not drain that far)."""
    target = capacity * CAPACITY_END_PCT / 100
    lo, hi = 0, len(used) - 1
    if _end_level(used, capacity, refill_step, lo) > target:
        return 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _end_level(used, capacity, refill_step, mid) <= target:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _top_up_level(used: np.ndarray, capacity: float, refill_step: float, start: int) -> float:
    """The level to top up to at ``start`` so that the window ends at about
    :data:`CAPACITY_END_PCT` % (the end level grows with it: bisection)."""
    target = capacity * CAPACITY_END_PCT / 100
    lo, hi = 0.0, capacity
    for _ in range(30):
        mid = (lo + hi) / 2
        if _end_level(used, capacity, refill_step, start, mid) < target:
            lo = mid
        else:
            hi = mid
    return hi
