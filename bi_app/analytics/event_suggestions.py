"""Optimization suggestions for an event, computed from its own numbers and the thresholds.

Two rules: an attendance rate below the minimum suggests reminders, incentives and better
accessibility; a cost category whose share of the total is above its benchmark share shows how
far above it is (in percentage points) and what bringing it back to the benchmark would save.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

ATTENDANCE_ACTIONS = (
    "Send reminders 7 days, 1 day and 2 hours before the start, with a calendar invite.",
    "Offer an incentive for showing up: a voucher or early access handed out at check-in.",
    "Improve accessibility: a live stream or recording, clearer directions, step-free access.",
)


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "attendance" or "cost"
    title: str
    detail: str
    actions: tuple[str, ...] = field(default_factory=tuple)
    category: str | None = None
    excess_pct: Decimal | None = None  # percentage points above the benchmark share
    saving_cents: int | None = None


def attendance_suggestion(attended: int, registered: int, minimum: float) -> Suggestion | None:
    """A suggestion when attended / registered is below ``minimum`` (a fraction, e.g. 0.70)."""
    if registered <= 0:
        return None
    rate = Decimal(attended) / Decimal(registered)
    threshold = Decimal(str(minimum))
    if rate >= threshold:
        return None
    shown = (rate * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return Suggestion(
        kind="attendance",
        title=f"Attendance {shown} % is below the {threshold * 100:.0f} % target",
        detail=f"{registered - attended:,} of {registered:,} registered people did not attend.",
        actions=ATTENDANCE_ACTIONS,
    )


def cost_suggestions(
    costs_by_category: Mapping[str, int], benchmark_shares: Mapping[str, float]
) -> list[Suggestion]:
    """One suggestion per category above its benchmark share of the total cost, largest saving
    first. The saving is what the category would cost at its benchmark share of today's total."""
    total = sum(max(v, 0) for v in costs_by_category.values())
    if total <= 0:
        return []
    out = []
    for category, amount in costs_by_category.items():
        if category not in benchmark_shares or amount <= 0:
            continue
        benchmark = Decimal(str(benchmark_shares[category]))
        share = Decimal(amount) / Decimal(total)
        if share <= benchmark:
            continue
        excess = ((share - benchmark) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
        saving = int((Decimal(amount) - benchmark * total).quantize(Decimal(1), ROUND_HALF_UP))
        out.append(
            Suggestion(
                kind="cost",
                title=f"{category.capitalize()} is {excess} points above its benchmark share",
                detail=(
                    f"{category.capitalize()} takes "
                    f"{(share * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)} % "
                    f"of the cost against a benchmark of {benchmark * 100:.0f} %."
                ),
                category=category,
                excess_pct=excess,
                saving_cents=saving,
            )
        )
    out.sort(key=lambda s: (-(s.saving_cents or 0), s.category or ""))
    return out


def suggestions(
    attended: int,
    registered: int,
    costs_by_category: Mapping[str, int],
    *,
    attendance_min: float,
    benchmark_shares: Mapping[str, float],
) -> list[Suggestion]:
    """Every suggestion for one event: attendance first, then costs by potential saving."""
    found = attendance_suggestion(attended, registered, attendance_min)
    return ([found] if found else []) + cost_suggestions(costs_by_category, benchmark_shares)
