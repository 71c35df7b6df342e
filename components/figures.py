"""Pure figure builders (plotly.graph_objects: plotly.express costs ~20x more per figure).

Figures are drawn with transparent backgrounds; text and grid colours follow the light/dark
theme through ``assets/app.css`` (Bootstrap CSS variables), so switching the theme never has to
rebuild a figure on the server.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from bi_app.data.sales import ORDER_STATUSES
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
_PERIOD_LABELS = {"day": "%Y-%m-%d", "week": "Week of %Y-%m-%d", "month": "%B %Y"}


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


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why there is nothing to show."""
    fig = go.Figure()
    fig.update_layout(
        **base_layout(
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
        )
    )
    return fig


def revenue_trend_figure(df: pd.DataFrame, granularity: str, currency: str) -> go.Figure:
    """Revenue per period (``df``: period, revenue_cents, orders) with orders in the hover."""
    if df is None or df.empty or not (df["revenue_cents"].any() or df["orders"].any()):
        return empty_figure("No revenue in the selected period")
    df = df.sort_values("period")
    periods = pd.to_datetime(df["period"])
    label = _PERIOD_LABELS.get(granularity, _PERIOD_LABELS["day"])
    hover = [
        f"{p.strftime(label)}<br>Revenue {format_money(r, currency)}<br>Orders {format_count(o)}"
        for p, r, o in zip(periods, df["revenue_cents"], df["orders"])
    ]
    revenue = [to_major(v, currency) for v in df["revenue_cents"]]
    trace_cls = go.Scatter if granularity == "day" else go.Bar
    style = (
        {
            "mode": "lines",
            "line": {"color": PRIMARY, "width": 2},
            "fill": "tozeroy",
            "fillcolor": "rgba(13, 110, 253, 0.12)",
        }
        if granularity == "day"
        else {"marker": {"color": PRIMARY}}
    )
    fig = go.Figure(
        trace_cls(
            x=periods,
            y=revenue,
            name="Revenue",
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            **style,
        )
    )
    fig.update_layout(
        **base_layout(
            showlegend=False,
            yaxis=money_axis(currency),
        )
    )
    return fig


def platform_status_figure(df: pd.DataFrame, clickable: bool = False) -> go.Figure:
    """Orders per platform as bars stacked by status (``df``: platform, platform_name, status,
    orders), the busiest platform first.

    Every known status gets a trace, even with no orders, so colours and the legend stay the
    same whatever the filter; a status outside the known list is drawn too, in a fallback colour.
    ``clickable`` bars carry their platform code in ``customdata`` (see
    :func:`components.cross_filter.clicked_code`), so a click can filter by that platform.
    """
    if df is None or df.empty:
        return empty_figure("No orders in the selected period")
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
    hint = "click to filter" if clickable else ""
    fig = go.Figure()
    for i, status in enumerate([*ORDER_STATUSES, *extra]):
        values = table[status] if status in table.columns else [0] * len(table)
        color = STATUS_COLORS.get(status, _FALLBACK_COLORS[i % len(_FALLBACK_COLORS)])
        fig.add_trace(
            go.Bar(
                x=names,
                y=[int(v) for v in values],
                name=status.capitalize(),
                marker={"color": color},
                customdata=codes if clickable else None,
                hovertemplate=f"%{{x}}<br>{status.capitalize()}: %{{y:,}}<extra>{hint}</extra>",
            )
        )
    layout = base_layout(barmode="stack", bargap=0.35)
    if clickable:
        layout["clickmode"] = "event"
    # plotly lists stacked traces top-down by default; keep the legend in status order
    layout["legend"] = {**layout["legend"], "traceorder": "normal"}
    fig.update_layout(**layout)
    return fig
