"""ROI maths worked out by hand, including the divisions by zero that must read "n/a"."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bi_app.analytics import roi


def test_roi_and_profit():
    # revenue 12 500.00, cost 10 000.00: (12 500 − 10 000) / 10 000 = 25 %
    assert roi.roi_pct(1_250_000, 1_000_000) == Decimal("25.00")
    assert roi.net_profit_cents(1_250_000, 1_000_000) == 250_000
    # a loss: 3 / 7 → −57.142…, rounded half up to −57.14
    assert roi.roi_pct(300, 700) == Decimal("-57.14")
    # 1 / 3 of a cent above the cost: 33.333… → 33.33
    assert roi.roi_pct(400, 300) == Decimal("33.33")


def test_zero_cost_and_zero_attendees_are_not_available():
    assert roi.roi_pct(5000, 0) is None
    assert roi.cost_per_attendee_cents(5000, 0) is None
    assert roi.revenue_per_attendee_cents(5000, 0) is None
    assert roi.rate_pct(3, 0) is None
    assert roi.change_pct(10, 0) is None
    figures = roi.roi_figures(0, 0, 0, 0)
    assert (figures.roi_pct, figures.cost_per_attendee_cents, figures.break_even_attendees) == (
        None,
        None,
        0,
    )


def test_per_attendee_rounds_to_whole_cents():
    # 10 000 cents over 3 attendees = 3333.33… → 3333
    assert roi.cost_per_attendee_cents(10_000, 3) == Decimal(3333)
    # 20 001 / 2 = 10 000.5 → 10 001 (half up)
    assert roi.revenue_per_attendee_cents(20_001, 2) == Decimal(10_001)


def test_break_even():
    # cost 1 000.00 at 30.00 a ticket: 33.3 → 34 attendees
    assert roi.break_even_attendees(100_000, 3000) == 34
    # exactly 40 tickets
    assert roi.break_even_attendees(120_000, 3000) == 40
    # 700.00 of sponsorship leaves 300.00 to cover: 10 tickets
    assert roi.break_even_attendees(100_000, 3000, other_revenue_cents=70_000) == 10
    assert roi.break_even_attendees(100_000, 3000, other_revenue_cents=150_000) == 0
    assert roi.break_even_attendees(100_000, 0) is None  # a free ticket cannot break even


def test_roi_figures():
    # cost 8 000, tickets 6 000 (200 × 30), sponsors 4 000; 160 attendees
    f = roi.roi_figures(800_000, 1_000_000, 160, 3000, ticket_revenue_cents=600_000)
    assert f.net_profit_cents == 200_000
    assert f.roi_pct == Decimal("25.00")
    assert f.cost_per_attendee_cents == Decimal(5000)
    assert f.revenue_per_attendee_cents == Decimal(6250)
    assert f.break_even_attendees == 134  # (800 000 − 400 000) / 3000 = 133.3


BASE = roi.WhatIfBase(
    cost_cents=800_000,
    ticket_revenue_cents=600_000,
    other_revenue_cents=400_000,
    attendees=160,
    ticket_price_cents=3000,
)


def test_what_if_unchanged_reproduces_the_event():
    f = roi.what_if(BASE, Decimal(0), 160, 3000)
    assert (f.cost_cents, f.revenue_cents, f.roi_pct) == (800_000, 1_000_000, Decimal("25.00"))


def test_what_if_changes():
    # costs −25 % → 6 000; revenue unchanged 10 000 → ROI (10 000 − 6 000) / 6 000 = 66.67 %
    assert roi.what_if(BASE, Decimal(-25), 160, 3000).roi_pct == Decimal("66.67")
    # yield = 600 000 / (160 × 3000) = 1.25; 200 attendees at 40.00 → 200 × 4000 × 1.25 = 1 000 000
    f = roi.what_if(BASE, Decimal(0), 200, 4000)
    assert f.revenue_cents == 1_400_000
    assert f.roi_pct == Decimal("75.00")
    # nobody comes: only sponsors, 4 000 − 8 000 → −50 %
    assert roi.what_if(BASE, Decimal(0), 0, 3000).roi_pct == Decimal("-50.00")
    # everything free: cost −100 % → ROI n/a, never an error
    assert roi.what_if(BASE, Decimal(-100), 160, 3000).roi_pct is None


def test_what_if_free_event_uses_list_price():
    free = roi.WhatIfBase(
        cost_cents=100_000,
        ticket_revenue_cents=0,
        other_revenue_cents=0,
        attendees=50,
        ticket_price_cents=0,
    )
    # 50 × 25.00 = 1 250.00 against 1 000.00 → 25 %
    assert roi.what_if(free, Decimal(0), 50, 2500).roi_pct == Decimal("25.00")


def test_parse_what_if():
    assert roi.parse_what_if("-10", "120", "19.99") == (Decimal(-10), 120, 1999)
    assert roi.parse_what_if(5, 0, 0) == (Decimal(5), 0, 0)
    assert roi.parse_what_if(2.5, 10.0, 19.99) == (Decimal("2.5"), 10, 1999)
    assert roi.parse_what_if("0e999999", "0", "0E-999999") == (Decimal(0), 0, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, 1, 1), "Cost change"),
        (("abc", 1, 1), "Cost change"),
        (("nan", 1, 1), "Cost change"),
        (("-101", 1, 1), "Cost change"),
        (("0", "1.5", 1), "Attendance"),
        (("0", "-1", 1), "Attendance"),
        (("0", 1, "-1"), "Ticket price"),
        (("0", 1, "1.234"), "Ticket price"),
        (("0", 1, "Infinity"), "Ticket price"),
        ((True, 1, 1), "Cost change"),
        (("1e999999999", 1, 1), "Cost change: '1e999999999' is out of range"),
        (("0", "1e999999999", 1), "Attendance: '1e999999999' is out of range"),
        (("0", 1, "1e999999999"), "Ticket price: '1e999999999' is out of range"),
        (("0", 1, "-1e999999999"), "Ticket price: '-1e999999999' is out of range"),
        (("0", 1, "9" * 5000), "Ticket price: too long"),
        (("0", [1], 1), "Attendance: enter a number"),
    ],
)
def test_parse_what_if_rejects(args, message):
    with pytest.raises(roi.WhatIfError, match=message):
        roi.parse_what_if(*args)
