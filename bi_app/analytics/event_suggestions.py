"""Optimization suggestions for an event, computed from its own numbers and the thresholds.

Two rules: an attendance rate below the minimum suggests reminders, incentives and better
accessibility; a cost category whose share of the total is above its benchmark share shows how
far above it is (in percentage points) and what bringing it back to the benchmark would save.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bi_app.i18n import N_, _

# N_()-marked; a Suggestion shows them translated (see _Shown)
ATTENDANCE_ACTIONS = (
    N_("Send reminders 7 days, 1 day and 2 hours before the start, with a calendar invite."),
    N_("Offer an incentive for showing up: a voucher or early access handed out at check-in."),
    N_("Improve accessibility: a live stream or recording, clearer directions, step-free access."),
)


@dataclass(frozen=True)
class Message:
    """A message to show in the reader's language: an N_()-marked English ``text`` and its
    ``%(name)s`` values. Suggestions are cached (shared by every locale), so they keep this and
    translate it each time a page reads them."""

    text: str
    values: tuple[tuple[str, Any], ...] = ()

    def shown(self) -> str:
        return _(self.text, **dict(self.values))


def _shown(value: Any) -> Any:
    if isinstance(value, Message):
        return value.shown()
    if isinstance(value, tuple):
        return tuple(_shown(v) for v in value)
    return value


class _Shown:
    """A dataclass field holding plain text or :class:`Message` objects, read in the current
    locale (plain text as it is)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __init__(self, default: Any = None, *, required: bool = True) -> None:
        self.default, self.required = default, required

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            if self.required:
                raise AttributeError(self.slot)  # no default: the field is required
            return self.default
        stored = obj.__dict__
        # an entry pickled before this field was lazily translated kept it under its own name
        return _shown(stored[self.slot] if self.slot in stored else stored[self.slot[1:]])

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "attendance" or "cost"
    title: str = _Shown()  # type: ignore[assignment]
    detail: str = _Shown()  # type: ignore[assignment]
    actions: tuple[str, ...] = _Shown((), required=False)  # type: ignore[assignment]
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
        title=Message(
            N_("Attendance %(rate)s %% is below the %(target)s %% target"),
            (("rate", str(shown)), ("target", f"{threshold * 100:.0f}")),
        ),
        detail=Message(
            N_("%(missing)s of %(registered)s registered people did not attend."),
            (("missing", f"{registered - attended:,}"), ("registered", f"{registered:,}")),
        ),
        actions=tuple(Message(action) for action in ATTENDANCE_ACTIONS),
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
                title=Message(
                    N_("%(category)s is %(excess)s points above its benchmark share"),
                    (("category", category.capitalize()), ("excess", str(excess))),
                ),
                detail=Message(
                    N_(
                        "%(category)s takes %(share)s %% of the cost against a benchmark of "
                        "%(benchmark)s %%."
                    ),
                    (
                        ("category", category.capitalize()),
                        ("share", str((share * 100).quantize(Decimal("0.1"), ROUND_HALF_UP))),
                        ("benchmark", f"{benchmark * 100:.0f}"),
                    ),
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
