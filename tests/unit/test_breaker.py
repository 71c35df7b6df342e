"""The circuit breaker's state machine, driven by a fake clock."""

from __future__ import annotations

import datetime as dt

import pytest

from bi_app.channels.breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


WALL = dt.datetime(2024, 5, 1, 10, 42, tzinfo=dt.UTC)


def make(clock: Clock, **kw) -> CircuitBreaker:
    params = {"failure_ratio": 0.5, "window": 10, "min_calls": 4, "cooldown": 30.0}
    params.update(kw)
    return CircuitBreaker("channel:test", clock=clock, wall_clock=lambda: WALL, **params)


def test_stays_closed_below_minimum_calls():
    b = make(Clock())
    for _ in range(3):
        b.record_failure("boom")
    assert b.state == CLOSED  # 3 of 3 failed, but fewer than min_calls
    b.record_failure("boom")
    assert b.state == OPEN


def test_opens_at_half_failures_not_below():
    b = make(Clock())
    for outcome in (True, False, True, False, False):  # 2 of 5 = 40 %
        b.record_failure("x") if outcome else b.record_success()
    assert b.state == CLOSED
    b.record_failure("x")  # 3 of 6 = 50 %
    assert b.state == OPEN
    snap = b.snapshot()
    assert snap["state"] == "open" and snap["failures"] == 3 and snap["calls"] == 6
    assert snap["opened_at"] == WALL.isoformat() and snap["last_error"] == "x"


def test_sliding_window_forgets_old_failures():
    b = make(Clock(), window=4, min_calls=4)
    b.record_failure("x")
    for _ in range(3):
        b.record_success()
    for _ in range(3):  # the first failure has slid out: [ok, ok, ok, ok]
        b.record_success()
    b.record_failure("x")
    assert b.state == CLOSED  # 1 of the last 4
    b.record_failure("y")
    assert b.state == OPEN  # 2 of the last 4


def test_open_refuses_then_half_opens_after_cooldown_and_allows_one_trial():
    clock = Clock()
    b = make(clock)
    for _ in range(4):
        b.record_failure("down")
    assert not b.allow()
    with pytest.raises(BreakerOpen):
        b.call(lambda: 1)
    clock.now += 29.9
    assert b.state == OPEN and not b.allow()
    clock.now += 0.1
    assert b.state == HALF_OPEN
    assert b.allow()  # the trial
    assert not b.allow()  # only one at a time


def test_successful_trial_closes_with_a_fresh_window():
    clock = Clock()
    b = make(clock)
    for _ in range(4):
        b.record_failure("down")
    clock.now += 30
    assert b.call(lambda: "ok") == "ok"
    assert b.state == CLOSED
    snap = b.snapshot()
    assert snap["failures"] == 0 and snap["opened_at"] is None
    for _ in range(3):
        b.record_failure("again")
    assert b.state == CLOSED  # the old failures were forgotten


def test_failed_trial_reopens_for_another_cooldown():
    clock = Clock()
    b = make(clock)
    for _ in range(4):
        b.record_failure("down")
    clock.now += 30
    with pytest.raises(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    assert b.state == OPEN
    assert b.snapshot()["last_error"].startswith("ZeroDivisionError")
    clock.now += 29
    assert not b.allow()
    clock.now += 1
    assert b.state == HALF_OPEN


def test_late_results_while_open_change_nothing():
    clock = Clock()
    b = make(clock)
    for _ in range(4):
        b.record_failure("down")
    b.record_success()
    b.record_failure("late")
    assert b.state == OPEN
    clock.now += 30
    assert b.state == HALF_OPEN


def test_rejects_bad_parameters():
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_ratio=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", window=3, min_calls=5)
