"""A period's figures as a :class:`~bi_app.reports.model.Report`: one section per key of
:data:`~bi_app.reports.model.SECTIONS`, each read from the same data-layer services the pages
use (:mod:`bi_app.data`, :mod:`bi_app.monitoring.dashboard`), never from raw tables of its own.

The caller provides what the data layer needs: an app built by ``create_app(settings)`` (it binds
the database engine) and, ideally, its app context (``with app.server.app_context():``) — in it
the services share the data cache, the report's messages are translated (flask-babel) and the
app's ``BI_TIMEZONE`` and ``BI_CURRENCY`` apply. Outside an app context the services call straight
through to the database and every text stays in English. Jobs run in an app context already.

Every section is built on its own: a service that fails or a period without data gives that
section a ``message`` and the report goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
from sqlalchemy import Engine

from bi_app.db.periods import business_timezone, local_date, use_timezone
from bi_app.errors import ServiceError
from bi_app.i18n import (
    N_,
    _,
    app_currency,
    currency_decimals,
    format_date,
    format_number,
    format_percent,
)
from bi_app.reports.model import (
    SECTIONS,
    Chart,
    Column,
    Insight,
    Kpi,
    Period,
    Report,
    Section,
    Table,
)
from bi_app.reports.periods import (
    ReportError,
    last_year,
    period_label,
    previous,
    use_locale,
    utc_bounds,
)

__all__ = ["SECTION_TITLES", "THRESHOLDS", "ReportFilters", "build_report", "filters_label"]

log = logging.getLogger(__name__)

SECTION_TITLES = {
    "kpis": N_("Key figures"),
    "trend": N_("Revenue and orders"),
    "sales_breakdown": N_("Sales by platform and category"),
    "top_products": N_("Top products"),
    "customers": N_("Customers"),
    "events": N_("Events"),
    "treasury": N_("Treasury"),
    "forecasts": N_("Forecasts"),
    "anomalies": N_("Anomalies"),
    "alerts": N_("Alerts"),
    "system": N_("System health and performance"),
    "insights": N_("Insights and recommendations"),
}
THRESHOLDS = {
    "volume_change": 0.20,  # a change of transaction or order volume worth a word, either way
    "margin": 0.20,  # a profit margin below this is low
}
TOP_PRODUCTS = 10
TOP_FINDINGS = 10
TOP_DEVIATIONS = 10
FORECAST_SERIES = {"revenue": N_("Daily revenue"), "orders": N_("Daily orders")}
TIER_LABELS = {"hot": N_("Hot"), "warm": N_("Warm"), "cold": N_("Cold")}
LEVEL_LABELS = {
    "critical": N_("critical"),
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
}
# Sections whose services cannot narrow their figures to platforms or categories: with a filter,
# they say so in a note rather than silently show the whole business's figures.
UNFILTERED_NOTES = {
    "customers": N_(
        "The platform and category filters apply to the key figures only: segments, churn risk "
        "and the churn model cover all customers."
    ),
    "events": N_("Events cannot be filtered by platform or category: all events are shown."),
    "treasury": N_(
        "Treasury figures cannot be filtered by platform or category: all accounts are shown."
    ),
    "forecasts": N_(
        "The platform and category filters do not apply here: the forecasts cover all sales."
    ),
    "anomalies": N_(
        "Transactions cannot be filtered by platform or category: all accounts are shown."
    ),
    "alerts": N_("Alerts cannot be filtered by platform or category: all alerts are shown."),
    "system": N_("System figures cannot be filtered by platform or category."),
    "insights": N_(
        "The sales insights follow the platform and category filters; the others (treasury, "
        "events, alerts, anomalies, forecasts) cover the whole business."
    ),
}
_COLORS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b")


# --- helpers ------------------------------------------------------------------------------------


def _change(value: float | None, before: float | None) -> float | None:
    """The fractional change from ``before`` to ``value``; None when undefined."""
    if value is None or before is None or before == 0:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return (value - before) / abs(before)


def _ratio(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


def _number(value: Any) -> float | None:
    """A plain float, None for missing values (None, NaN, pandas NA)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _figure(title: str | None = None) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        template="plotly_white",
        margin={"l": 50, "r": 20, "t": 40 if title else 20, "b": 40},
        height=360,
        legend={"orientation": "h", "y": -0.15},
        title=title,
    )
    return figure


@dataclass(frozen=True)
class ReportFilters:
    """Sales platforms and product categories (codes) a report is narrowed to; None: all."""

    platforms: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # sorted and deduplicated: the data layer's cache keys and the label stay stable
        for name in ("platforms", "categories"):
            codes = getattr(self, name)
            object.__setattr__(self, name, tuple(sorted(set(codes))) if codes else None)

    @property
    def active(self) -> bool:
        return bool(self.platforms or self.categories)


def filters_label(filters: ReportFilters | None, locale: str | None = None) -> str | None:
    """``"Platforms: Web shop · Categories: Fashion"`` in ``locale`` (names from the catalogue,
    codes when it cannot be read); None without a filter."""
    if filters is None or not filters.active:
        return None
    from bi_app.data import catalog

    try:
        names = catalog.display_names()
    except Exception:  # the label still says what was filtered, by code
        log.warning("filter names unavailable for a report", exc_info=True)
        names = {}
    parts = []
    with use_locale(locale):
        if filters.platforms:
            shown = ", ".join(names.get("platform", {}).get(c, c) for c in filters.platforms)
            parts.append(_("Platforms: %(names)s", names=shown))
        if filters.categories:
            shown = ", ".join(names.get("category", {}).get(c, c) for c in filters.categories)
            parts.append(_("Categories: %(names)s", names=shown))
    return " · ".join(parts)


@contextlib.contextmanager
def _period_timezone(tz: str) -> Iterator[None]:
    """The services bucket days in the business time zone: make it the period's for the build
    when they differ (a report for another zone than the app's)."""
    if tz == business_timezone():
        yield
        return
    with use_timezone(tz):
        yield


@dataclass
class _Build:
    """What the section builders share: the periods, the currency and memoized service calls
    (the insights reuse the figures of the sections)."""

    period: Period
    currency: str
    locale: str
    engine: Engine | None
    filters: ReportFilters = field(default_factory=ReportFilters)
    before: Period = field(init=False)
    year_ago: Period = field(init=False)
    memo: dict[Any, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.before = previous(self.period)
        self.year_ago = last_year(self.period)

    def once(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def major(self, minor: float | None) -> float | None:
        """Minor units of the report's currency as a float of major units."""
        if minor is None:
            return None
        return float(minor) / 10 ** currency_decimals(self.currency)

    @property
    def codes(self) -> dict[str, tuple[str, ...] | None]:
        """The filter as the sales and customer services take it (keyword arguments)."""
        return {"platforms": self.filters.platforms, "categories": self.filters.categories}

    def bounds(self, period: Period | None = None) -> tuple[dt.datetime, dt.datetime]:
        return utc_bounds(period or self.period)


# --- the figures, memoized -------------------------------------------------------------------


def _sales(b: _Build, period: Period) -> dict[str, int]:
    from bi_app.data import sales

    def compute() -> dict[str, int]:
        totals = sales.sales_totals(period.start, period.end, **b.codes)
        lost = sales.order_totals(period.start, period.end, **b.codes)
        return {**totals, "lost_orders": lost["lost_orders"], "all_orders": lost["all_orders"]}

    return b.once(("sales", period), compute)


def _events_in_period(b: _Build) -> Any:
    from bi_app.data import events

    def compute() -> Any:
        frame = events.events_list()
        if frame.empty:
            return frame
        days = [local_date(_as_datetime(v), b.period.timezone) for v in frame["starts_at"]]
        keep = [b.period.start <= d <= b.period.end for d in days]
        return frame[keep].reset_index(drop=True)

    return b.once("events", compute)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return dt.datetime.fromisoformat(str(value))


def _treasury(b: _Build, period: Period) -> Any:
    from bi_app.data import treasury

    return b.once(
        ("treasury", period), lambda: treasury.overview(period.start, period.end, b.currency)
    )


def _findings(b: _Build) -> Any:
    from bi_app.data import treasury

    return b.once(
        "findings",
        lambda: treasury.findings(b.period.start, b.period.end, b.currency, limit=TOP_FINDINGS),
    )


def _deviations(b: _Build) -> list[dict[str, Any]]:
    from bi_app.data import forecasts

    return b.once("deviations", lambda: forecasts.recent_deviations(b.period.start, b.period.end))


def _alert_history(b: _Build) -> dict[str, Any]:
    from bi_app.data import alerts

    lo, hi = b.bounds()
    # history() takes an inclusive end; the period's end is exclusive
    end = hi - dt.timedelta(microseconds=1)
    return b.once(
        "alerts",
        lambda: alerts.history(lo, end, engine=b.engine, tz=b.period.timezone),
    )


# --- sections -------------------------------------------------------------------------------


def _kpis(b: _Build) -> Section:
    now, before, year = (_sales(b, p) for p in (b.period, b.before, b.year_ago))

    def kpi(label: str, fn: Callable[[dict], float | None], kind: str) -> Kpi:
        value = fn(now)
        return Kpi(
            _(label),
            value,
            kind,  # type: ignore[arg-type]
            vs_previous=_change(value, fn(before)),
            vs_last_year=_change(value, fn(year)),
        )

    kpis = [
        kpi(N_("Revenue"), lambda f: b.major(f["revenue_cents"]), "money"),
        kpi(N_("Orders"), lambda f: f["orders"], "int"),
        kpi(
            N_("Average order value"),
            lambda f: b.major(_ratio(f["revenue_cents"], f["orders"])),
            "money",
        ),
        kpi(N_("Active customers"), lambda f: f["active_customers"], "int"),
        kpi(N_("Units sold"), lambda f: f["units"], "int"),
        kpi(
            N_("Cancelled or refunded"),
            lambda f: _ratio(f["lost_orders"], f["all_orders"]),
            "percent",
        ),
    ]
    message = _("No sales in this period.") if now["orders"] == 0 else None
    return Section("kpis", _(SECTION_TITLES["kpis"]), kpis=kpis, message=message)


def _trend(b: _Build) -> Section:
    from bi_app.data import sales

    granularity = "day" if b.period.days <= 92 else "week"
    frame = sales.revenue_trend(b.period.start, b.period.end, **b.codes, granularity=granularity)
    if frame.empty or int(frame["orders"].sum()) == 0:
        return Section("trend", _(SECTION_TITLES["trend"]), message=_("No sales in this period."))
    days = [p if isinstance(p, dt.date) else dt.date.fromisoformat(str(p)) for p in frame["period"]]
    revenue = [b.major(int(v)) for v in frame["revenue_cents"]]
    orders = [int(v) for v in frame["orders"]]
    figure = _figure()
    figure.add_trace(go.Bar(x=days, y=revenue, name=_("Revenue"), marker_color=_COLORS[0]))
    figure.add_trace(
        go.Scatter(
            x=days,
            y=orders,
            name=_("Orders"),
            yaxis="y2",
            mode="lines+markers",
            line={"color": _COLORS[1]},
        )
    )
    figure.update_layout(
        yaxis={"title": b.currency},
        yaxis2={"title": _("Orders"), "overlaying": "y", "side": "right", "showgrid": False},
    )
    first = _("Day") if granularity == "day" else _("Week")
    table = Table(
        _("Revenue and orders per day")
        if granularity == "day"
        else _("Revenue and orders per week"),
        [
            Column("period", first, "date"),
            Column("revenue", _("Revenue"), "money"),
            Column("orders", _("Orders"), "int"),
            Column("aov", _("Average order value"), "money"),
        ],
        [
            {"period": d, "revenue": r, "orders": o, "aov": _ratio(r, o)}
            for d, r, o in zip(days, revenue, orders)
        ],
    )
    best = max(range(len(days)), key=lambda i: revenue[i] or 0)
    shown = format_date(days[best], b.locale)
    if granularity == "day":
        caption = _("Best day: %(day)s.", day=shown)
    else:
        caption = _("Best week: the week of %(day)s.", day=shown)
    chart = Chart(_("Revenue and orders"), figure, caption)
    return Section("trend", _(SECTION_TITLES["trend"]), charts=[chart], tables=[table])


def _sales_breakdown(b: _Build) -> Section:
    from bi_app.data import sales
    from bi_app.db.models import REVENUE_STATUSES

    title = _(SECTION_TITLES["sales_breakdown"])
    by_status = sales.orders_by_platform_status(b.period.start, b.period.end, **b.codes)
    sold = (
        by_status[by_status["status"].isin(REVENUE_STATUSES)] if not by_status.empty else by_status
    )
    if sold.empty:
        return Section("sales_breakdown", title, message=_("No sales in this period."))
    per = sold.groupby(["platform", "platform_name"], as_index=False)[
        ["orders", "revenue_cents"]
    ].sum()  # a few rows: platforms x statuses
    per = per.sort_values(["revenue_cents", "platform"], ascending=[False, True])
    total = int(per["revenue_cents"].sum())
    platforms = Table(
        _("Sales by platform"),
        [
            Column("platform", _("Platform")),
            Column("orders", _("Orders"), "int"),
            Column("revenue", _("Revenue"), "money"),
            Column("share", _("Share of revenue"), "percent"),
        ],
        [
            {
                "platform": str(r.platform_name),
                "orders": int(r.orders),
                "revenue": b.major(int(r.revenue_cents)),
                "share": _ratio(int(r.revenue_cents), total),
            }
            for r in per.itertuples()
        ],
    )
    categories = sales.category_sales(b.period.start, b.period.end, **b.codes)
    category_table = Table(
        _("Sales by category"),
        [
            Column("category", _("Category")),
            Column("units", _("Units"), "int"),
            Column("orders", _("Orders"), "int"),
            Column("revenue", _("Revenue"), "money"),
            Column("share", _("Share of revenue"), "percent"),
        ],
        [
            {
                "category": str(r.category_name),
                "units": int(r.units),
                "orders": int(r.orders),
                "revenue": b.major(int(r.revenue_cents)),
                "share": _number(r.share),
            }
            for r in categories.itertuples()
        ],
        note=_("Item revenue: an order with items of two categories counts in both."),
    )
    figure = _figure()
    figure.add_trace(
        go.Bar(
            x=[row["platform"] for row in platforms.rows],
            y=[row["revenue"] for row in platforms.rows],
            name=_("Revenue"),
            marker_color=_COLORS[0],
        )
    )
    figure.update_layout(yaxis={"title": b.currency}, showlegend=False)
    charts = [Chart(_("Revenue by platform"), figure)]
    if not categories.empty:
        pie = _figure()
        pie.add_trace(
            go.Pie(
                labels=[row["category"] for row in category_table.rows],
                values=[row["revenue"] for row in category_table.rows],
                hole=0.4,
                sort=False,
            )
        )
        charts.append(Chart(_("Revenue by category"), pie))
    return Section("sales_breakdown", title, charts=charts, tables=[platforms, category_table])


def _top_products(b: _Build) -> Section:
    from bi_app.data import sales

    title = _(SECTION_TITLES["top_products"])
    frame = sales.product_ranking(b.period.start, b.period.end, **b.codes, limit=TOP_PRODUCTS)
    if frame.empty:
        return Section("top_products", title, message=_("No products sold in this period."))
    table = Table(
        _("Best sellers by revenue"),
        [
            Column("rank", _("Rank"), "int"),
            Column("sku", _("SKU")),
            Column("product", _("Product")),
            Column("category", _("Category")),
            Column("units", _("Units"), "int"),
            Column("revenue", _("Revenue"), "money"),
            Column("share", _("Share of revenue"), "percent"),
        ],
        [
            {
                "rank": int(r.rank),
                "sku": str(r.sku),
                "product": str(r.product),
                "category": str(r.category),
                "units": int(r.units),
                "revenue": b.major(int(r.revenue_cents)),
                "share": _number(r.share),
            }
            for r in frame.itertuples()
        ],
    )
    figure = _figure()
    figure.add_trace(
        go.Bar(
            x=[row["revenue"] for row in reversed(table.rows)],
            y=[row["product"] for row in reversed(table.rows)],
            orientation="h",
            marker_color=_COLORS[2],
        )
    )
    figure.update_layout(xaxis={"title": b.currency}, showlegend=False)
    return Section("top_products", title, charts=[Chart(_("Top products"), figure)], tables=[table])


def _customers(b: _Build) -> Section:
    from bi_app.analytics.churn import TAG_LABELS
    from bi_app.analytics.segmentation import SEGMENT_LABELS
    from bi_app.data import customers

    title = _(SECTION_TITLES["customers"])
    figures = [
        customers.period_figures(p.start, p.end, **b.codes)
        for p in (b.period, b.before, b.year_ago)
    ]
    now_kpis = customers.kpis_from_figures(figures[0], figures[1])
    year_kpis = customers.kpis_from_figures(figures[0], figures[2])
    kinds = {"count": "int", "percent": "percent", "money": "money"}
    kpis = []
    for k, y in zip(now_kpis, year_kpis):
        value = b.major(k.value) if k.kind == "money" else k.value
        before = b.major(k.previous) if k.kind == "money" else k.previous
        year = b.major(y.previous) if k.kind == "money" else y.previous
        kpis.append(
            Kpi(
                _(k.label),
                _number(value),
                kinds.get(k.kind, "number"),  # type: ignore[arg-type]
                vs_previous=_change(_number(value), _number(before)),
                vs_last_year=_change(_number(value), _number(year)),
            )
        )
    segments = customers.segment_summary()
    tables = []
    if int(segments["customers"].sum()) > 0:
        tables.append(
            Table(
                _("Customer segments"),
                [
                    Column("segment", _("Segment")),
                    Column("customers", _("Customers"), "int"),
                    Column("customer_share", _("Share of customers"), "percent"),
                    Column("revenue", _("Lifetime revenue"), "money"),
                    Column("revenue_share", _("Share of revenue"), "percent"),
                ],
                [
                    {
                        "segment": _(SEGMENT_LABELS.get(r.segment, r.segment)),
                        "customers": int(r.customers),
                        "customer_share": float(r.customer_share),
                        "revenue": b.major(int(r.revenue_cents)),
                        "revenue_share": float(r.revenue_share),
                    }
                    for r in segments.itertuples()
                ],
                note=_("As of the last segment recomputation."),
            )
        )
    tags = customers.tag_counts()
    if int(tags["customers"].sum()) > 0:
        tables.append(
            Table(
                _("Churn risk"),
                [Column("tag", _("Tag")), Column("customers", _("Customers"), "int")],
                [
                    {"tag": _(TAG_LABELS.get(r.tag, r.tag)), "customers": int(r.customers)}
                    for r in tags.itertuples()
                ],
            )
        )
    churn = customers.churn_model_summary()
    if churn.get("trained"):
        kpis.append(Kpi(_("Churn model AUC"), _number(churn.get("auc")), "number"))
        kpis.append(Kpi(_("Customers with a churn score"), churn.get("scored"), "int"))
    message = None
    if figures[0]["visitors"] == 0 and figures[0]["buyers"] == 0 and not tables:
        message = _("No customer activity in this period.")
    return Section("customers", title, kpis=kpis, tables=tables, message=message)


def _event_benchmark() -> float:
    from bi_app.data import events

    return float(events.threshold("events.industry_avg_roi_pct")) / 100


def _events(b: _Build) -> Section:
    title = _(SECTION_TITLES["events"])
    frame = _events_in_period(b)
    if frame.empty:
        return Section("events", title, message=_("No events in this period."))
    benchmark = _event_benchmark()
    rows = []
    for r in frame.itertuples():
        roi = _number(r.roi)
        rows.append(
            {
                "event": str(r.name),
                "date": local_date(_as_datetime(r.starts_at), b.period.timezone),
                "status": str(r.status),
                "attended": int(r.attended),
                "revenue": b.major(int(r.revenue_cents)),
                "cost": b.major(int(r.cost_cents)),
                "profit": b.major(int(r.profit_cents)),
                "roi": roi,
                "vs_benchmark": None if roi is None else roi - benchmark,
            }
        )
    table = Table(
        _("Events of the period"),
        [
            Column("event", _("Event")),
            Column("date", _("Date"), "date"),
            Column("status", _("Status")),
            Column("attended", _("Attended"), "int"),
            Column("revenue", _("Revenue"), "money"),
            Column("cost", _("Cost"), "money"),
            Column("profit", _("Profit"), "money"),
            Column("roi", _("ROI"), "percent"),
            Column("vs_benchmark", _("ROI against the benchmark"), "percent"),
        ],
        rows,
        note=_("Industry benchmark ROI: %(roi)s.", roi=format_percent(benchmark, b.locale)),
    )
    revenue = int(frame["revenue_cents"].sum())
    cost = int(frame["cost_cents"].sum())
    total_roi = _ratio(revenue - cost, cost)
    kpis = [
        Kpi(_("Events"), len(rows), "int"),
        Kpi(_("Event revenue"), b.major(revenue), "money"),
        Kpi(_("Event cost"), b.major(cost), "money"),
        Kpi(_("ROI"), total_roi, "percent"),
        Kpi(_("Industry benchmark ROI"), benchmark, "percent"),
    ]
    figure = _figure()
    figure.add_trace(
        go.Bar(
            x=[row["event"] for row in rows],
            y=[row["roi"] for row in rows],
            name=_("ROI"),
            marker_color=_COLORS[4],
        )
    )
    figure.add_hline(y=benchmark, line_dash="dash", line_color=_COLORS[3])
    figure.update_layout(yaxis={"tickformat": ".0%"}, showlegend=False)
    chart = Chart(_("ROI by event"), figure, _("The dashed line is the industry benchmark."))
    return Section("events", title, kpis=kpis, charts=[chart], tables=[table])


def _volume(overview: Any) -> int | None:
    return None if overview is None else overview.totals.inflow + overview.totals.outflow


def _treasury_section(b: _Build) -> Section:
    title = _(SECTION_TITLES["treasury"])
    now = _treasury(b, b.period)
    if now is None:
        return Section("treasury", title, message=_("No treasury accounts in this currency."))
    before = _treasury(b, b.before)
    year = _treasury(b, b.year_ago)

    def kpi(label: str, fn: Callable[[Any], float | None]) -> Kpi:
        value = b.major(fn(now))
        return Kpi(
            _(label),
            value,
            "money",
            vs_previous=_change(value, b.major(fn(before)) if before else None),
            vs_last_year=_change(value, b.major(fn(year)) if year else None),
        )

    kpis = [
        kpi(N_("Total balance"), lambda o: o.total_balance),
        kpi(N_("Inflow"), lambda o: o.totals.inflow),
        kpi(N_("Outflow"), lambda o: o.totals.outflow),
        kpi(N_("Net flow"), lambda o: o.totals.net),
        kpi(N_("Transaction volume"), _volume),
    ]
    table = Table(
        _("Balances by tier at the end of the period"),
        [
            Column("tier", _("Tier")),
            Column("balance", _("Balance"), "money"),
            Column("share", _("Share"), "percent"),
        ],
        [
            {
                "tier": _(TIER_LABELS.get(tier, tier)),
                "balance": b.major(amount),
                "share": _number(now.shares.get(tier)),
            }
            for tier, amount in now.balances.items()
        ],
    )
    insights = [_treasury_advice(b, r) for r in now.recommendations]
    return Section(
        "treasury", title, kpis=kpis, tables=[table], insights=[i for i in insights if i]
    )


def _treasury_advice(b: _Build, recommendation: Any) -> Insight | None:
    from bi_app.i18n import format_money

    amount = format_money(recommendation.amount, b.currency, b.locale)
    if recommendation.kind == "move_to_cold":
        return Insight(
            _("The cold reserve is below its minimum share."),
            "warning",
            _("Move %(amount)s to cold storage.", amount=amount),
        )
    if recommendation.kind == "top_up_hot":
        return Insight(
            _("The hot wallet is below its minimum balance."),
            "warning",
            _("Top up the hot wallet with %(amount)s.", amount=amount),
        )
    return None


def _forecasts(b: _Build) -> Section:
    from bi_app.data import forecasts

    title = _(SECTION_TITLES["forecasts"])
    quality_rows, charts = [], []
    for series, label in FORECAST_SERIES.items():
        found = forecasts.latest_forecast(series)
        run = found and found["run"]
        if not run:
            continue
        quality = run["quality"]
        quality_rows.append(
            {
                "series": _(label),
                "fitted": run["fitted_at"],
                "mape": _number(quality.get("mape")),
                "baseline": _number(quality.get("baseline_mape")),
                "coverage": _number(quality.get("coverage")),
                "met": _("yes")
                if quality.get("beats_baseline") and quality.get("coverage_ok")
                else _("no"),
            }
        )
        points = found["points"]
        inside = points[(points["day"] >= b.period.start) & (points["day"] <= b.period.end)]
        if inside.empty:
            continue

        # the forecasts store revenue in major units already (bi_app.forecasting)
        days = list(inside["day"])
        figure = _figure()
        figure.add_trace(
            go.Scatter(
                x=days + days[::-1],
                y=[_number(v) for v in inside["yhat_upper"]]
                + [_number(v) for v in inside["yhat_lower"]][::-1],
                fill="toself",
                fillcolor="rgba(37,99,235,0.15)",
                line={"width": 0},
                name=_("Forecast band"),
                hoverinfo="skip",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=days,
                y=[_number(v) for v in inside["yhat"]],
                name=_("Forecast"),
                line={"color": _COLORS[0], "dash": "dash"},
            )
        )
        figure.add_trace(
            go.Scatter(
                x=days,
                y=[_number(v) for v in inside["actual"]],
                name=_("Actual"),
                mode="lines+markers",
                line={"color": _COLORS[1]},
            )
        )
        charts.append(Chart(_(label), figure))
    deviations = _deviations(b)
    tables = []
    if quality_rows:
        tables.append(
            Table(
                _("Forecast quality"),
                [
                    Column("series", _("Series")),
                    Column("fitted", _("Fitted"), "datetime"),
                    Column("mape", _("MAPE"), "percent"),
                    Column("baseline", _("Baseline MAPE"), "percent"),
                    Column("coverage", _("Band coverage"), "percent"),
                    Column("met", _("Target met")),
                ],
                quality_rows,
                note=_("Backtest of the latest model against the seasonal-naive baseline."),
            )
        )
    if deviations:
        tables.append(_deviation_table(b, deviations))
    if not tables and not charts:
        return Section("forecasts", title, message=_("No forecast has been fitted yet."))
    return Section("forecasts", title, charts=charts, tables=tables)


def _deviation_table(b: _Build, deviations: list[dict[str, Any]]) -> Table:
    from bi_app.forecasting import SERIES_LABELS

    def value(series: str, v: float) -> float | None:
        return b.major(v) if series == "revenue" else _number(v)

    top = sorted(deviations, key=lambda d: abs(d["off_pct"] or 0), reverse=True)[:TOP_DEVIATIONS]
    return Table(
        _("Days outside the forecast band"),
        [
            Column("day", _("Day"), "date"),
            Column("series", _("Series")),
            Column("actual", _("Actual"), "number"),
            Column("expected", _("Expected"), "number"),
            Column("lower", _("Lower bound"), "number"),
            Column("upper", _("Upper bound"), "number"),
            Column("off", _("Off by"), "percent"),
        ],
        [
            {
                "day": d["day"],
                "series": _(SERIES_LABELS.get(d["series"], d["series"])),
                "actual": value(d["series"], d["actual"]),
                "expected": value(d["series"], d["expected"]),
                "lower": value(d["series"], d["lower"]),
                "upper": value(d["series"], d["upper"]),
                "off": _number(d["off_pct"]),
            }
            for d in top
        ],
    )


def _anomalies(b: _Build) -> Section:
    title = _(SECTION_TITLES["anomalies"])
    found = _findings(b)
    frame = found.frame
    if frame.empty:
        message = (
            _("No unusual transactions were found in this period.")
            if found.scored
            else _("Transactions have not been scored yet.")
        )
        return Section("anomalies", title, message=message)
    rows = [
        {
            "when": _local_time(r.occurred_at, b.period.timezone),
            "reference": str(r.reference),
            "account": str(r.account),
            "counterparty": str(r.counterparty),
            "kind": str(r.kind),
            "amount": b.major(int(r.amount)),
            "score": float(r.score),
            "level": _(LEVEL_LABELS[r.level]) if r.level in LEVEL_LABELS else _("large"),
        }
        for r in frame.itertuples()
    ]
    table = Table(
        _("Most unusual transactions"),
        [
            Column("when", _("When"), "datetime"),
            Column("reference", _("Reference")),
            Column("account", _("Account")),
            Column("counterparty", _("Counterparty")),
            Column("kind", _("Kind")),
            Column("amount", _("Amount"), "money"),
            Column("score", _("Score"), "number"),
            Column("level", _("Risk")),
        ],
        rows,
    )
    return Section("anomalies", title, tables=[table])


def _local_time(value: dt.datetime, tz: str) -> dt.datetime:
    from zoneinfo import ZoneInfo

    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return aware.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def _alerts(b: _Build) -> Section:
    from bi_app.alerts.rules import SEVERITY_LABELS
    from bi_app.db.alert_models import SEVERITIES

    title = _(SECTION_TITLES["alerts"])
    history = _alert_history(b)
    if not history["fired"]:
        return Section("alerts", title, message=_("No alerts fired in this period."))
    kpis = [
        Kpi(_("Alerts fired"), history["fired"], "int"),
        Kpi(
            _("Mean time to acknowledge (minutes)"),
            _minutes(history["mtta_seconds"]),
            "number",
        ),
        Kpi(_("Mean time to resolve (minutes)"), _minutes(history["mttr_seconds"]), "number"),
    ]
    by_severity = Table(
        _("Alerts by severity"),
        [Column("severity", _("Severity")), Column("count", _("Alerts"), "int")],
        [
            {"severity": _(SEVERITY_LABELS[s]), "count": history["by_severity"].get(s, 0)}
            for s in reversed(SEVERITIES)
        ],
    )
    per_rule: dict[str, int] = {}
    for _day, rule, n in history["per_rule_day"]:
        per_rule[rule] = per_rule.get(rule, 0) + n
    rules = Table(
        _("Alerts by rule"),
        [Column("rule", _("Rule")), Column("count", _("Alerts"), "int")],
        [
            {"rule": rule, "count": n}
            for rule, n in sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    )
    return Section("alerts", title, kpis=kpis, tables=[by_severity, rules])


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _system(b: _Build) -> Section:
    from bi_app.extensions import db
    from bi_app.monitoring import dashboard, metrics

    title = _(SECTION_TITLES["system"])
    engine = b.engine or db.require_engine()
    lo, hi = b.bounds()
    # the performance page's reading of the hour and minute roll-ups, over the period's window
    rows = dashboard._metric_rows(engine, lo, hi)
    merged = metrics.merge_rows(rows, ("kind", "name", "method"))
    endpoints = dashboard._summaries(merged, "http")
    requests = sum(h.count for (kind, _n, _m), (h, _e) in merged.items() if kind == "http")
    errors = sum(e for (kind, _n, _m), (_h, e) in merged.items() if kind == "http")
    if not requests:
        return Section(
            "system", title, message=_("No request metrics were recorded in this period.")
        )
    kpis = [
        Kpi(_("Requests"), requests, "int"),
        Kpi(_("Error rate"), _ratio(errors, requests), "percent"),
    ]
    table = Table(
        _("Slowest endpoints"),
        [
            Column("endpoint", _("Endpoint")),
            Column("method", _("Method")),
            Column("count", _("Requests"), "int"),
            Column("errors", _("Errors"), "int"),
            Column("p50", _("p50 (ms)"), "number"),
            Column("p95", _("p95 (ms)"), "number"),
        ],
        [
            {
                "endpoint": e["name"],
                "method": e["method"],
                "count": e["count"],
                "errors": e["errors"],
                "p50": _number(e["p50_ms"]),
                "p95": _number(e["p95_ms"]),
            }
            for e in endpoints
        ],
    )
    return Section("system", title, kpis=kpis, tables=[table])


# --- insights -----------------------------------------------------------------------------------


def _guarded(compute: Callable[[], Any]) -> Any:
    """A figure for an insight rule, or None when its service is unavailable."""
    try:
        return compute()
    except Exception:  # an insight is optional; its section says what failed
        log.warning("report insight input unavailable", exc_info=True)
        return None


def _volume_insight(label: str, change: float | None) -> Insight | None:
    limit = THRESHOLDS["volume_change"]
    if change is None or abs(change) <= limit:
        return None
    shown = format_percent(abs(change), digits=1)
    if change > 0:
        return Insight(
            _("%(what)s rose by %(change)s against the previous period.", what=label, change=shown),
            "good",
            _("Check that stock, staff and capacity keep up with the higher volume."),
        )
    return Insight(
        _("%(what)s fell by %(change)s against the previous period.", what=label, change=shown),
        "warning",
        _("Look for the cause: a platform, a category or a campaign that stopped."),
    )


def _insights(b: _Build) -> Section:
    title = _(SECTION_TITLES["insights"])
    found: list[Insight] = []
    sales_now = _guarded(lambda: _sales(b, b.period))
    sales_before = _guarded(lambda: _sales(b, b.before))
    if sales_now and sales_before:
        for label, key in ((N_("Revenue"), "revenue_cents"), (N_("Orders"), "orders")):
            insight = _volume_insight(_(label), _change(sales_now[key], sales_before[key]))
            if insight:
                found.append(insight)
    now, before = _guarded(lambda: _treasury(b, b.period)), _guarded(lambda: _treasury(b, b.before))
    if now is not None and before is not None:
        insight = _volume_insight(_("Transaction volume"), _change(_volume(now), _volume(before)))
        if insight:
            found.append(insight)
    from bi_app.data.events import HELD_STATUSES

    events = _guarded(lambda: _events_in_period(b))
    if events is not None and not events.empty:
        revenue, cost = int(events["revenue_cents"].sum()), int(events["cost_cents"].sum())
        margin = _ratio(revenue - cost, revenue)
        if cost > 0 and margin is not None and margin < THRESHOLDS["margin"]:
            found.append(
                Insight(
                    _(
                        "The events' profit margin is %(margin)s, below %(limit)s.",
                        margin=format_percent(margin, digits=1),
                        limit=format_percent(THRESHOLDS["margin"], digits=0),
                    ),
                    "warning",
                    _("Review event costs and ticket prices before the next events."),
                )
            )
        benchmark = _guarded(_event_benchmark)
        below = [
            str(r.name)
            for r in events.itertuples()
            if r.status in HELD_STATUSES
            and benchmark is not None
            and _number(r.roi) is not None
            and _number(r.roi) < benchmark
        ]
        if below:
            found.append(
                Insight(
                    _(
                        "Events held below the industry benchmark ROI: %(count)s (%(names)s).",
                        count=format_number(len(below)),
                        names=", ".join(below[:5]),
                    ),
                    "warning",
                    _("Compare their cost per attendee with the events that beat it."),
                )
            )
    history = _guarded(lambda: _alert_history(b))
    if history:
        critical = sum(history["by_severity"].get(s, 0) for s in ("critical", "emergency"))
        if critical:
            found.append(
                Insight(
                    _(
                        "Critical alerts fired in this period: %(count)s.",
                        count=format_number(critical),
                    ),
                    "critical",
                    _("Review their causes in the alert center and tighten the rules that fire."),
                )
            )
    findings = _guarded(lambda: _findings(b))
    if findings is not None and not findings.frame.empty:
        risky = findings.frame[findings.frame["level"].isin(["high", "critical"])]
        if len(risky):
            found.append(
                Insight(
                    _(
                        "High-risk transactions flagged in this period: %(count)s.",
                        count=format_number(len(risky)),
                    ),
                    "critical",
                    _("Have the treasury team review them and confirm or dismiss each one."),
                )
            )
    deviations = _guarded(lambda: _deviations(b))
    if deviations:
        from bi_app.forecasting import SERIES_LABELS

        per_series: dict[str, int] = {}
        for d in deviations:
            per_series[d["series"]] = per_series.get(d["series"], 0) + 1
        for series, n in sorted(per_series.items()):
            found.append(
                Insight(
                    _(
                        "%(series)s: days outside the forecast band: %(count)s.",
                        series=_(SERIES_LABELS.get(series, series)),
                        count=format_number(n),
                    ),
                    "warning",
                    _("Check those days for data problems or events, and refit the forecast."),
                )
            )
    if not found:
        return Section(
            "insights",
            title,
            message=_("Nothing unusual: the period stayed within the usual ranges."),
        )
    order = {"critical": 0, "warning": 1, "good": 2, "info": 3}
    found.sort(key=lambda i: order[i.severity])
    return Section("insights", title, insights=found)


BUILDERS: dict[str, Callable[[_Build], Section]] = {
    "kpis": _kpis,
    "trend": _trend,
    "sales_breakdown": _sales_breakdown,
    "top_products": _top_products,
    "customers": _customers,
    "events": _events,
    "treasury": _treasury_section,
    "forecasts": _forecasts,
    "anomalies": _anomalies,
    "alerts": _alerts,
    "system": _system,
    "insights": _insights,
}


def _with_filter_note(section: Section, b: _Build) -> Section:
    """``section`` with a note when a filter is set and its figures ignore it."""
    note = UNFILTERED_NOTES.get(section.key)
    if not b.filters.active or note is None:
        return section
    message = " ".join(m for m in (section.message, _(note)) if m)
    return dataclasses.replace(section, message=message)


def _build_section(key: str, b: _Build) -> Section:
    return _with_filter_note(_build_one(key, b), b)


def _build_one(key: str, b: _Build) -> Section:
    try:
        return BUILDERS[key](b)
    except ServiceError as exc:
        return Section(key, _(SECTION_TITLES[key]), message=str(exc))
    except Exception:  # one section's failure must not lose the report
        log.exception("report section %s failed for %s..%s", key, b.period.start, b.period.end)
        return Section(
            key, _(SECTION_TITLES[key]), message=_("This section could not be computed.")
        )


def _wanted(sections: Sequence[str] | None) -> list[str]:
    if sections is None:
        return list(SECTIONS)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ReportError(_("Unknown report sections: %(names)s.", names=", ".join(unknown)))
    chosen = set(sections)
    return [s for s in SECTIONS if s in chosen]  # the report's own order


def build_report(
    period: Period,
    sections: Sequence[str] | None = None,
    *,
    engine: Engine | None = None,
    locale: str | None = None,
    currency: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    filters: ReportFilters | None = None,
) -> Report:
    """The report of ``period`` with ``sections`` (keys of :data:`SECTIONS`, None: all, in
    that order), its texts in ``locale`` (default: the current one), money in ``currency``
    (default: ``BI_CURRENCY``). ``engine`` is used by the alert and system sections (default:
    the app's); the data layer always reads the app's engine. ``progress(done, total, key)``
    is called before each section and once at the end (``key`` ``""``). ``filters`` narrows the
    sales and customer figures to platforms and categories; the report states them under its
    period, and sections that cannot be filtered say so."""
    wanted = _wanted(sections)
    code = (currency or app_currency()).upper()
    with use_locale(locale) as language, _period_timezone(period.timezone):
        b = _Build(period, code, language, engine, filters or ReportFilters())
        built = []
        for index, key in enumerate(wanted):
            if progress is not None:
                progress(index, len(wanted), key)
            built.append(_build_section(key, b))
        if progress is not None:
            progress(len(wanted), len(wanted), "")
        cover = next((s.kpis[:4] for s in built if s.key == "kpis"), None)
        if cover is None:
            cover = _build_section("kpis", b).kpis[:4]
        label = period_label(period, language)
        titles = {
            "daily": N_("Daily report"),
            "weekly": N_("Weekly report"),
            "monthly": N_("Monthly report"),
            "custom": N_("Report"),
        }
        labels = {
            "page": _("Page %(page)s of %(pages)s", page="%(page)s", pages="%(pages)s"),
            "generated": _("Generated %(when)s", when="%(when)s"),
            "vs_previous": _("vs previous period"),
            "vs_last_year": _("vs last year"),
            "contents": _("Contents"),
        }
        from zoneinfo import ZoneInfo

        generated = dt.datetime.now(ZoneInfo(period.timezone)).replace(tzinfo=None, microsecond=0)
        return Report(
            title=_(titles[period.kind]),
            period=period,
            period_label=label,
            generated_at=generated,
            locale=language,
            currency=code,
            cover_kpis=cover,
            sections=built,
            labels=labels,
            filters_label=filters_label(filters, language),
        )
