"""A hand-made :class:`~bi_app.reports.model.Report` for renderer tests: Korean product and
customer names, every column kind, a trend, a platform breakdown, and a customer table long
enough to span several PDF pages. Build it with :func:`make_report`; the constants say what to
look for in the output."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

from bi_app.reports.model import (
    Chart,
    Column,
    Insight,
    Kpi,
    Period,
    Report,
    Section,
    Table,
)

PERIOD = Period(
    kind="weekly", start=dt.date(2026, 11, 30), end=dt.date(2026, 12, 6), timezone="Asia/Seoul"
)
PERIOD_LABEL = "Week of Nov 30 – Dec 6, 2026"
GENERATED_AT = dt.datetime(2026, 12, 7, 9, 30)
GENERATED_TEXT = "Dec 7, 2026, 09:30"  # how the English PDF writes GENERATED_AT
TITLE = "Weekly business report"

PRODUCTS = [
    "무선 이어폰 프로",
    "스마트 워치 5",
    "노트북 파우치",
    "휴대용 충전기",
    "블루투스 스피커",
]
CUSTOMER_COUNT = 120  # rows of the customer table: several A4 pages
PLATFORMS = [("쿠팡", 48_120_000.0, 0.41), ("네이버 스마트스토어", 39_500_000.0, 0.34),
             ("자사몰", 29_070_000.0, 0.25)]  # fmt: skip
TREND_DAYS = 7

# a few customers with known names and values, then generated ones
CUSTOMERS = ["김민준", "이서연", "박지호", "최수아", "정예준"]
FAMILY = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"]
GIVEN = [
    "민준",
    "서연",
    "지호",
    "수아",
    "예준",
    "하은",
    "도윤",
    "지우",
    "시우",
    "서윤",
    "주원",
    "하린",
]

CUSTOMER_COLUMNS = [
    Column("customer", "Customer", "text"),
    Column("orders", "Orders", "int"),
    Column("revenue", "Revenue", "money"),
    Column("share", "Share", "percent"),
    Column("first_order", "First order", "date"),
    Column("last_order", "Last order", "datetime"),
    Column("score", "Score", "number"),
]


def customer_rows(count: int = CUSTOMER_COUNT) -> list[dict]:
    rows = []
    for i in range(count):
        name = CUSTOMERS[i] if i < len(CUSTOMERS) else f"{FAMILY[i % 10]}{GIVEN[i % 12]} {i:03d}"
        rows.append(
            {
                "customer": name,
                "orders": 40 - i // 4,
                "revenue": 2_500_000.0 - i * 15_000,
                "share": 0.05 - i * 0.0003,
                "first_order": dt.date(2024, 1, 1) + dt.timedelta(days=i * 3),
                "last_order": dt.datetime(2026, 12, 6, 18, 0) - dt.timedelta(hours=i),
                "score": round(0.99 - i * 0.004, 3),
            }
        )
    if len(rows) > 3:
        rows[3]["score"] = None  # an empty cell
    return rows


def trend_figure() -> go.Figure:
    days = [PERIOD.start + dt.timedelta(days=d) for d in range(TREND_DAYS)]
    figure = go.Figure(
        go.Scatter(x=days, y=[15e6, 16.2e6, 14.8e6, 17.5e6, 18.1e6, 21e6, 13.9e6], name="매출")
    )
    figure.update_layout(title="일별 매출 (Daily revenue)", margin={"t": 50, "l": 60, "r": 20})
    return figure


def platform_figure() -> go.Figure:
    figure = go.Figure(go.Bar(x=[p[0] for p in PLATFORMS], y=[p[1] for p in PLATFORMS]))
    figure.update_layout(title="플랫폼별 매출")
    return figure


def make_report(
    *, locale: str = "en", currency: str = "KRW", customers: int = CUSTOMER_COUNT
) -> Report:
    trend_rows = [
        {"day": PERIOD.start + dt.timedelta(days=d), "orders": 300 + d * 10, "revenue": rev}
        for d, rev in enumerate([15e6, 16.2e6, 14.8e6, 17.5e6, 18.1e6, 21e6, 13.9e6])
    ]
    sections = [
        Section(
            key="kpis",
            title="Key figures",
            kpis=[
                Kpi("Orders", 2_191, "int", vs_previous=0.082, vs_last_year=-0.031),
                Kpi("Average order", 53_363.0, "money", vs_previous=-0.012),
                Kpi("Repeat rate", 0.274, "percent", vs_previous=0.015, vs_last_year=None),
            ],
        ),
        Section(
            key="trend",
            title="Revenue trend",
            charts=[Chart("Daily revenue", trend_figure(), caption="Revenue per local day.")],
            tables=[
                Table(
                    "Daily revenue",
                    [
                        Column("day", "Day", "date"),
                        Column("orders", "Orders", "int"),
                        Column("revenue", "Revenue", "money"),
                    ],
                    trend_rows,
                )
            ],
        ),
        Section(
            key="sales_breakdown",
            title="Sales by platform",
            charts=[Chart("Revenue by platform", platform_figure())],
            tables=[
                Table(
                    "Revenue by platform",
                    [
                        Column("platform", "Platform", "text"),
                        Column("revenue", "Revenue", "money"),
                        Column("share", "Share", "percent"),
                    ],
                    [{"platform": p, "revenue": r, "share": s} for p, r, s in PLATFORMS],
                )
            ],
        ),
        Section(
            key="top_products",
            title="Top products",
            tables=[
                Table(
                    "Best sellers",
                    [
                        Column("product", "Product", "text"),
                        Column("units", "Units", "int"),
                        Column("revenue", "Revenue", "money"),
                    ],
                    [
                        {"product": name, "units": 500 - 70 * i, "revenue": 9e6 - 1.2e6 * i}
                        for i, name in enumerate(PRODUCTS)
                    ],
                    note="=SUM(A1:A9) stays text in the workbook.",
                )
            ],
        ),
        Section(
            key="customers",
            title="Customers",
            tables=[Table("Top customers", CUSTOMER_COLUMNS, customer_rows(customers))],
        ),
        Section(
            key="insights",
            title="Insights",
            insights=[
                Insight(
                    "무선 이어폰 프로 sales rose 24% on Saturday.",
                    "good",
                    recommendation="Keep the weekend promotion.",
                ),
                Insight("Refunds doubled on 자사몰.", "warning"),
            ],
        ),
        Section(key="events", title="Events", message="No events in this period."),
    ]
    return Report(
        title=TITLE,
        period=PERIOD,
        period_label=PERIOD_LABEL,
        generated_at=GENERATED_AT,
        locale=locale,
        currency=currency,
        cover_kpis=[
            Kpi("Revenue", 116_690_000.0, "money", vs_previous=0.124, vs_last_year=0.305),
            Kpi("Orders", 2_191, "int", vs_previous=0.082),
            Kpi("Customers", 1_487, "int", vs_previous=-0.021),
            Kpi("Conversion", 0.0312, "percent"),
        ],
        sections=sections,
        labels={},
    )
