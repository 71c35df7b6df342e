"""Builders of the Sales page: KPI cards with two comparisons, trend and breakdown figures.

Clickable figures carry the code of what a bar stands for in ``customdata`` (platform, status or
category code); :func:`components.cross_filter.clicked_code` reads it back. Orders by platform
and status is :func:`components.figures.platform_status_figure` (shared with the Overview).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from bi_app import i18n
from bi_app.analytics.growth import GrowthKpi
from bi_app.i18n import N_, _
from components.figures import (
    GRID_COLOR,
    PRIMARY,
    STATUS_COLORS,
    base_layout,
    click_hint,
    empty_figure,
    figure,
    iso_times,
    money_axis,
    status_label,
)
from components.format import (
    NOT_AVAILABLE,
    axis_prefix,
    format_change,
    format_count,
    format_money,
    plain_label,
    to_major,
)
from components.ids import Sales
from components.kpi_card import trend

YEAR_AGO_COLOR = "#adb5bd"
POP_COLOR = "#6f42c1"
YOY_COLOR = "#fd7e14"
CATEGORY_COLOR = "#20c997"
# a period as the hover names it: in Python through CLDR (bi_app.i18n), in Plotly's own hover
# templates as d3 time formats whose names come from the registered Plotly locale
_PERIOD_KINDS = {"day": "weekday", "week": "day", "month": "month", "year": "year"}
_PERIOD_D3 = {
    "en": {"day": "%a %d %b %Y", "week": "%d %b %Y", "month": "%B %Y", "year": "%Y"},
    "ko": {
        "day": "%Y년 %b %-d일 (%a)",
        "week": "%Y년 %b %-d일",
        "month": "%Y년 %B",
        "year": "%Y년",
    },
}
# the growth chart's line against the period before, and the same in the revenue hover
# (``%(change)s``: the change in percent)
_COMPARE_NAMES = {
    "day": N_("vs previous day"),
    "week": N_("vs previous week"),
    "month": N_("vs previous month"),
    "year": N_("vs previous year"),
}
_COMPARE_CHANGES = {
    "day": N_("vs previous day %(change)s"),
    "week": N_("vs previous week %(change)s"),
    "month": N_("vs previous month %(change)s"),
    "year": N_("vs previous year %(change)s"),
}


def _period_text(period: pd.Timestamp, granularity: str) -> str:
    """A period as the hover names it ("Week of Jan 1, 2024")."""
    text = i18n.format_period(period, _PERIOD_KINDS[granularity])
    return _("Week of %(date)s", date=text) if granularity == "week" else text


def _period_template(granularity: str) -> str:
    """The same for plotly's hover template, which formats the trace's x itself."""
    formats = _PERIOD_D3.get(i18n.current_locale(), _PERIOD_D3["en"])
    text = "%{x|" + formats[granularity] + "}"
    return _("Week of %(date)s", date=text) if granularity == "week" else text


# --- formatting -------------------------------------------------------------------------------


def format_share(value: float | None) -> str:
    return _(NOT_AVAILABLE) if value is None or pd.isna(value) else f"{value * 100:.1f}%"


def format_points(value: float | None) -> str:
    if value is None or pd.isna(value):
        return _(NOT_AVAILABLE)
    return _("%(value)s pts", value=format(value, "+.1f"))


def _kpi_value(value: float | None, kind: str, currency: str) -> str:
    if kind == "money":
        return format_money(value, currency)
    if kind == "share":
        return format_share(value)
    return format_count(value)


def _kpi_change(
    kpi: GrowthKpi,
    change: float | None,
    versus: str,
    previous_title: str,
    previous: float | None,
    currency: str,
) -> html.Div:
    """``versus``: "vs previous period"; ``previous_title``: "Previous period: %(value)s" (both
    marked with ``N_()``, translated here)."""
    arrow, colour = trend(change)
    if kpi.key == "lost" and colour in ("text-success", "text-danger"):
        # fewer cancellations and refunds is the good direction
        colour = "text-danger" if colour == "text-success" else "text-success"
    text = format_points(change) if kpi.kind == "share" else format_change(change)
    return html.Div(
        [
            html.Span(f"{arrow} " if arrow else ""),
            html.Span(text, className="app-kpi-change"),
            html.Span(" " + _(versus), className="text-body-secondary"),
        ],
        className=f"app-kpi-delta small {colour}",
        title=_(previous_title, value=_kpi_value(previous, kpi.kind, currency)),
    )


def growth_kpi_cards(kpis: Sequence[GrowthKpi], currency: str) -> list[dbc.Col]:
    """One card per KPI: the value, its change on the previous period and on a year earlier."""
    cards = []
    for kpi in kpis:
        body = [
            html.Div(
                _(kpi.label), className="app-kpi-label text-body-secondary small text-uppercase"
            ),
            html.Div(
                _kpi_value(kpi.value, kpi.kind, currency),
                className="app-kpi-value fs-3 fw-semibold",
            ),
            _kpi_change(
                kpi,
                kpi.pop_change,
                N_("vs previous period"),
                N_("Previous period: %(value)s"),
                kpi.previous,
                currency,
            ),
            _kpi_change(
                kpi,
                kpi.yoy_change,
                N_("vs last year"),
                N_("Last year: %(value)s"),
                kpi.year_ago,
                currency,
            ),
        ]
        card = dbc.Card(
            dbc.CardBody(body), id=Sales.kpi_card(kpi.key), className="app-kpi-card h-100 shadow-sm"
        )
        cards.append(dbc.Col(card, xs=12, sm=6, xl=3, className="mb-3"))
    return cards


# --- trend figures ----------------------------------------------------------------------------


def _count_axis(largest: float, **extra: Any) -> dict:
    """An axis of whole numbers: small counts would otherwise get ticks like 0.2, 0.4."""
    axis = {
        "gridcolor": GRID_COLOR,
        "zeroline": False,
        "automargin": True,
        "rangemode": "tozero",
        "tickformat": ",d",
        **extra,
    }
    if largest <= 5:
        axis["dtick"] = 1
    return axis


def _period_axis(granularity: str, periods: int = 0) -> dict:
    axis: dict = {"gridcolor": GRID_COLOR, "zeroline": False, "automargin": True}
    if granularity == "month":
        # a tick per month while they fit; a longer range gets quarterly or yearly ticks
        months = 1 if periods <= 24 else 3 if periods <= 72 else 12
        axis.update(dtick=f"M{months}", tickformat=i18n.month_tickformat())
    if granularity == "year":
        axis.update(dtick="M12", tickformat="%Y")
    return axis


def _nothing_sold(df: pd.DataFrame | None) -> bool:
    return (
        df is None
        or df.empty
        or not (df["revenue_cents"].any() or df["orders"].any() or df["yoy_revenue_cents"].any())
    )


def _optional(values: Any, scale: Any = float) -> list:
    """A column with gaps as a list: None where a value is missing, ``scale(v)`` elsewhere."""
    return [None if v is None or pd.isna(v) else scale(v) for v in values]


def revenue_figure(df: pd.DataFrame, granularity: str, currency: str) -> dict:
    """Revenue bars per period, the same period a year earlier as a dashed line, growth in the
    hover."""
    if _nothing_sold(df):
        return empty_figure(_("No sales in the selected period"))
    periods = pd.to_datetime(df["period"])
    compare = _COMPARE_CHANGES[granularity]
    hover = [
        "<br>".join(
            (
                f"<b>{_period_text(p, granularity)}</b>",
                _("Revenue %(amount)s", amount=format_money(r, currency)),
                _(compare, change=format_change(pop)),
                _(
                    "vs last year %(change)s (%(amount)s)",
                    change=format_change(yoy),
                    amount=format_money(y, currency),
                ),
            )
        )
        for p, r, pop, yoy, y in zip(
            periods,
            df["revenue_cents"],
            df["revenue_pop_pct"],
            df["revenue_yoy_pct"],
            df["yoy_revenue_cents"],
        )
    ]
    x = iso_times(periods)
    return figure(
        [
            {
                "type": "bar",
                "x": x,
                "y": [to_major(v, currency) for v in df["revenue_cents"]],
                "name": _("Revenue"),
                "marker": {"color": PRIMARY},
                "hovertext": hover,
                "hovertemplate": "%{hovertext}<extra></extra>",
            },
            {
                "type": "scatter",
                "x": x,
                "y": [to_major(v, currency) for v in df["yoy_revenue_cents"]],
                "name": _("Same period last year"),
                "mode": "lines",
                "hoverinfo": "skip",
                "line": {"color": YEAR_AGO_COLOR, "width": 2, "dash": "dot", "shape": "hvh"},
            },
        ],
        base_layout(
            yaxis=money_axis(currency),
            xaxis=_period_axis(granularity, len(df)),
            bargap=0.15,
            hovermode="closest",
        ),
    )


def growth_figure(df: pd.DataFrame, granularity: str) -> dict:
    """Revenue growth in percent per period: on the previous period and on a year earlier."""
    if (
        df is None
        or df.empty
        or (df["revenue_pop_pct"].isna().all() and df["revenue_yoy_pct"].isna().all())
    ):
        return empty_figure(_("No earlier sales to compare with"))
    x = iso_times(df["period"])
    period = _period_template(granularity)
    traces = [
        {
            "type": "scatter",
            "x": x,
            "y": _optional(df[column]),
            "name": name,
            "mode": "lines+markers" if len(df) <= 31 else "lines",
            "line": {"color": color, "width": 2},
            "marker": {"size": 5},
            "connectgaps": False,
            "hovertemplate": period + "<br>" + name + " %{y:+.1f}%<extra></extra>",
        }
        for column, name, color in (
            ("revenue_pop_pct", _(_COMPARE_NAMES[granularity]), POP_COLOR),
            ("revenue_yoy_pct", _("vs last year"), YOY_COLOR),
        )
    ]
    return figure(
        traces,
        base_layout(
            xaxis=_period_axis(granularity, len(df)),
            yaxis={
                "gridcolor": GRID_COLOR,
                "zeroline": True,
                "zerolinecolor": "rgba(128,128,128,0.6)",
                "ticksuffix": "%",
                "tickformat": ".0f",
                "automargin": True,
            },
        ),
    )


def orders_figure(df: pd.DataFrame, granularity: str, currency: str) -> dict:
    """Orders per period as bars, average order value as a line on its own axis."""
    if df is None or df.empty or not df["orders"].any():
        return empty_figure(_("No orders in the selected period"))
    x = iso_times(df["period"])
    return figure(
        [
            {
                "type": "bar",
                "x": x,
                "y": df["orders"].tolist(),
                "name": _("Orders"),
                "marker": {"color": "#0dcaf0"},
                "hovertemplate": _period_template(granularity)
                + "<br>"
                + _("Orders %(count)s", count="%{y:,}")
                + "<extra></extra>",
            },
            {
                "type": "scatter",
                "x": x,
                "y": _optional(df["aov_cents"], lambda v: to_major(v, currency)),
                "name": _("Average order value"),
                "yaxis": "y2",
                "mode": "lines",
                "line": {"color": "#6610f2", "width": 2},
                "connectgaps": False,
                "hovertemplate": _(
                    "Average order value %(amount)s",
                    amount=axis_prefix(currency) + f"%{{y:,.{i18n.currency_decimals(currency)}f}}",
                )
                + "<extra></extra>",
            },
        ],
        base_layout(
            xaxis=_period_axis(granularity, len(df)),
            bargap=0.15,
            yaxis=_count_axis(int(df["orders"].max()), title={"text": _("Orders")}),
            yaxis2=money_axis(
                currency,
                overlaying="y",
                side="right",
                showgrid=False,
                tickformat=",.0f",
                title={"text": _("Avg order value")},
            ),
        ),
    )


def trend_figures(df: pd.DataFrame, granularity: str, currency: str) -> tuple[dict, dict, dict]:
    """The revenue, growth and orders figures of one :func:`revenue_growth` result."""
    return (
        revenue_figure(df, granularity, currency),
        growth_figure(df, granularity),
        orders_figure(df, granularity, currency),
    )


def lost_figure(df: pd.DataFrame, granularity: str, currency: str) -> dict:
    """Cancelled and refunded orders per period (stacked) and their share of all orders."""
    if df is None or df.empty or not df["all_orders"].any():
        return empty_figure(_("No orders in the selected period"))
    x = iso_times(df["period"])
    label = _period_template(granularity)
    traces = [
        {
            "type": "bar",
            "x": x,
            "y": df[f"{status}_orders"].tolist(),
            "name": status_label(status),
            "marker": {"color": STATUS_COLORS[status]},
            "customdata": [format_money(v, currency) for v in df[f"{status}_cents"]],
            "hovertemplate": label
            + "<br>"
            + _(
                "%(status)s %(count)s orders (%(amount)s)",
                status=status_label(status),
                count="%{y:,}",
                amount="%{customdata}",
            )
            + "<extra></extra>",
        }
        for status in ("cancelled", "refunded")
    ]
    traces.append(
        {
            "type": "scatter",
            "x": x,
            "y": _optional(df["lost_share"], lambda v: float(v) * 100),
            "name": _("Share of all orders"),
            "yaxis": "y2",
            "mode": "lines",
            "line": {"color": "#212529", "width": 1.5, "dash": "dot"},
            "connectgaps": False,
            "hovertemplate": _("Share of all orders %(share)s", share="%{y:.1f}%")
            + "<extra></extra>",
        }
    )
    layout = base_layout(
        barmode="stack",
        bargap=0.15,
        xaxis=_period_axis(granularity, len(df)),
        yaxis=_count_axis(
            int((df["cancelled_orders"] + df["refunded_orders"]).max()),
            title={"text": _("Orders")},
        ),
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
            "ticksuffix": "%",
            "tickformat": ".0f",
            "automargin": True,
        },
    )
    layout["legend"] = {**layout["legend"], "traceorder": "normal"}
    return figure(traces, layout)


# --- clickable breakdowns ---------------------------------------------------------------------


def status_figure(df: pd.DataFrame, currency: str) -> dict:
    """Orders per status (lifecycle order, top to bottom); a click filters by that status."""
    if df is None or df.empty or not df["orders"].any():
        return empty_figure(_("No orders in the selected period"))
    statuses = df["status"].tolist()
    hover = [
        _(
            "%(status)s: %(count)s orders (%(share)s)",
            status=status_label(s),
            count=format_count(n),
            share=format_share(sh),
        )
        + f"<br>{format_money(c, currency)}"
        for s, n, sh, c in zip(statuses, df["orders"], df["share"], df["revenue_cents"])
    ]
    bar = {
        "type": "bar",
        "x": df["orders"].tolist(),
        "y": [status_label(s) for s in statuses],
        "orientation": "h",
        "customdata": statuses,
        "marker": {"color": [STATUS_COLORS.get(s, PRIMARY) for s in statuses]},
        "text": [format_share(v) for v in df["share"]],
        "textposition": "auto",
        "hovertext": hover,
        "hovertemplate": f"%{{hovertext}}<extra>{click_hint()}</extra>",
    }
    return figure(
        [bar],
        base_layout(
            showlegend=False,
            clickmode="event",
            bargap=0.3,
            margin={"l": 90, "r": 16, "t": 8, "b": 32},
            yaxis={"autorange": "reversed", "automargin": True},
            xaxis={"gridcolor": GRID_COLOR, "zeroline": False, "rangemode": "tozero"},
        ),
    )


def category_figure(df: pd.DataFrame, currency: str) -> dict:
    """Revenue per category, biggest first; a click filters by that category."""
    if df is None or df.empty:
        return empty_figure(_("No product sales in the selected period"))
    hover = [
        "<br>".join(
            (
                plain_label(n),
                _(
                    "Revenue %(amount)s (%(share)s)",
                    amount=format_money(r, currency),
                    share=format_share(s),
                ),
                _("%(count)s units", count=format_count(u)),
            )
        )
        for n, r, s, u in zip(df["category_name"], df["revenue_cents"], df["share"], df["units"])
    ]
    bar = {
        "type": "bar",
        "x": [to_major(v, currency) for v in df["revenue_cents"]],
        "y": [plain_label(n) for n in df["category_name"]],
        "orientation": "h",
        "customdata": df["category"].tolist(),
        "marker": {"color": CATEGORY_COLOR},
        "text": [format_share(v) for v in df["share"]],
        "textposition": "auto",
        "hovertext": hover,
        "hovertemplate": f"%{{hovertext}}<extra>{click_hint()}</extra>",
    }
    return figure(
        [bar],
        base_layout(
            showlegend=False,
            clickmode="event",
            bargap=0.3,
            margin={"l": 110, "r": 16, "t": 8, "b": 32},
            yaxis={"autorange": "reversed", "automargin": True},
            xaxis=money_axis(currency),
        ),
    )


def ranking_figure(df: pd.DataFrame, metric: str, currency: str, top: int = 10) -> dict:
    """The ``top`` best sellers by revenue or by units, best at the top."""
    if df is None or df.empty:
        return empty_figure(_("No product sales in the selected period"))
    best = df.head(top)
    names = [plain_label(f"{p} ({s})") for p, s in zip(best["product"], best["sku"])]
    if metric == "units":
        values, axis = best["units"].tolist(), {"gridcolor": GRID_COLOR, "rangemode": "tozero"}
    else:
        values, axis = [to_major(v, currency) for v in best["revenue_cents"]], money_axis(currency)
    hover = [
        f"#{r} {n}<br>"
        + _(
            "%(amount)s · %(units)s units · %(share)s of revenue",
            amount=format_money(c, currency),
            units=format_count(u),
            share=format_share(s),
        )
        for r, n, c, u, s in zip(
            best["rank"], names, best["revenue_cents"], best["units"], best["share"]
        )
    ]
    bar = {
        "type": "bar",
        "x": values,
        "y": names,
        "orientation": "h",
        "marker": {"color": PRIMARY},
        "hovertext": hover,
        "hovertemplate": "%{hovertext}<extra></extra>",
    }
    return figure(
        [bar],
        base_layout(
            showlegend=False,
            bargap=0.25,
            margin={"l": 16, "r": 16, "t": 8, "b": 32},
            yaxis={"autorange": "reversed", "automargin": True},
            xaxis=axis,
        ),
    )
