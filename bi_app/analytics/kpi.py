"""Headline KPIs and their change against the previous equal-length period.

Pure maths on totals (``revenue_cents``, ``orders``, ``active_customers``), so the rules —
what a change means when the previous period had nothing, how the average order value is
defined — live in one tested place instead of in every card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bi_app.i18n import N_

KpiKind = Literal["money", "count"]


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str  # N_()-marked English: shown with _(kpi.label)
    value: float | int | None
    previous: float | int | None
    change_pct: float | None  # None when the previous value is 0 or unknown
    kind: KpiKind


def change_pct(value: float | None, previous: float | None) -> float | None:
    """Percentage change from ``previous`` to ``value``; None when it is undefined (previous is
    0 or either side is unknown). A fall from a negative base is still reported as a fall."""
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous) * 100.0


def average_order_value(revenue_cents: int, orders: int) -> float | None:
    """Revenue per order in cents; None when there were no orders (nothing to average)."""
    if not orders:
        return None
    return revenue_cents / orders


def _kpi(key: str, label: str, value: float | None, previous: float | None, kind: KpiKind) -> Kpi:
    return Kpi(key, label, value, previous, change_pct(value, previous), kind)


def overview_kpis(current: Mapping[str, int], previous: Mapping[str, int]) -> list[Kpi]:
    """Revenue, orders, average order value and active customers, each against ``previous``."""
    return [
        _kpi(
            "revenue", N_("Revenue"), current["revenue_cents"], previous["revenue_cents"], "money"
        ),
        _kpi("orders", N_("Orders"), current["orders"], previous["orders"], "count"),
        _kpi(
            "aov",
            N_("Average order value"),
            average_order_value(current["revenue_cents"], current["orders"]),
            average_order_value(previous["revenue_cents"], previous["orders"]),
            "money",
        ),
        _kpi(
            "active_customers",
            N_("Active customers"),
            current["active_customers"],
            previous["active_customers"],
            "count",
        ),
    ]
