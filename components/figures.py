"""Pure figure builders, returning figures as plain dicts.

A builder returns ``{"data": [{"type": "scatter", ...}], "layout": {...}}``: exactly the JSON
that ``go.Figure(...)`` would send (``dcc.Graph`` takes either), without its validation, which
costs ~10x the building itself (a 3-trace, 365-point figure: ~16 ms with plotly.graph_objects,
~1.7 ms as a dict; plotly.express costs ~20x more again). So a dict is written in plotly's own
canonical form: titles as ``{"text": ...}``, no magic underscores (``marker_color``), no ``None``
values, dates as ISO strings (:func:`iso_times`), lists rather than arrays. The unit tests check
that ``go.Figure(result)`` accepts every builder's dict and changes nothing in it.

Figures are drawn with transparent backgrounds; text and grid colours follow the light/dark
theme through ``assets/app.css`` (Bootstrap CSS variables), so switching the theme never has to
rebuild a figure on the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from bi_app import i18n
from bi_app.data.sales import ORDER_STATUSES
from bi_app.filters import chart_points
from bi_app.i18n import N_, _
from components.format import axis_prefix, format_count, format_money, plain_label, to_major

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
GRID_COLOR = "rgba(128, 128, 128, 0.22)"
TEXT_COLOR = "#6c757d"
PRIMARY = "#0d6efd"
SECONDARY = "#fd7e14"
STATUS_COLORS = {
    "pending": "#adb5bd",
    "paid": "#0dcaf0",
    "shipped": "#6f42c1",
    "delivered": "#198754",
    "cancelled": "#fd7e14",
    "refunded": "#dc3545",
}
_FALLBACK_COLORS = ("#20c997", "#ffc107", "#d63384", "#6610f2")
# days and weeks as ISO dates (the same in every language); months and years as the locale writes
# them ("January 2024" / "2024년 1월")
_PERIOD_KINDS = {"month": "month", "year": "year"}
# what a person reads for an order status (the stored code stays the value)
STATUS_LABELS = {
    "pending": N_("Pending"),
    "paid": N_("Paid"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Refunded"),
}


def status_label(status: str) -> str:
    """An order status as people read it, in the request's language (an unknown code as
    itself, capitalized)."""
    label = STATUS_LABELS.get(status)
    return _(label) if label else str(status).capitalize()


def click_hint() -> str:
    """The hover's side note on a bar a click filters by."""
    return _("click to filter")


# why a chart shows coarser periods than asked for, per (asked, shown): whole sentences, so that
# each language can order its words (``%(points)s``: the points the asked-for periods would draw)
_COARSER_NOTES = {
    ("day", "week"): N_("Shown per week: per day the range would draw %(points)s points."),
    ("day", "month"): N_("Shown per month: per day the range would draw %(points)s points."),
    ("day", "year"): N_("Shown per year: per day the range would draw %(points)s points."),
    ("week", "month"): N_("Shown per month: per week the range would draw %(points)s points."),
    ("week", "year"): N_("Shown per year: per week the range would draw %(points)s points."),
    ("month", "year"): N_("Shown per year: per month the range would draw %(points)s points."),
}


def granularity_note(
    start: dt.date, end: dt.date, wanted: str, chosen: str, note: str | None
) -> str | None:
    """The note of :func:`bi_app.filters.fit_granularity` (``note``, None when the chart shows
    the periods asked for) in the request's language."""
    message = _COARSER_NOTES.get((wanted, chosen)) if note else None
    if message is None:
        return note
    return _(message, points=format(chart_points(start, end, wanted), ","))


def _period_label(period: pd.Timestamp, granularity: str) -> str:
    kind = _PERIOD_KINDS.get(granularity)
    text = i18n.format_period(period, kind) if kind else period.strftime("%Y-%m-%d")
    return _("Week of %(date)s", date=text) if granularity == "week" else text


def base_layout(**overrides: object) -> dict:
    """The shared look: transparent, compact, system font, legend under the plot."""
    layout: dict = {
        "template": "none",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT_FAMILY, "size": 12, "color": TEXT_COLOR},
        "margin": {"l": 56, "r": 16, "t": 16, "b": 40},
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
        # at the foot of the figure: the mode bar sits top right and would cover a legend there,
        # and a paper-relative position collides with tick labels
        "legend": {
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "xanchor": "left",
            "x": 0,
        },
        "xaxis": {"gridcolor": GRID_COLOR, "zeroline": False, "automargin": True},
        "yaxis": {
            "gridcolor": GRID_COLOR,
            "zeroline": False,
            "automargin": True,
            "rangemode": "tozero",
        },
    }
    layout.update(overrides)
    return layout


def money_axis(currency: str, **extra: object) -> dict:
    """An axis of amounts in major units: the currency symbol, SI-abbreviated ticks (1.2k, 3M)."""
    return {
        "gridcolor": GRID_COLOR,
        "zeroline": False,
        "automargin": True,
        "rangemode": "tozero",
        "tickprefix": axis_prefix(currency),
        "tickformat": "~s",
        **extra,
    }


def figure(data: Iterable[dict], layout: dict) -> dict:
    """A figure as the plain dict plotly.js draws (traces carry their ``"type"``).

    plotly.js knows no template names: ``"template": "none"`` (from :func:`base_layout`, which
    go.Figure builders use too) becomes the JSON plotly.graph_objects sends for it.
    """
    if layout.get("template") == "none":
        layout = {**layout, "template": {"data": {"scatter": [{"type": "scatter"}]}}}
    return {"data": list(data), "layout": layout}


def iso_times(values: Any) -> list[str]:
    """Dates or times as the strings plotly writes for them ("2024-01-01T00:00:00"), to whole
    seconds (periods and hours have no fractions)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype.kind != "M":  # dates or strings; already parsed periods skip the parsing
        series = pd.to_datetime(series)
    return np.datetime_as_string(series.to_numpy().astype("datetime64[s]")).tolist()


def empty_figure(message: str) -> dict:
    """A blank figure that says why there is nothing to show."""
    return figure(
        [],
        base_layout(
            xaxis={"visible": False},
            yaxis={"visible": False},
            annotations=[
                {
                    "text": message,
                    "x": 0.5,
                    "y": 0.5,
                    "xref": "paper",
                    "yref": "paper",
                    "showarrow": False,
                    "font": {"size": 14},
                }
            ],
        ),
    )


def with_note(fig: dict, note: str | None) -> dict:
    """``fig`` with a small note above the plot (e.g. why the chart shows coarser periods)."""
    if not note:
        return fig
    layout = fig.setdefault("layout", {})
    layout["annotations"] = [
        *layout.get("annotations", []),
        {
            "text": note,
            "x": 0,
            "y": 1.02,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 11, "color": "#6c757d"},
        },
    ]
    margin = layout.setdefault("margin", {})
    margin["t"] = max(margin.get("t", 0), 28)
    return fig


def revenue_trend_figure(df: pd.DataFrame, granularity: str, currency: str) -> dict:
    """Revenue per period (``df``: period, revenue_cents, orders) with orders in the hover."""
    if df is None or df.empty or not (df["revenue_cents"].any() or df["orders"].any()):
        return empty_figure(_("No revenue in the selected period"))
    df = df.sort_values("period")
    periods = pd.to_datetime(df["period"])
    hover = [
        "<br>".join(
            (
                _period_label(p, granularity),
                _("Revenue %(amount)s", amount=format_money(r, currency)),
                _("Orders %(count)s", count=format_count(o)),
            )
        )
        for p, r, o in zip(periods, df["revenue_cents"], df["orders"])
    ]
    style = (
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"color": PRIMARY, "width": 2},
            "fill": "tozeroy",
            "fillcolor": "rgba(13, 110, 253, 0.12)",
        }
        if granularity == "day"
        else {"type": "bar", "marker": {"color": PRIMARY}}
    )
    trace = {
        **style,
        "x": iso_times(periods),
        "y": [to_major(v, currency) for v in df["revenue_cents"]],
        "name": _("Revenue"),
        "hovertext": hover,
        "hovertemplate": "%{hovertext}<extra></extra>",
    }
    return figure([trace], base_layout(showlegend=False, yaxis=money_axis(currency)))


def platform_status_figure(df: pd.DataFrame, clickable: bool = False) -> dict:
    """Orders per platform as bars stacked by status (``df``: platform, platform_name, status,
    orders), the busiest platform first.

    Every known status gets a trace, even with no orders, so colours and the legend stay the
    same whatever the filter; a status outside the known list is drawn too, in a fallback colour.
    ``clickable`` bars carry their platform code in ``customdata`` (see
    :func:`components.cross_filter.clicked_code`), so a click can filter by that platform.
    """
    if df is None or df.empty:
        return empty_figure(_("No orders in the selected period"))
    table = df.pivot_table(
        index=["platform", "platform_name"],
        columns="status",
        values="orders",
        aggfunc="sum",
        fill_value=0,
    )
    table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    codes = [code for code, _ in table.index]
    names = [plain_label(name) for _, name in table.index]
    extra = sorted(set(table.columns) - set(ORDER_STATUSES))
    hint = click_hint() if clickable else ""
    traces = []
    for i, status in enumerate([*ORDER_STATUSES, *extra]):
        values = table[status] if status in table.columns else [0] * len(table)
        color = STATUS_COLORS.get(status, _FALLBACK_COLORS[i % len(_FALLBACK_COLORS)])
        label = status_label(status)
        trace = {
            "type": "bar",
            "x": names,
            "y": [int(v) for v in values],
            "name": label,
            "marker": {"color": color},
            "hovertemplate": f"%{{x}}<br>{label}: %{{y:,}}<extra>{hint}</extra>",
        }
        if clickable:
            trace["customdata"] = codes
        traces.append(trace)
    layout = base_layout(barmode="stack", bargap=0.35)
    if clickable:
        layout["clickmode"] = "event"
    # plotly lists stacked traces top-down by default; keep the legend in status order
    layout["legend"] = {**layout["legend"], "traceorder": "normal"}
    return figure(traces, layout)
