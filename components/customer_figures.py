"""Figures and small builders of the Customers page (plotly.graph_objects, the shared look)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import html

from bi_app import i18n
from bi_app.analytics.churn import TAG_LABELS
from bi_app.analytics.segmentation import SEGMENT_LABELS, SEGMENTS
from bi_app.data.customers import AT_RISK
from bi_app.i18n import N_, _, ngettext
from components.figures import GRID_COLOR, base_layout, empty_figure
from components.format import NOT_AVAILABLE, format_change, format_count, format_money, to_local
from components.kpi_card import kpi_card, trend

SEGMENT_COLORS = {"new": "#0dcaf0", "growing": "#20c997", "loyal": "#0d6efd", "vip": "#6f42c1"}
HEAT = [[0.0, "rgba(13,110,253,0.04)"], [1.0, "rgba(13,110,253,1)"]]
NO_STATS = N_("Not computed yet — use “Recompute tags”")


def segment_label(segment: str) -> str:
    """A segment code as people read it, in the request's language."""
    label = SEGMENT_LABELS.get(segment)
    return _(label) if label else segment


def tag_label(tag: str) -> str:
    """A churn-risk tag code as people read it, in the request's language."""
    label = TAG_LABELS.get(tag)
    return _(label) if label else tag


def _percent_card(k: Any) -> dbc.Card:
    arrow, colour = trend(k.change_pct)
    value = _(NOT_AVAILABLE) if k.value is None else f"{k.value:.1%}"
    previous = _(NOT_AVAILABLE) if k.previous is None else f"{k.previous:.1%}"
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    _(k.label), className="app-kpi-label text-body-secondary small text-uppercase"
                ),
                html.Div(value, className="app-kpi-value fs-3 fw-semibold"),
                html.Div(
                    [
                        html.Span(f"{arrow} " if arrow else ""),
                        html.Span(format_change(k.change_pct)),
                        html.Span(" " + _("vs previous period"), className="text-body-secondary"),
                    ],
                    className=f"app-kpi-delta small {colour}",
                    title=_("Previous period: %(value)s", value=previous),
                ),
            ]
        ),
        className="app-kpi-card h-100 shadow-sm",
        id={"type": "customers-kpi-card", "index": k.key},
    )


def kpi_cards(kpis: Sequence[Any], currency: str) -> list[dbc.Col]:
    """One card per KPI; rates show as percentages, the rest like the Overview's cards."""
    cards = [
        _percent_card(k)
        if k.kind == "percent"
        else kpi_card(k, currency, {"type": "customers-kpi-card", "index": k.key})
        for k in kpis
    ]
    return [dbc.Col(c, xs=12, sm=6, xl=3, className="mb-3") for c in cards]


def segment_figure(summary: pd.DataFrame, currency: str, selected: str | None = None) -> go.Figure:
    """Customers per segment; the hover adds revenue and both shares. A
    bar click filters the list."""
    if summary.empty or int(summary["customers"].sum()) == 0:
        return empty_figure(_(NO_STATS))
    labels = [segment_label(s) for s in summary["segment"]]
    hover = [
        _("%(count)s customers (%(share)s)", count=format_count(n), share=format(cs, ".1%"))
        + "<br>"
        + _(
            "%(amount)s lifetime revenue (%(share)s)",
            amount=format_money(r, currency),
            share=format(rs, ".1%"),
        )
        for n, cs, r, rs in zip(
            summary["customers"],
            summary["customer_share"],
            summary["revenue_cents"],
            summary["revenue_share"],
        )
    ]
    colors = [
        SEGMENT_COLORS[s] if selected in (None, s) else "rgba(128,128,128,0.35)"
        for s in summary["segment"]
    ]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=summary["customers"],
            customdata=list(summary["segment"]),
            marker={"color": colors},
            hovertext=hover,
            hoverinfo="text",
            text=[
                _("%(share)s of revenue", share=format(s, ".0%")) for s in summary["revenue_share"]
            ],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.update_layout(**base_layout(showlegend=False, clickmode="event"))
    return fig


def segment_trend_figure(trend_df: pd.DataFrame) -> go.Figure:
    """Segment sizes at the end of each month, stacked."""
    if trend_df.empty:
        return empty_figure(_(NO_STATS))
    fig = go.Figure()
    for segment in SEGMENTS:
        part = trend_df[trend_df["segment"] == segment]
        label = segment_label(segment)
        hover = _(
            "%(month)s: %(count)s %(segment)s", month="%{x|%B %Y}", count="%{y:,}", segment=label
        )
        fig.add_trace(
            go.Bar(
                x=list(part["month"]),
                y=part["customers"],
                name=label,
                marker={"color": SEGMENT_COLORS[segment]},
                hovertemplate=hover + "<extra></extra>",
            )
        )
    fig.update_layout(
        **base_layout(
            barmode="stack", xaxis={"gridcolor": GRID_COLOR, "tickformat": i18n.month_tickformat()}
        )
    )
    return fig


def _heatmap(z: Any, x: list, y: list, text: Any, hover: str, **layout: Any) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=y,
            text=text,
            texttemplate="%{text}",
            colorscale=HEAT,
            showscale=False,
            hovertemplate=hover + "<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(**base_layout(**layout))
    return fig


def movement_figure(matrix: pd.DataFrame, start: dt.date, end: dt.date) -> go.Figure:
    """Where the customers of each segment at the start of the period are at its end."""
    if int(matrix.to_numpy().sum()) == 0:
        return empty_figure(_(NO_STATS))
    rows = [segment_label(s) for s in matrix.index]
    cols = [segment_label(s) for s in matrix.columns]
    return _heatmap(
        matrix.to_numpy(),
        cols,
        rows,
        [[f"{v:,}" for v in r] for r in matrix.to_numpy()],
        _(
            "%(count)s customers: %(before)s → %(after)s",
            count="%{z:,}",
            before="%{y}",
            after="%{x}",
        ),
        xaxis={
            "title": {
                "text": _(
                    "Segment at the end of %(month)s", month=i18n.format_period(end, "month_short")
                )
            },
            "side": "bottom",
        },
        yaxis={
            "title": {
                "text": _("Before %(month)s", month=i18n.format_period(start, "month_short"))
            },
            "autorange": "reversed",
        },
    )


def cohort_figure(table: pd.DataFrame) -> go.Figure:
    """Retention heatmap: cohorts (first-order month) by months since their first order."""
    if table.empty:
        return empty_figure(_("No first orders in this period"))
    pivot = table.pivot(index="cohort", columns="months_since", values="retention").sort_index()
    sizes = table.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
    y = [
        f"{i18n.format_period(c, 'month_short')} ({i18n.format_number(sizes[c])})"
        for c in pivot.index
    ]
    text = [["" if pd.isna(v) else f"{v:.0%}" for v in row] for row in pivot.to_numpy()]
    return _heatmap(
        pivot.to_numpy(),
        [str(m) for m in pivot.columns],
        y,
        text,
        _(
            "%(cohort)s, month %(month)s: %(share)s active",
            cohort="%{y}",
            month="%{x}",
            share="%{z:.1%}",
        ),
        xaxis={"title": {"text": _("Months since first order")}, "type": "category"},
        yaxis={"autorange": "reversed", "type": "category"},
    )


def rfm_figure(grid: pd.DataFrame) -> go.Figure:
    """Customers per recency x frequency score (1..5, 5 best); hover
    adds the mean monetary score."""
    if grid.empty:
        return empty_figure(_(NO_STATS))
    z = [[None] * 5 for _ in range(5)]
    hover = [[""] * 5 for _ in range(5)]
    for row in grid.itertuples():
        z[row.frequency - 1][row.recency - 1] = row.customers
        hover[row.frequency - 1][row.recency - 1] = _(
            "mean monetary score %(score)s", score=format(row.monetary_avg, ".1f")
        )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[1, 2, 3, 4, 5],
            y=[1, 2, 3, 4, 5],
            customdata=hover,
            colorscale=HEAT,
            showscale=False,
            xgap=2,
            ygap=2,
            texttemplate="%{z:,}",
            hovertemplate=_(
                "recency %(recency)s, frequency %(frequency)s: %(count)s customers, %(monetary)s",
                recency="%{x}",
                frequency="%{y}",
                count="%{z:,}",
                monetary="%{customdata}",
            )
            + "<extra></extra>",
        )
    )
    fig.update_layout(
        **base_layout(
            xaxis={"title": {"text": _("Recency score (5 = bought most recently)")}, "dtick": 1},
            yaxis={"title": {"text": _("Frequency score")}, "dtick": 1},
        )
    )
    return fig


def tags_figure(counts: pd.DataFrame) -> go.Figure:
    """Customers carrying each churn-risk tag now."""
    if counts.empty or int(counts["customers"].sum()) == 0:
        return empty_figure(_("No customer carries a churn-risk tag"))
    fig = go.Figure(
        go.Bar(
            y=[tag_label(t) for t in counts["tag"]],
            x=counts["customers"],
            orientation="h",
            marker={"color": "#fd7e14"},
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    fig.update_layout(
        **base_layout(
            yaxis={"autorange": "reversed", "automargin": True},
            margin={"l": 140, "r": 16, "t": 16, "b": 40},
        )
    )
    return fig


def clicked_segment(click: Any) -> str | None:
    """The segment code of a click on :func:`segment_figure`, or None."""
    try:
        value = click["points"][0]["customdata"]
    except (KeyError, IndexError, TypeError):
        return None
    return value if value in SEGMENTS else None


def list_count(total: int) -> str:
    return ngettext(
        "%(count)s matching customer",
        "%(count)s matching customers",
        total,
        count=format(total, ","),
    )


# the phases that report no per-customer progress, each its own sentence
_PHASE_PROGRESS = {
    "tags": N_("Recomputing… %(percent)s %% (%(total)s customers; updating tags)"),
    "aggregates": N_("Recomputing… %(percent)s %% (%(total)s customers; updating aggregates)"),
}


def recompute_progress(status: dict) -> str:
    """E.g. "Recomputing… 40 % (400,000 of 1,000,000 customers)"."""
    phase, done, total = status.get("phase"), status.get("done", 0), status.get("total", 0)
    if not total and phase in (None, "starting", "stats"):
        return _("Recomputing… starting")
    if phase in _PHASE_PROGRESS:
        return _(_PHASE_PROGRESS[phase], percent=status["percent"], total=format(total, ","))
    return _(
        "Recomputing… %(percent)s %% (%(done)s of %(total)s customers)",
        percent=status["percent"],
        done=format(done, ","),
        total=format(total, ","),
    )


def recompute_result(summary: dict) -> str:
    message = (
        N_(
            "Recomputed %(recomputed)s customers (changed customers only) of %(customers)s: "
            "%(added)s tags added, %(removed)s removed, %(tagged)s tagged (%(seconds)s s)."
        )
        if summary.get("mode") == "incremental"
        else N_(
            "Recomputed %(recomputed)s customers (every customer) of %(customers)s: "
            "%(added)s tags added, %(removed)s removed, %(tagged)s tagged (%(seconds)s s)."
        )
    )
    return _(
        message,
        recomputed=format(summary["recomputed"], ","),
        customers=format(summary["customers"], ","),
        added=format(summary["added"], ","),
        removed=format(summary["removed"], ","),
        tagged=format(summary["tagged"], ","),
        seconds=format(summary["seconds"], ".1f"),
    )


def status_text(status: dict, timezone: str) -> str:
    if not status.get("as_of"):
        return _("Customer profiles, segments and tags have not been computed yet.")
    computed = status.get("computed_at")
    numbers = {
        "as_of": f"{status['as_of']:%Y-%m-%d}",
        "customers": f"{status['customers']:,}",
        "tagged": f"{status['tagged']:,}",
    }
    if computed is not None:
        text = _(
            "Profiles, segments and tags as of %(as_of)s, computed %(computed)s: "
            "%(customers)s customers, %(tagged)s tagged.",
            computed=format(to_local(computed, timezone), "%Y-%m-%d %H:%M"),
            **numbers,
        )
    else:
        text = _(
            "Profiles, segments and tags as of %(as_of)s: %(customers)s customers, "
            "%(tagged)s tagged.",
            **numbers,
        )
    if status.get("stale_thresholds"):
        text += " " + _(
            "The segment or churn thresholds changed since: they apply after the next"
            " recomputation (Recompute tags, or tonight's run)."
        )
    return text


AT_RISK_LABEL = N_("At risk (any tag)")


def tag_options() -> list[dict]:
    """The list's tag filter: the combined at-risk view first, then each tag."""
    return [{"label": _(AT_RISK_LABEL), "value": AT_RISK}] + [
        {"label": tag_label(tag), "value": tag} for tag in TAG_LABELS
    ]


def tag_labels(tags: str | None) -> str:
    """A list cell's comma-separated tag codes as the names people read."""
    if not tags:
        return ""
    return "; ".join(tag_label(tag) for tag in tags.split(", "))


def segment_options() -> list[dict]:
    return [{"label": segment_label(s), "value": s} for s in SEGMENTS]


# --- the churn model's quality card -----------------------------------------------------------

CHURN_MODEL_TITLE = N_("Churn model")
NO_CHURN_MODEL = N_(
    "No churn model has been trained yet: the nightly training job builds one, then the list "
    "shows each customer's churn probability."
)
CHURN_PROBLEMS = {
    "failed": N_("The latest training failed; the version below stays in use."),
    "rejected": N_(
        "The latest training scored worse than the version in use and was not activated."
    ),
}


def _figure(label: str, value: str, hint: str) -> dbc.Col:
    return dbc.Col(
        html.Div(
            [
                html.Div(label, className="text-body-secondary small text-uppercase"),
                html.Div(value, className="fs-4 fw-semibold"),
                html.Div(hint, className="text-body-secondary small"),
            ],
            title=hint,
        ),
        xs=6,
        md=3,
        className="mb-2",
    )


def churn_model_body(summary: dict, timezone: str) -> list[Any]:
    """The churn classifier's hold-out quality: ROC AUC, precision in the top decile, the base
    rate and how many customers are scored; then the hold-out window and the version in use.
    Before the first good training, a message that says so."""
    problem = summary.get("latest_problem")
    notice = (
        [dbc.Alert(_(CHURN_PROBLEMS[problem]), color="warning", className="py-1 px-2 small mb-2")]
        if problem in CHURN_PROBLEMS
        else []
    )
    if not summary.get("trained"):
        return [*notice, html.Div(_(NO_CHURN_MODEL), className="text-body-secondary small")]
    figures = dbc.Row(
        [
            _figure(
                _("ROC AUC"),
                i18n.format_number(summary.get("auc"), digits=3),
                _("1.0 ranks every churner first; 0.5 is a coin toss."),
            ),
            _figure(
                _("Top-decile precision"),
                i18n.format_percent(summary.get("top_decile_precision")),
                _("Churners among the tenth of customers with the highest probability."),
            ),
            _figure(
                _("Base rate"),
                i18n.format_percent(summary.get("base_rate")),
                _("Churners among all active customers of the hold-out."),
            ),
            _figure(
                _("Customers scored"),
                format_count(summary.get("scored")),
                _("Customers with a churn probability in the list."),
            ),
        ]
    )
    start, end = summary.get("holdout_from"), summary.get("holdout_to")
    window = (
        i18n.format_date_range(start, end) if start and end and start <= end else _(NOT_AVAILABLE)
    )
    trained_at = summary.get("trained_at")
    trained = (
        i18n.format_datetime(to_local(trained_at, timezone), style="short")
        if trained_at is not None
        else _(NOT_AVAILABLE)
    )
    details = _(
        "Churn: no visit in the %(days)s days after the scoring date. Hold-out %(window)s "
        "(%(rows)s customers). Model version %(version)s, trained %(trained)s.",
        days=summary.get("churn_days") or "?",
        window=window,
        rows=format_count(summary.get("rows_test")),
        version=summary.get("version"),
        trained=trained,
    )
    return [*notice, figures, html.Div(details, className="text-body-secondary small")]
