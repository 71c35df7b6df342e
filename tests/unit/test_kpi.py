"""KPI maths: changes against the previous period, undefined cases, averages."""

from __future__ import annotations

import pytest

from bi_app.analytics.kpi import average_order_value, change_pct, overview_kpis


@pytest.mark.parametrize(
    ("value", "previous", "expected"),
    [
        (150, 100, 50.0),
        (50, 100, -50.0),
        (0, 100, -100.0),
        (100, 100, 0.0),
        (-50, -100, 50.0),  # a smaller loss is an improvement
        (-150, -100, -50.0),
        (5, 0, None),  # no base: undefined, not infinite
        (0, 0, None),
        (None, 10, None),
        (10, None, None),
    ],
)
def test_change_pct(value, previous, expected):
    result = change_pct(value, previous)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_average_order_value():
    assert average_order_value(10700, 4) == 2675.0
    assert average_order_value(1000, 3) == pytest.approx(333.3333)
    assert average_order_value(500, 0) is None


def test_overview_kpis_from_totals():
    current = {"revenue_cents": 9000, "orders": 3, "active_customers": 2, "units": 7}
    previous = {"revenue_cents": 12000, "orders": 0, "active_customers": 4, "units": 9}
    kpis = {k.key: k for k in overview_kpis(current, previous)}

    assert [k.key for k in overview_kpis(current, previous)] == [
        "revenue",
        "orders",
        "aov",
        "active_customers",
    ]
    assert kpis["revenue"].change_pct == pytest.approx(-25.0)
    assert kpis["revenue"].kind == "money" and kpis["orders"].kind == "count"
    assert kpis["orders"].change_pct is None  # previous period had no orders
    assert (kpis["aov"].value, kpis["aov"].previous, kpis["aov"].change_pct) == (3000.0, None, None)
    assert kpis["active_customers"].change_pct == pytest.approx(-50.0)
    assert kpis["active_customers"].label == "Active customers"


def test_overview_kpis_when_nothing_happened():
    zero = {"revenue_cents": 0, "orders": 0, "active_customers": 0, "units": 0}
    kpis = overview_kpis(zero, zero)
    assert all(k.change_pct is None for k in kpis)
    assert [k.value for k in kpis] == [0, 0, None, 0]
