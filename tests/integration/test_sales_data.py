"""The sales queries with a status filter and the growth queries (:mod:`bi_app.data.sales`,
:mod:`bi_app.data.sales_growth`) against a small hand-made dataset, on SQLite and PostgreSQL.

Every expected number below was worked out by hand from ORDERS (see the comments), not by running
the code. The main range is January 2024; the previous equal period is December 2023 and the
year-earlier one January 2023.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Engine

from tests.sales_dataset import load_sales_dataset

pytestmark = pytest.mark.integration

D = dt.date
T = dt.datetime
JAN = (D(2024, 1, 1), D(2024, 1, 31))

PLATFORMS = [(1, "web", "Web"), (2, "app", "Mobile app")]
CATEGORIES = [(1, "books", "Books"), (2, "toys", "Toys")]
PRODUCTS = [(1, "B1", "Novel", 1, 1000), (2, "B2", "Atlas", 1, 2500), (3, "T1", "Yo-yo", 2, 500)]
# id, customer, platform, status, ordered_at, total_cents, items [(product, qty)]
ORDERS = [
    # a year earlier: weeks of Mon 2023-01-09 and Mon 2023-01-16
    (301, 1, 1, "paid", T(2023, 1, 10, 10), 2000, [(1, 2)]),
    (302, 2, 2, "delivered", T(2023, 1, 20, 12), 1000, [(3, 2)]),
    # the previous period
    (401, 1, 1, "paid", T(2023, 12, 5, 9), 2500, [(2, 1)]),
    (402, 3, 2, "cancelled", T(2023, 12, 6, 9), 1000, [(1, 1)]),
    # January 2024
    (1, 1, 1, "paid", T(2024, 1, 2, 10), 2500, [(1, 2), (3, 1)]),
    (2, 2, 1, "delivered", T(2024, 1, 3, 23, 59, 59), 2500, [(2, 1)]),
    (3, 1, 2, "shipped", T(2024, 1, 10, 0, 0, 0), 2000, [(3, 4)]),
    (4, 3, 2, "cancelled", T(2024, 1, 10, 12), 1000, [(1, 1)]),
    (5, 3, 1, "pending", T(2024, 1, 12, 8), 500, [(3, 1)]),
    (6, 2, 2, "refunded", T(2024, 1, 14, 8), 5000, [(2, 2)]),
    (7, 3, 1, "paid", T(2024, 1, 20, 23, 30), 3700, [(1, 1), (2, 1)]),  # 200 shipping on top
    (8, 1, 1, "refunded", T(2024, 1, 25, 11), 1000, [(1, 1)]),
    # February
    (501, 2, 1, "paid", T(2024, 2, 1, 0, 0, 0), 1000, [(1, 1)]),
]


def load_dataset(engine: Engine) -> None:
    load_sales_dataset(
        engine,
        platforms=PLATFORMS,
        categories=CATEGORIES,
        products=PRODUCTS,
        customers=(1, 2, 3),
        orders=ORDERS,
        customers_since=T(2022, 1, 1),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def dataset_url(request, tmp_path):
    from bi_app.extensions import db
    from tests.conftest import migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sales.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    migrate(url)
    db.init(url)
    load_dataset(db.require_engine())
    yield url
    db.engine.dispose()


def _records(df):
    return df.to_dict("records")


# --- totals and KPIs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # revenue orders 1, 2, 3, 7; lost: 4 (cancelled 1000), 6 and 8 (refunded 5000 + 1000); 8 in
        # all
        (
            {},
            {
                "revenue_cents": 10700,
                "orders": 4,
                "lost_orders": 3,
                "lost_cents": 7000,
                "all_orders": 8,
            },
        ),
        # the value of refunded orders 6 and 8
        (
            {"statuses": ("refunded",)},
            {
                "revenue_cents": 6000,
                "orders": 2,
                "lost_orders": 2,
                "lost_cents": 6000,
                "all_orders": 8,
            },
        ),
        # web: 1, 2, 7 earn; 8 refunded; 5 pending
        (
            {"platforms": ("web",)},
            {
                "revenue_cents": 8700,
                "orders": 3,
                "lost_orders": 1,
                "lost_cents": 1000,
                "all_orders": 5,
            },
        ),
        # toys items: order 1 (500), 3 (2000); 5 is pending (500)
        (
            {"categories": ("toys",)},
            {
                "revenue_cents": 2500,
                "orders": 2,
                "lost_orders": 0,
                "lost_cents": 0,
                "all_orders": 3,
            },
        ),
    ],
)
def test_totals(dataset_url, args, expected):
    from bi_app.data.sales import order_totals

    assert order_totals(*JAN, **args) == expected


def test_kpis_pop_and_yoy(dataset_url):
    from bi_app.data.sales_growth import growth_kpis

    revenue, orders, aov, lost = growth_kpis(*JAN)
    # Dec 2023: order 401 (2500) earns, 402 cancelled; Jan 2023: 301 + 302 = 3000 from 2 orders
    assert (revenue.value, revenue.previous, revenue.year_ago) == (10700, 2500, 3000)
    assert revenue.pop_change == pytest.approx(328.0)
    assert revenue.yoy_change == pytest.approx(7700 / 3000 * 100)
    assert (orders.value, orders.previous, orders.year_ago) == (4, 1, 2)
    assert orders.pop_change == pytest.approx(300.0) and orders.yoy_change == pytest.approx(100.0)
    assert (aov.value, aov.previous, aov.year_ago) == (2675, 2500, 1500)
    assert aov.pop_change == pytest.approx(7.0) and aov.yoy_change == pytest.approx(
        1175 / 1500 * 100
    )
    # lost share: 3 of 8, 1 of 2 in December, 0 of 2 a year earlier
    assert (lost.value, lost.previous, lost.year_ago) == (0.375, 0.5, 0.0)
    assert lost.pop_change == pytest.approx(-12.5) and lost.yoy_change == pytest.approx(37.5)


# --- growth per period ------------------------------------------------------------------------


def test_monthly_growth(dataset_url):
    from bi_app.data.sales_growth import revenue_growth

    (row,) = _records(revenue_growth(*JAN, granularity="month"))
    assert row["period"] == D(2024, 1, 1)
    assert (row["revenue_cents"], row["orders"], row["aov_cents"]) == (10700, 4, 2675)
    assert (row["prev_revenue_cents"], row["yoy_revenue_cents"]) == (2500, 3000)
    assert row["revenue_pop_pct"] == pytest.approx(328.0)
    assert row["revenue_yoy_pct"] == pytest.approx(7700 / 3000 * 100)


def test_weekly_growth_compares_52_weeks_earlier(dataset_url):
    from bi_app.data.sales_growth import revenue_growth

    week1, week2 = _records(revenue_growth(D(2024, 1, 8), D(2024, 1, 21), granularity="week"))
    # week of Jan 8: order 3 (2000); the week before: orders 1 + 2 (5000); week of 2023-01-09: 301
    assert (week1["period"], week1["revenue_cents"], week1["prev_revenue_cents"]) == (
        D(2024, 1, 8),
        2000,
        5000,
    )
    assert week1["revenue_pop_pct"] == pytest.approx(-60.0)
    assert (week1["yoy_revenue_cents"], week1["revenue_yoy_pct"]) == (2000, pytest.approx(0.0))
    # week of Jan 15: order 7 (3700) vs 2000; a year earlier 302 (1000)
    assert (week2["revenue_cents"], week2["prev_revenue_cents"], week2["yoy_revenue_cents"]) == (
        3700,
        2000,
        1000,
    )
    assert week2["revenue_pop_pct"] == pytest.approx(85.0)
    assert week2["revenue_yoy_pct"] == pytest.approx(270.0)
    assert week2["orders_yoy_pct"] == pytest.approx(0.0)


def test_partial_months_compare_the_same_days(dataset_url):
    from bi_app.data.sales_growth import revenue_growth

    jan, feb = _records(revenue_growth(D(2024, 1, 15), D(2024, 2, 10), granularity="month"))
    # Jan 15-31: order 7 only; Dec 15-31 had nothing; Jan 15-31 2023: order 302 (1000)
    assert (jan["revenue_cents"], jan["prev_revenue_cents"], jan["yoy_revenue_cents"]) == (
        3700,
        0,
        1000,
    )
    assert jan["revenue_pop_pct"] is None and jan["revenue_yoy_pct"] == pytest.approx(270.0)
    # Feb 1-10: order 501 (1000) vs Jan 1-10: orders 1, 2, 3 (7000) — not the whole of January
    assert (feb["revenue_cents"], feb["prev_revenue_cents"], feb["prev_orders"]) == (1000, 7000, 3)
    assert feb["revenue_pop_pct"] == pytest.approx(-6000 / 7000 * 100)
    assert feb["yoy_revenue_cents"] == 0 and feb["revenue_yoy_pct"] is None


def test_yearly_grain(dataset_url):
    from bi_app.data.sales import lost_orders_trend, revenue_trend
    from bi_app.data.sales_growth import revenue_growth

    y2023, y2024 = _records(revenue_growth(D(2023, 1, 1), D(2024, 12, 31), granularity="year"))
    # 2023: orders 301, 302 and 401 (402 was cancelled); 2024: January's four and 501
    assert (y2023["period"], y2023["revenue_cents"], y2023["orders"]) == (D(2023, 1, 1), 5500, 3)
    assert (y2024["period"], y2024["revenue_cents"], y2024["orders"]) == (D(2024, 1, 1), 11700, 5)
    assert (y2024["prev_revenue_cents"], y2024["yoy_revenue_cents"]) == (5500, 5500)
    assert y2024["revenue_pop_pct"] == pytest.approx((11700 - 5500) / 5500 * 100)
    trend = _records(revenue_trend(D(2023, 6, 1), D(2024, 1, 31), granularity="year"))
    # only the days inside the range count: 401 in December 2023, January 2024
    assert [(r["period"], r["revenue_cents"]) for r in trend] == [
        (D(2023, 1, 1), 2500),
        (D(2024, 1, 1), 10700),
    ]
    lost = _records(lost_orders_trend(D(2023, 1, 1), D(2024, 12, 31), granularity="year"))
    assert [(r["cancelled_orders"], r["refunded_orders"]) for r in lost] == [(1, 0), (1, 2)]


def test_daily_growth_by_status(dataset_url):
    from bi_app.data.sales_growth import revenue_growth

    (day,) = _records(
        revenue_growth(D(2024, 1, 10), D(2024, 1, 10), statuses=("shipped", "cancelled"))
    )
    # Jan 10: order 3 shipped (2000) and order 4 cancelled (1000); nothing on Jan 9
    assert (day["revenue_cents"], day["orders"], day["prev_revenue_cents"]) == (3000, 2, 0)
    assert day["revenue_yoy_pct"] is None  # 2023-01-10's order 301 was paid, not shipped/cancelled


# --- cancellations and refunds ----------------------------------------------------------------


def test_lost_orders_trend(dataset_url):
    from bi_app.data.sales import lost_orders_trend

    (month,) = _records(lost_orders_trend(*JAN, granularity="month"))
    assert {
        k: month[k]
        for k in (
            "cancelled_orders",
            "cancelled_cents",
            "refunded_orders",
            "refunded_cents",
            "all_orders",
        )
    } == {
        "cancelled_orders": 1,
        "cancelled_cents": 1000,
        "refunded_orders": 2,
        "refunded_cents": 6000,
        "all_orders": 8,
    }
    assert month["lost_share"] == pytest.approx(0.375)

    week1, week2 = _records(lost_orders_trend(D(2024, 1, 8), D(2024, 1, 21), granularity="week"))
    # week of Jan 8: orders 3, 4 (cancelled), 5, 6 (refunded); week of Jan 15: order 7 only
    assert (week1["cancelled_orders"], week1["refunded_orders"], week1["all_orders"]) == (1, 1, 4)
    assert week1["lost_share"] == pytest.approx(0.5)
    assert (week2["all_orders"], week2["lost_share"]) == (1, 0.0)

    # a status filter keeps only the chosen kind; the share is still of all orders
    (refunds,) = _records(lost_orders_trend(*JAN, statuses=("refunded",), granularity="month"))
    assert (refunds["cancelled_orders"], refunds["refunded_orders"]) == (0, 2)
    assert refunds["lost_share"] == pytest.approx(0.25)


# --- breakdowns and rankings ------------------------------------------------------------------


def test_orders_by_status_and_platform(dataset_url):
    from bi_app.data.sales import orders_by_platform_status, orders_by_status

    by_status = {
        r["status"]: (r["orders"], r["revenue_cents"]) for r in _records(orders_by_status(*JAN))
    }
    assert by_status == {
        "pending": (1, 500),
        "paid": (2, 6200),
        "shipped": (1, 2000),
        "delivered": (1, 2500),
        "cancelled": (1, 1000),
        "refunded": (2, 6000),
    }
    assert [
        r["status"] for r in _records(orders_by_status(*JAN, statuses=("refunded", "paid")))
    ] == ["paid", "refunded"]

    rows = [
        (r["platform"], r["status"], r["orders"]) for r in _records(orders_by_platform_status(*JAN))
    ]
    assert rows == [
        ("app", "shipped", 1),
        ("app", "cancelled", 1),
        ("app", "refunded", 1),
        ("web", "pending", 1),
        ("web", "paid", 2),
        ("web", "delivered", 1),
        ("web", "refunded", 1),
    ]
    refunded = _records(orders_by_platform_status(*JAN, statuses=("refunded",)))
    assert [(r["platform"], r["revenue_cents"]) for r in refunded] == [("app", 5000), ("web", 1000)]


def test_category_sales(dataset_url):
    from bi_app.data.sales import category_sales

    rows = _records(category_sales(*JAN))
    # books: order 1 (2 x B1), 2 (B2), 7 (B1 + B2); toys: order 1 (T1), 3 (4 x T1)
    assert [(r["category"], r["revenue_cents"], r["units"], r["orders"]) for r in rows] == [
        ("books", 8000, 5, 3),
        ("toys", 2500, 5, 2),
    ]
    assert [r["share"] for r in rows] == [pytest.approx(8000 / 10500), pytest.approx(2500 / 10500)]
    refunded = _records(category_sales(*JAN, statuses=("refunded",)))
    assert [(r["category"], r["revenue_cents"], r["units"]) for r in refunded] == [
        ("books", 6000, 3)
    ]


def test_growth_by_platform_and_category(dataset_url):
    from bi_app.data.sales_growth import growth_by

    web, app = _records(growth_by("platform", *JAN))
    # web: orders 1, 2, 7 against 401 in December and 301 a year earlier; app: order 3 only,
    # nothing in December (402 was cancelled), 302 a year earlier
    assert (web["code"], web["name"], web["revenue_cents"], web["orders"]) == (
        "web",
        "Web",
        8700,
        3,
    )
    assert (web["prev_revenue_cents"], web["prev_orders"], web["yoy_revenue_cents"]) == (
        2500,
        1,
        2000,
    )
    assert web["revenue_pop"] == pytest.approx(2.48) and web["revenue_yoy"] == pytest.approx(3.35)
    assert web["orders_pop"] == pytest.approx(2.0)
    assert web["share"] == pytest.approx(8700 / 10700)
    assert (app["code"], app["revenue_cents"], app["prev_revenue_cents"]) == ("app", 2000, 0)
    assert pd.isna(app["revenue_pop"]) and app["revenue_yoy"] == pytest.approx(1.0)

    books, toys = _records(growth_by("category", *JAN))
    assert (books["code"], books["revenue_cents"], books["prev_revenue_cents"]) == (
        "books",
        8000,
        2500,
    )
    assert books["revenue_pop"] == pytest.approx(2.2) and books["revenue_yoy"] == pytest.approx(3.0)
    assert (toys["revenue_cents"], toys["yoy_revenue_cents"]) == (2500, 1000)
    assert pd.isna(toys["revenue_pop"])

    # the global filters apply: the web platform's categories; refunds as the chosen status
    (books_web,) = _records(growth_by("category", *JAN, platforms=("web",), statuses=("refunded",)))
    assert (books_web["code"], books_web["revenue_cents"]) == ("books", 1000)  # order 8
    # a platform that sold only in the comparison window still has its row, at -100 %
    (web_gone,) = _records(growth_by("platform", D(2024, 1, 4), D(2024, 1, 9)))
    # Jan 4-9 sold nothing; Dec 29 - Jan 3 had orders 1 and 2 on the web
    assert (web_gone["code"], web_gone["revenue_cents"], web_gone["prev_revenue_cents"]) == (
        "web",
        0,
        5000,
    )
    assert web_gone["revenue_pop"] == pytest.approx(-1.0) and pd.isna(web_gone["share"])
    with pytest.raises(ValueError, match="dimension"):
        growth_by("customer", *JAN)


def test_product_ranking(dataset_url):
    from bi_app.data.sales import product_ranking

    by_revenue = _records(product_ranking(*JAN))
    # B1: 2000 + 1000 (3 units); B2: 2500 + 2500 (2 units); T1: 500 + 2000 (5 units)
    assert [
        (r["rank"], r["sku"], r["revenue_cents"], r["units"], r["orders"]) for r in by_revenue
    ] == [(1, "B2", 5000, 2, 2), (2, "B1", 3000, 3, 2), (3, "T1", 2500, 5, 2)]
    assert [r["share"] for r in by_revenue] == [
        pytest.approx(v / 10500) for v in (5000, 3000, 2500)
    ]
    assert by_revenue[0]["product"] == "Atlas" and by_revenue[0]["category"] == "Books"

    by_units = _records(product_ranking(*JAN, metric="units", limit=2))
    assert [(r["sku"], r["units"]) for r in by_units] == [("T1", 5), ("B1", 3)]
    # the share is of all products, not of the two listed
    assert by_units[0]["share"] == pytest.approx(2500 / 10500)

    app = _records(product_ranking(*JAN, platforms=("app",)))
    assert [(r["sku"], r["revenue_cents"], r["share"]) for r in app] == [("T1", 2000, 1.0)]
    assert product_ranking(D(2022, 1, 1), D(2022, 1, 31)).empty
    with pytest.raises(ValueError):
        product_ranking(*JAN, metric="margin")


def test_results_are_cached_on_normalized_arguments(dataset_url, app_factory):
    from bi_app.data import cache
    from bi_app.data.sales import product_ranking

    app = app_factory(dataset_url)
    with app.server.app_context():
        cache.reset_stats()
        first = product_ranking(
            "2024-01-01", "2024-01-31", ["WEB", "app"], None, ["Paid", "shipped"]
        )
        again = product_ranking(JAN[0], JAN[1], ("app", "web"), [], ("shipped", "paid"))
        counts = cache.cache_stats()["namespaces"]["sales"]
    assert (counts["misses"], counts["hits"]) == (1, 1)
    assert _records(first) == _records(again)
    # paid or shipped: orders 1, 3 and 7; T1 and B2 tie on revenue, T1 sold more units
    assert [(r["sku"], r["revenue_cents"]) for r in _records(first)] == [
        ("B1", 3000),
        ("T1", 2500),
        ("B2", 2500),
    ]


@pytest.mark.parametrize(
    ("start", "end", "granularity", "filters"),
    [
        (D(2024, 1, 1), D(2024, 2, 10), "day", {}),
        (D(2024, 1, 3), D(2024, 1, 28), "week", {"platforms": ("web",)}),
        (D(2024, 1, 15), D(2024, 2, 10), "month", {"categories": ("books",)}),
        (D(2023, 12, 1), D(2024, 1, 31), "month", {"statuses": ("cancelled", "refunded")}),
    ],
)
def test_growth_in_one_statement_equals_a_query_per_window(
    dataset_url, start, end, granularity, filters
):
    from sqlalchemy import event

    from bi_app.analytics import growth
    from bi_app.data.sales import revenue_trend
    from bi_app.data.sales_growth import revenue_growth
    from bi_app.extensions import db

    args = (filters.get("platforms"), filters.get("categories"), filters.get("statuses"))
    expected = growth.growth_table(
        revenue_trend(start, end, *args, granularity),
        revenue_trend(
            *growth.comparison_window(start, end, granularity, "pop"), *args, granularity
        ),
        revenue_trend(
            *growth.comparison_window(start, end, granularity, "yoy"), *args, granularity
        ),
        granularity,
    )
    sent: list[str] = []

    def record(conn, cursor, statement, *_):
        sent.append(statement)

    event.listen(db.require_engine(), "before_cursor_execute", record)
    try:
        got = revenue_growth(start, end, *args, granularity)
    finally:
        event.remove(db.require_engine(), "before_cursor_execute", record)
    assert len(sent) == 1
    assert _records(got) == _records(expected)
    assert list(got.dtypes) == list(expected.dtypes)
    assert int(got["revenue_cents"].sum()) > 0  # the windows hold sales: nothing vacuous


def test_growth_is_one_cache_entry(dataset_url, app_factory):
    from bi_app.data import cache
    from bi_app.data.sales_growth import revenue_growth

    app = app_factory(dataset_url)
    with app.server.app_context():
        cache.reset_stats()
        first = revenue_growth(*JAN, granularity="week")
        again = revenue_growth(*JAN, granularity="week")
        counts = cache.cache_stats()["namespaces"]["sales"]
    # the three windows are not cached on their own: one miss, then one hit
    assert (counts["misses"], counts["hits"]) == (1, 1)
    assert _records(first) == _records(again)
