"""The figure builders' own cost: building a figure and serializing it as Dash does
(``plotly.io.json.to_json_plotly``), on a year of daily data. No database: the inputs are
synthetic frames shaped like what ``bi_app/data`` returns.

This is what a callback adds to its data call on a cache miss. Builders return plain dicts
(see ``components/figures.py``); as plotly.graph_objects figures the same builders cost
23-180 ms each, most of it property validation. Target: median <= 25 ms per call, and every
builder returns a dict.

    .venv/bin/python -m bench.figures [--runs 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from plotly.io.json import to_json_plotly

from bench.harness import RESULTS_DIR, summary, write_report
from bi_app.analytics import growth
from bi_app.channels.base import ChannelStats
from bi_app.channels.service import ChannelReport, ChannelResult
from components import event_figures as ev
from components import figures as ov
from components import sales_figures as sf

TARGET_MS = 25.0
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]


def _daily(rng: np.random.Generator, start: str, days: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.date_range(start, periods=days, freq="D").date,
            "revenue_cents": rng.integers(0, 10**7, days),
            "orders": rng.integers(0, 500, days),
        }
    )


def cases() -> dict[str, Callable[[], Any]]:
    """Each builder on inputs of realistic size: 366 days for the time series."""
    rng = np.random.default_rng(42)
    year = _daily(rng, "2024-01-01", 366)
    trend = growth.growth_table(
        year, _daily(rng, "2023-01-01", 365), _daily(rng, "2023-01-01", 365), "day"
    )
    platforms = pd.DataFrame(
        [
            (code, code.title(), status, int(rng.integers(0, 9999)), 0)
            for code in ("web", "app", "market", "store")
            for status in STATUSES
        ],
        columns=["platform", "platform_name", "status", "orders", "revenue_cents"],
    )
    lost = pd.DataFrame(
        {
            "period": year["period"],
            "cancelled_orders": rng.integers(0, 20, 366),
            "cancelled_cents": rng.integers(0, 10**5, 366),
            "refunded_orders": rng.integers(0, 20, 366),
            "refunded_cents": rng.integers(0, 10**5, 366),
            "all_orders": rng.integers(100, 500, 366),
        }
    )
    lost["lost_share"] = (lost.cancelled_orders + lost.refunded_orders) / lost.all_orders
    status = pd.DataFrame(
        {
            "status": STATUSES,
            "orders": rng.integers(1, 999, 6),
            "revenue_cents": rng.integers(1, 10**6, 6),
            "share": [1 / 6] * 6,
        }
    )
    categories = pd.DataFrame(
        {
            "category": [f"c{i}" for i in range(12)],
            "category_name": [f"Category {i}" for i in range(12)],
            "revenue_cents": rng.integers(1, 10**8, 12),
            "units": rng.integers(1, 999, 12),
            "orders": 1,
            "share": [1 / 12] * 12,
        }
    )
    ranking = pd.DataFrame(
        {
            "rank": range(1, 51),
            "sku": [f"S{i}" for i in range(50)],
            "product": [f"Product {i}" for i in range(50)],
            "category": "x",
            "units": rng.integers(1, 999, 50),
            "orders": 1,
            "revenue_cents": rng.integers(1, 10**6, 50),
            "share": 0.02,
        }
    )
    report = ChannelReport(
        7,
        tuple(
            ChannelResult(
                c,
                ChannelStats(c, 1000 * i, 100 * i, 7 * i),
                "live" if i % 2 else "stale",
                dt.datetime(2024, 3, 1),
                "demo",
            )
            for i, c in enumerate(["web", "instagram", "mail", "x", "tiktok", "search"], 1)
        ),
        dt.datetime(2024, 3, 1),
    )
    checkins = pd.DataFrame(
        {
            "hour": pd.Series(pd.date_range("2024-03-01 08:00", periods=72, freq="h")).astype(
                "datetime64[us]"
            ),
            "checkins": pd.array(rng.integers(0, 2000, 72), dtype="int64"),
        }
    )
    profile = pd.DataFrame(
        [
            (dim, f"{dim}-{i}", int(rng.integers(1, 99)))
            for dim, n in (("age_band", 7), ("gender", 3), ("region", 12), ("returning", 2))
            for i in range(n)
        ],
        columns=["dimension", "value", "participants"],
    )
    comparison = pd.DataFrame(
        {
            "event_id": range(12),
            "code": [f"EV-{i}" for i in range(12)],
            "name": [f"Fair {i}" for i in range(12)],
            "starts_at": pd.date_range("2023-01-01", periods=12, freq="MS"),
            "roi": pd.array(rng.random(12) - 0.3, dtype="Float64"),
        }
    )
    costs = pd.DataFrame(
        {
            "category": ["venue", "catering", "marketing", "staff", "other"],
            "cost_cents": pd.array([500_000, 200_000, 200_000, 100_000, 100_000], dtype="int64"),
            "share": [5 / 11, 2 / 11, 2 / 11, 1 / 11, 1 / 11],
        }
    )
    return {
        "empty_figure": lambda: ov.empty_figure("Nothing to show"),
        "revenue_trend day": lambda: ov.revenue_trend_figure(year, "day", "EUR"),
        "revenue_trend week": lambda: ov.revenue_trend_figure(year, "week", "EUR"),
        "platform_status": lambda: ov.platform_status_figure(platforms, clickable=True),
        "sales revenue": lambda: sf.revenue_figure(trend, "day", "EUR"),
        "sales growth": lambda: sf.growth_figure(trend, "day"),
        "sales orders": lambda: sf.orders_figure(trend, "day", "EUR"),
        "sales trend_figures (3)": lambda: sf.trend_figures(trend, "day", "EUR"),
        "sales lost": lambda: sf.lost_figure(lost, "day", "EUR"),
        "sales status": lambda: sf.status_figure(status, "EUR"),
        "sales category": lambda: sf.category_figure(categories, "EUR"),
        "sales ranking": lambda: sf.ranking_figure(ranking, "revenue", "EUR"),
        "events channels": lambda: ev.channel_figure(report),
        "events checkins (72 h)": lambda: ev.checkins_figure(checkins),
        "events profile (4 charts)": lambda: ev.profile_figure(profile),
        "events comparison": lambda: ev.comparison_figure(comparison, 5, 17.5),
        "events costs": lambda: ev.costs_figure(costs, {"venue": 0.4, "catering": 0.2}, "EUR"),
    }


def measure(build: Callable[[], Any], runs: int) -> tuple[list[float], bool]:
    """Milliseconds per build + serialization, and whether every figure was a plain dict."""
    samples, plain = [], True
    for i in range(runs + 3):  # the first three warm caches (Babel, pandas) and are dropped
        start = time.perf_counter()
        out = build()
        figures = out if isinstance(out, tuple) else (out,)
        for fig in figures:
            to_json_plotly(fig)
        elapsed = (time.perf_counter() - start) * 1000
        plain = plain and all(isinstance(f, dict) for f in figures)
        if i >= 3:
            samples.append(elapsed)
    return samples, plain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    results, ok = {}, True
    print(f"{'builder':<30}{'median':>9}{'p95':>9}  verdict")
    for name, build in cases().items():
        samples, plain = measure(build, args.runs)
        stats = summary(samples)
        passed = plain and stats["median"] <= TARGET_MS
        ok = ok and passed
        results[name] = {**stats, "plain_dict": plain, "ok": passed}
        verdict = "ok" if passed else ("FAIL" if plain else "FAIL (not a plain dict)")
        print(f"{name:<30}{stats['median']:>9.2f}{stats['p95']:>9.2f}  {verdict}")
    print(f"times in ms (build + to_json_plotly); target median <= {TARGET_MS:g} ms, plain dicts")
    report = {
        "target": f"median <= {TARGET_MS:g} ms per builder call, plain dicts",
        "runs": args.runs,
        "results": results,
    }
    return write_report(RESULTS_DIR / "figures.json", report, ok)


if __name__ == "__main__":
    raise SystemExit(main())
