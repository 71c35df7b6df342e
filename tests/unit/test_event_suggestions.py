"""Suggestions from attendance and cost shares, against numbers worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from bi_app.analytics.event_suggestions import ATTENDANCE_ACTIONS, cost_suggestions, suggestions

BENCH = {
    "venue": 0.30,
    "catering": 0.20,
    "technology": 0.12,
    "marketing": 0.18,
    "staff": 0.12,
    "materials": 0.05,
    "other": 0.03,
}


def test_low_attendance_suggests_reminders_incentives_accessibility():
    found = suggestions(60, 100, {}, attendance_min=0.70, benchmark_shares=BENCH)
    assert len(found) == 1
    s = found[0]
    assert s.kind == "attendance"
    assert "60.0 %" in s.title and "70 %" in s.title
    assert "40 of 100" in s.detail
    assert s.actions == ATTENDANCE_ACTIONS
    assert any("remind" in a.lower() for a in s.actions)
    assert any("incentive" in a.lower() for a in s.actions)
    assert any("accessib" in a.lower() for a in s.actions)


def test_attendance_at_or_above_threshold_or_no_registrations():
    assert suggestions(70, 100, {}, attendance_min=0.70, benchmark_shares=BENCH) == []
    assert suggestions(0, 0, {}, attendance_min=0.70, benchmark_shares=BENCH) == []


def test_cost_category_above_benchmark():
    # total 10 000: venue 4 500 (45 %, +15 points, saving 4 500 − 3 000 = 1 500);
    # catering 2 000 (20 %, at benchmark), marketing 2 500 (25 %, +7 points, saving 700);
    # other 1 000 (10 %, +7 points, saving 1 000 − 300 = 700)
    costs = {"venue": 450_000, "catering": 200_000, "marketing": 250_000, "other": 100_000}
    found = cost_suggestions(costs, BENCH)
    assert [(s.category, s.excess_pct, s.saving_cents) for s in found] == [
        ("venue", Decimal("15.0"), 150_000),
        ("marketing", Decimal("7.0"), 70_000),
        ("other", Decimal("7.0"), 70_000),
    ]
    assert "45.0 %" in found[0].detail and "30 %" in found[0].detail


def test_costs_without_total_or_unknown_category():
    assert cost_suggestions({}, BENCH) == []
    assert cost_suggestions({"venue": 0}, BENCH) == []
    # an unknown category counts towards the total but has no benchmark of its own
    found = cost_suggestions({"venue": 100, "mystery": 100}, BENCH)
    assert [(s.category, s.excess_pct, s.saving_cents) for s in found] == [
        ("venue", Decimal("20.0"), 40)
    ]


def test_both_kinds_attendance_first():
    found = suggestions(1, 10, {"venue": 100}, attendance_min=0.7, benchmark_shares=BENCH)
    assert [s.kind for s in found] == ["attendance", "cost"]
    assert found[1].saving_cents == 70  # 100 − 0.30 × 100
