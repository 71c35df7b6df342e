"""Treasury page builders: KPI cards, recommendations, the flow-of-funds Sankey, the volume
chart, the flow pattern's reason, the counterparty grid's columns, the grid of unusual
transactions (the scoring job's findings) and the capacity gauge.

Inputs are what :mod:`bi_app.data.treasury` returns; money is in minor units and formatted
through :mod:`bi_app.i18n`; figures are built with ``plotly.graph_objects``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import html

from bi_app import i18n
from bi_app.analytics import flow_pattern as fp
from bi_app.analytics.anomaly import ACTION_LABELS, FACTOR_LABELS, LARGE_LABEL, LEVEL_LABELS
from bi_app.capacity import EMERGENCY_PCT, WARNING_PCT
from bi_app.i18n import N_, _
from components.data_grid import GridColumn, data_grid
from components.figures import (
    PRIMARY,
    SECONDARY,
    base_layout,
    empty_figure,
    figure,
    money_axis,
)
from components.format import format_money, to_local, to_major
from components.ids import Treasury, TreasuryCapacity

CapacityIds = TreasuryCapacity

TIER_LABELS = {"hot": N_("Hot"), "warm": N_("Warm"), "cold": N_("Cold storage")}
NODE_LABELS = {
    "deposits": N_("External deposits"),
    "hot": N_("Hot"),
    "warm": N_("Warm"),
    "cold": N_("Cold storage"),
    "withdrawals": N_("External withdrawals"),
    "fees": N_("Fees"),
}
NODE_COLORS = {
    "deposits": "#198754",
    "hot": "#dc3545",
    "warm": "#fd7e14",
    "cold": "#0d6efd",
    "withdrawals": "#6f42c1",
    "fees": "#adb5bd",
}
COUNTERPARTY_KINDS = {
    "bank": N_("Bank"),
    "exchange": N_("Exchange"),
    "customer": N_("Customer"),
    "supplier": N_("Supplier"),
    "internal": N_("Internal"),
    "unknown": N_("Not on file"),
}
PATTERN_LABELS = {
    "spike": N_("Spike"),
    "burst": N_("Burst"),
    "regular": N_("Regular"),
    "normal": N_("Normal"),
}
PATTERN_COLORS = {
    "spike": "danger",
    "burst": "warning",
    "regular": "success",
    "normal": "secondary",
}


def _percent(fraction: float | None) -> str:
    return i18n.format_percent(fraction)


def _card(index: str, label: str, value: str, lines: Sequence[str]) -> dbc.Col:
    body = dbc.CardBody(
        [
            html.Div(label, className="app-kpi-label text-body-secondary small text-uppercase"),
            html.Div(value, className="app-kpi-value fs-4 fw-semibold"),
            *[html.Div(line, className="small text-body-secondary") for line in lines],
        ]
    )
    return dbc.Col(
        dbc.Card(
            body,
            id=Treasury.kpi_card(index),
            className=f"app-kpi-card app-treasury-card-{index} h-100 shadow-sm",
        ),
        xs=12,
        sm=6,
        lg=3,
        className="mb-3",
    )


def kpi_cards(overview: Any) -> list[dbc.Col]:
    """Total balance and each tier with its share (at the end of the window); the window's
    inflow, outflow and net flow."""
    cur = overview.currency
    end = i18n.format_date(overview.end)
    cards = [
        _card(
            "total",
            _("Total balance"),
            format_money(overview.total_balance, cur),
            [_("At the end of %(date)s", date=end)],
        )
    ]
    for tier in fp.TIERS:
        cards.append(
            _card(
                tier,
                _(TIER_LABELS[tier]),
                format_money(overview.balances.get(tier, 0), cur),
                [_("%(share)s of the total", share=_percent(overview.shares.get(tier)))],
            )
        )
    t = overview.totals
    window = i18n.format_date_range(overview.start, overview.end)
    cards += [
        _card("inflow", _("Inflow"), format_money(t.inflow, cur), [window]),
        _card("outflow", _("Outflow"), format_money(t.outflow, cur), [window]),
        _card(
            "net",
            _("Net flow"),
            format_money(t.net, cur),
            [_("Inflow minus outflow")],
        ),
        _card(
            "withdrawals",
            _("Average daily withdrawals"),
            format_money(float(overview.average_daily_withdrawals), cur),
            [_("Over the %(days)s days to %(date)s", days=fp.WITHDRAWAL_AVERAGE_DAYS, date=end)],
        ),
    ]
    return cards


def recommendation_text(item: fp.Recommendation, currency: str) -> str:
    """One recommendation as a sentence in the request's language."""
    if item.kind == "move_to_cold":
        return _(
            "Cold storage holds %(share)s of the funds, below the %(target)s minimum: move "
            "%(amount)s to cold storage to reach %(target)s.",
            share=_percent(item.current),
            target=_percent(item.target),
            amount=format_money(item.amount, currency),
        )
    if item.kind == "top_up_hot":
        return _(
            "The hot balance of %(balance)s is below %(ratio)s of the average daily "
            "withdrawals (%(needed)s): top up hot by %(amount)s.",
            balance=format_money(item.current, currency),
            ratio=i18n.format_percent(float(fp.HOT_MIN_WITHDRAWAL_DAYS), digits=0),
            needed=format_money(item.target, currency),
            amount=format_money(item.amount, currency),
        )
    return _(
        "Balanced: cold storage holds at least %(cold)s of the funds and the hot balance "
        "covers at least %(ratio)s of the average daily withdrawals.",
        cold=i18n.format_percent(float(fp.COLD_MIN_SHARE), digits=0),
        ratio=i18n.format_percent(float(fp.HOT_MIN_WITHDRAWAL_DAYS), digits=0),
    )


def recommendation_list(overview: Any) -> dbc.ListGroup:
    items = []
    for item in overview.recommendations:
        colour = "success" if item.kind == "balanced" else "warning"
        items.append(
            dbc.ListGroupItem(
                recommendation_text(item, overview.currency),
                color=colour,
                className=f"app-treasury-recommendation app-treasury-{item.kind} small",
            )
        )
    return dbc.ListGroup(items, flush=True)


def position_view(overview: Any) -> tuple[Any, Any, Any]:
    """The KPI cards, the recommendations and the Sankey of one :class:`Overview` (None: no
    accounts yet)."""
    if overview is None:
        nothing = html.P(_("No treasury accounts yet."), className="text-body-secondary")
        return nothing, nothing, empty_figure(_("No treasury accounts yet."))
    return kpi_cards(overview), recommendation_list(overview), sankey_figure(overview)


def net_edges(edges: Sequence[fp.Edge]) -> list[tuple[fp.Edge, int, int]]:
    """The edges a Sankey can draw: two tiers that sent each other money (hot → warm sweeps and
    warm → hot top-ups) become one edge of the difference, in the direction of the larger one,
    so the diagram has no loops. Each comes with its gross amounts ``(edge, there, back)``;
    pairs that cancel exactly are left out."""
    gross = {(e.source, e.target): e.value for e in edges}
    out = []
    for e in edges:
        back = gross.get((e.target, e.source), 0)
        if e.value > back:
            out.append((fp.Edge(e.source, e.target, e.value - back), e.value, back))
    return out


def sankey_figure(overview: Any) -> go.Figure | dict:
    """The window's flow of funds between outside, hot, warm and cold storage (edges from
    :func:`bi_app.analytics.flow_pattern.flow_edges`, opposite transfers netted by
    :func:`net_edges`), amounts in major units; the hover gives the gross amounts."""
    drawn = net_edges(overview.edges)
    if not drawn:
        return empty_figure(_("No money moved in the selected window"))
    cur = overview.currency
    edges = [e for e, _there, _back in drawn]
    used = [n for n in fp.NODES if any(n in (e.source, e.target) for e in edges)]
    index = {n: i for i, n in enumerate(used)}
    labels = [_(NODE_LABELS[n]) for n in used]
    hover = []
    for e, there, back in drawn:
        names = {"source": labels[index[e.source]], "target": labels[index[e.target]]}
        if back:
            hover.append(
                _(
                    "%(source)s → %(target)s: %(amount)s net (%(there)s there, %(back)s back)",
                    amount=format_money(e.value, cur),
                    there=format_money(there, cur),
                    back=format_money(back, cur),
                    **names,
                )
            )
        else:
            hover.append(
                _(
                    "%(source)s → %(target)s: %(amount)s",
                    amount=format_money(e.value, cur),
                    **names,
                )
            )
    sankey = go.Sankey(
        arrangement="snap",
        valueformat=",.0f",
        node={
            "label": labels,
            "color": [NODE_COLORS[n] for n in used],
            "pad": 18,
            "thickness": 16,
            "line": {"width": 0},
        },
        link={
            "source": [index[e.source] for e in edges],
            "target": [index[e.target] for e in edges],
            "value": [to_major(e.value, cur) for e in edges],
            "customdata": hover,
            "hovertemplate": "%{customdata}<extra></extra>",
            "color": "rgba(128, 128, 128, 0.25)",
        },
    )
    layout = base_layout(margin={"l": 8, "r": 8, "t": 8, "b": 8})
    for axis in ("xaxis", "yaxis"):
        layout.pop(axis)
    return go.Figure(sankey, layout)


def _whole_window(volume: Any) -> list[str]:
    """The x range of the whole window (a quiet stretch still shows as quiet)."""
    buckets = pd.to_datetime(volume.frame["bucket"])
    step = pd.Timedelta(minutes=1) if volume.grain == "minute" else pd.Timedelta(hours=1)
    return [buckets.iloc[0].isoformat(), (buckets.iloc[-1] + step).isoformat()]


def volume_figure(volume: Any) -> go.Figure | dict:
    """Inflow (up) and outflow (down) per local minute or hour; buckets without movement are
    left out of the drawing (they still count in the pattern)."""
    if volume is None:
        return empty_figure(_("No treasury accounts yet."))
    df = volume.frame
    df = df[(df["inflow"] != 0) | (df["outflow"] != 0)]
    if df.empty:
        return empty_figure(_("No money moved in the selected window"))
    cur = volume.currency
    times = pd.to_datetime(df["bucket"])
    shape = "%H:%M" if volume.grain == "minute" else "%H:00"
    when = [f"{i18n.format_date(t.date())} {t.strftime(shape)}" for t in times]
    x = [t.isoformat() for t in times]
    traces = []
    for column, name, colour, sign in (
        ("inflow", _("Inflow"), PRIMARY, 1),
        ("outflow", _("Outflow"), SECONDARY, -1),
    ):
        values = df[column].tolist()
        traces.append(
            go.Bar(
                x=x,
                y=[sign * to_major(v, cur) for v in values],
                name=name,
                marker={"color": colour},
                customdata=[f"{w}<br>{name} {format_money(v, cur)}" for w, v in zip(when, values)],
                hovertemplate="%{customdata}<extra></extra>",
            )
        )
    layout = base_layout(
        barmode="relative",
        bargap=0.1,
        yaxis={**money_axis(cur), "rangemode": "normal", "zeroline": True},
        xaxis={"type": "date", "automargin": True, "range": _whole_window(volume)},
    )
    return go.Figure(traces, layout)


# whole sentences per bucket size, so that each language can order its words
_SPIKE = {
    "minute": N_(
        "One minute stands out: %(amount)s at %(when)s, above %(line)s (the other minutes' "
        "mean + 4 standard deviations, at least 3× their median of %(median)s)."
    ),
    "hour": N_(
        "One hour stands out: %(amount)s at %(when)s, above %(line)s (the other hours' "
        "mean + 4 standard deviations, at least 3× their median of %(median)s)."
    ),
}
_BURST = {
    "minute": N_(
        "%(count)s busy minutes in a row from %(when)s, each above %(line)s (3× the median of "
        "%(median)s); the busiest moved %(amount)s."
    ),
    "hour": N_(
        "%(count)s busy hours in a row from %(when)s, each above %(line)s (3× the median of "
        "%(median)s); the busiest moved %(amount)s."
    ),
}
_NORMAL = {
    "minute": N_(
        "No spike, burst or rhythm: the coefficient of variation is %(cv)s and the busiest "
        "minute moved %(amount)s (median of the busy minutes %(median)s)."
    ),
    "hour": N_(
        "No spike, burst or rhythm: the coefficient of variation is %(cv)s and the busiest "
        "hour moved %(amount)s (median of the busy hours %(median)s)."
    ),
}


def pattern_reason(volume: Any) -> str:
    """Why the window's flow has its pattern, citing the numbers, in the request's language."""
    p = volume.pattern
    cur = volume.currency
    grain = "minute" if volume.grain == "minute" else "hour"
    if p.basis == "too_few":
        return _("Too few movements in the window to judge a pattern.")
    when = ""
    if p.index is not None:
        bucket = pd.Timestamp(volume.frame["bucket"].iloc[p.index])
        shape = "%H:%M" if grain == "minute" else "%H:00"
        when = f"{i18n.format_date(bucket.date())} {bucket.strftime(shape)}"
    money = {
        "amount": format_money(p.peak, cur),
        "line": format_money(p.threshold, cur),
        "median": format_money(p.median, cur),
    }
    if p.kind == "spike":
        return _(_SPIKE[grain], when=when, **money)
    if p.kind == "burst":
        return _(_BURST[grain], count=p.length, when=when, **money)
    if p.kind == "regular" and p.basis == "cv":
        return _(
            "Even flow: the coefficient of variation is %(cv)s (below %(limit)s).",
            cv=i18n.format_number(p.cv, digits=2),
            limit=i18n.format_number(fp.REGULAR_CV, digits=2),
        )
    if p.kind == "regular":
        return _(
            "A daily rhythm: the same hours are busy every day (autocorrelation at one day "
            "%(autocorr)s, at least %(limit)s).",
            autocorr=i18n.format_number(p.autocorr, digits=2),
            limit=i18n.format_number(fp.REGULAR_AUTOCORR, digits=2),
        )
    return _(
        _NORMAL[grain],
        cv=i18n.format_number(p.cv, digits=2),
        amount=money["amount"],
        median=money["median"],
    )


def pattern_view(volume: Any) -> Any:
    """The pattern as a badge and its reason (nothing without accounts)."""
    if volume is None:
        return None
    kind = volume.pattern.kind
    return html.Div(
        [
            dbc.Badge(
                _(PATTERN_LABELS[kind]),
                color=PATTERN_COLORS[kind],
                className=f"me-2 app-treasury-pattern-{kind}",
            ),
            html.Span(pattern_reason(volume), className="small"),
        ],
        className="app-treasury-pattern",
    )


def volume_view(volume: Any) -> tuple[Any, Any]:
    return volume_figure(volume), pattern_view(volume)


def counterparty_columns() -> list[GridColumn]:
    return [
        GridColumn("name", N_("Counterparty"), "text", width=230, pinned="left"),
        GridColumn("kind", N_("Kind"), "text", width=130),
        GridColumn("transactions", N_("Transactions"), "int"),
        GridColumn("inflow", N_("Inflow"), "money"),
        GridColumn("outflow", N_("Outflow"), "money"),
        GridColumn("volume", N_("Volume"), "money"),
        GridColumn("share", N_("Share of volume"), "percent"),
    ]


def counterparty_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Kinds as people read them; the unnamed row (no counterparty on file) named so."""
    out = df.copy()
    unknown = out["kind"] == "unknown"
    out["kind"] = [_(COUNTERPARTY_KINDS[k]) if k in COUNTERPARTY_KINDS else k for k in out["kind"]]
    out.loc[unknown & (out["name"] == ""), "name"] = _("Not on file")
    return out


# --- unusual transactions -------------------------------------------------------------------

# a risk level's cell: the alert center's severity colours (assets/app.css .alert-sev-*)
LEVEL_CLASSES = {"critical": "emergency", "high": "critical", "medium": "warning", "low": "info"}
KIND_LABELS = {
    "deposit": N_("Deposit"),
    "withdrawal": N_("Withdrawal"),
    "fee": N_("Fee"),
    "sweep": N_("Sweep"),
    "cold_storage": N_("Cold storage transfer"),
}
FINDING_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NOT_SCORED = N_("The transaction scoring job has not run yet.")
NO_FINDINGS = N_("No unusual transactions in this window.")


def alert_link(alert_id: int | None) -> str:
    """The alert's page as a markdown link (the grid's markdown renderer), or an empty cell."""
    if alert_id is None or pd.isna(alert_id):
        return ""
    number = int(alert_id)
    return f"[#{number}](/ops/alerts?alert={number})"


def finding_columns(tz: str) -> list[GridColumn]:
    return [
        GridColumn("time", _("Time (%(timezone)s)", timezone=tz), "text", width=165, pinned="left"),
        GridColumn("reference", N_("Reference"), "text", width=170),
        GridColumn("account", N_("Account"), "text", width=130),
        GridColumn("counterparty", N_("Counterparty"), "text", width=160),
        GridColumn("kind", N_("Kind"), "text", width=120),
        GridColumn("amount", N_("Amount"), "money", width=130),
        GridColumn("level", N_("Risk level"), "text", width=110),
        GridColumn("score", N_("Score"), "float", width=90),
        GridColumn("factors", N_("Factors"), "text", width=280),
        GridColumn("action", N_("Recommended action"), "text", width=180),
        GridColumn("large", N_("Large"), "text", width=90),
        GridColumn("alert", N_("Alert"), "text", width=90),
    ]


def finding_rows(df: pd.DataFrame, tz: str) -> pd.DataFrame:
    """What the grid shows of :func:`bi_app.data.treasury.findings`: local times, translated
    kinds, levels, factors, actions and yes/no, the alert as a link; ``level_class`` colours the
    risk level's cell."""
    rows = [
        {
            "time": to_local(pd.Timestamp(r.occurred_at).to_pydatetime(), tz).strftime(
                FINDING_TIME_FORMAT
            ),
            "reference": r.reference,
            "account": r.account,
            "counterparty": r.counterparty or _("Not on file"),
            "kind": _(KIND_LABELS[r.kind]) if r.kind in KIND_LABELS else r.kind,
            "amount": int(r.amount),
            "level": _(LEVEL_LABELS[r.level]) if r.level in LEVEL_LABELS else _(LARGE_LABEL),
            "level_class": (
                f"alert-sev alert-sev-{LEVEL_CLASSES[r.level]}" if r.level in LEVEL_CLASSES else ""
            ),
            "score": round(float(r.score), 3),
            "factors": ", ".join(
                _(FACTOR_LABELS[code]) if code in FACTOR_LABELS else str(code)
                for code in (r.factors or [])
            ),
            "action": _(ACTION_LABELS[r.action]) if r.action in ACTION_LABELS else r.action,
            "large": _("Yes") if r.large else _("No"),
            "alert": alert_link(r.alert_id),
        }
        for r in df.itertuples(index=False)
    ]
    columns = [c.field for c in finding_columns("UTC")] + ["level_class"]
    return pd.DataFrame(rows, columns=columns).astype({"amount": "int64", "score": "float64"})


def findings_message(findings: Any) -> html.P | None:
    """Why the grid is empty: the job never ran, or nothing in the window; None with rows."""
    if findings is None or not findings.scored:
        text = _(NOT_SCORED)
    elif findings.frame.empty:
        text = _(NO_FINDINGS)
    else:
        return None
    return html.P(text, className="app-treasury-findings-note text-body-secondary small mb-2")


def findings_grid(currency: str, tz: str, can_download: bool) -> Any:
    """The card "Unusual transactions": the shared grid, downloadable like the others, with the
    risk level coloured and the alert column rendered as a link."""
    card = data_grid(
        Treasury.FINDINGS_GRID_NAME,
        finding_columns(tz),
        [],
        title=_("Unusual transactions"),
        height=460,
        currency=currency,
        can_download=can_download,
    )
    card.className = f"{card.className} app-treasury-findings"
    grid = card.children[1].children[1]  # CardBody: message, grid, download, spec
    for item in grid.columnDefs:
        if item["field"] == "level":
            item["cellClass"] = {"function": "params.data.level_class"}
        elif item["field"] == "alert":
            item["cellRenderer"] = "markdown"
    return card


# --- capacity gauge -----------------------------------------------------------------------


CAPACITY_STATE_LABELS = {
    "ok": N_("OK"),
    "warning": N_("Warning"),
    "emergency": N_("Emergency"),
}
CAPACITY_STATE_COLORS = {"ok": "success", "warning": "warning", "emergency": "danger"}
CAPACITY_BAR_COLORS = {"ok": "#198754", "warning": "#ffc107", "emergency": "#dc3545"}
WARNING_BAND = "rgba(255, 193, 7, 0.35)"
EMERGENCY_BAND = "rgba(220, 53, 69, 0.35)"


def _local_iso(moment: Any, tz: str) -> str:
    return to_local(moment, tz).isoformat(timespec="seconds")


def capacity_gauge_figure(status: Any) -> dict:
    """The level in percent on a 0–100 gauge, the emergency (≤ 10 %) and warning (≤ 20 %) bands
    coloured, the warning threshold marked."""
    gauge = {
        "type": "indicator",
        "mode": "gauge+number",
        "value": round(float(status.percent), 1),
        "number": {"suffix": "%", "valueformat": ".1f"},
        "gauge": {
            "axis": {"range": [0, 100], "ticksuffix": "%"},
            "bar": {"color": CAPACITY_BAR_COLORS.get(status.state, PRIMARY)},
            "steps": [
                {"range": [0, EMERGENCY_PCT], "color": EMERGENCY_BAND},
                {"range": [EMERGENCY_PCT, WARNING_PCT], "color": WARNING_BAND},
            ],
            "threshold": {
                "line": {"color": "#dc3545", "width": 3},
                "thickness": 0.8,
                "value": WARNING_PCT,
            },
        },
        "domain": {"x": [0, 1], "y": [0, 1]},
    }
    return figure([gauge], base_layout(margin={"l": 40, "r": 40, "t": 28, "b": 8}))


def capacity_level_figure(status: Any, tz: str) -> dict:
    """The level (percent) over the last days, the projected line to depletion (dashed) and the
    warning and emergency thresholds."""
    cap = float(status.capacity)
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": _("Remaining"),
            "x": [_local_iso(at, tz) for at, _lv in status.history],
            "y": [round(100 * lv / cap, 2) for _at, lv in status.history],
            "line": {"color": PRIMARY, "width": 2},
            "hovertemplate": "%{x}<br>%{y:.1f}%<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": _("Forecast"),
            "x": [_local_iso(at, tz) for at, _lv in status.projection],
            "y": [round(100 * lv / cap, 2) for _at, lv in status.projection],
            "line": {"color": SECONDARY, "width": 2, "dash": "dash"},
            "hovertemplate": "%{x}<br>%{y:.1f}%<extra></extra>",
        },
    ]
    shapes, annotations = [], []
    for value, colour, text in (
        (WARNING_PCT, "#ffc107", _("Warning %(pct)s", pct=_percent(WARNING_PCT / 100))),
        (EMERGENCY_PCT, "#dc3545", _("Emergency %(pct)s", pct=_percent(EMERGENCY_PCT / 100))),
    ):
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": value,
                "y1": value,
                "line": {"color": colour, "width": 1, "dash": "dot"},
            }
        )
        annotations.append(
            {
                "text": text,
                "xref": "paper",
                "x": 0,
                "xanchor": "left",
                "yref": "y",
                "y": value,
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 10, "color": colour},
            }
        )
    layout = base_layout(
        yaxis={
            "range": [0, 105],
            "ticksuffix": "%",
            "gridcolor": "rgba(128, 128, 128, 0.22)",
            "zeroline": False,
            "automargin": True,
        },
        shapes=shapes,
        annotations=annotations,
        margin={"l": 48, "r": 16, "t": 8, "b": 40},
    )
    return figure(traces, layout)


def _fact(label: str, value: str, index: str) -> html.Div:
    return html.Div(
        [
            html.Div(label, className="small text-body-secondary"),
            html.Div(value, className=f"fw-semibold app-capacity-{index}"),
        ],
        className="mb-2",
    )


def capacity_facts(status: Any, tz: str) -> html.Div:
    """State, level, usage rate, net change and the predicted depletion (local time)."""
    unit = str(status.unit)

    def amount(value: float | None, digits: int = 0) -> str:
        return _(
            "%(amount)s %(unit)s",
            amount=i18n.format_number(value, digits=digits),
            unit=unit,
        )

    def rate(value: float | None) -> str:
        if value is None:
            return i18n.not_available()
        return _("%(amount)s per hour", amount=amount(value, 1))

    if status.depletes_at is None:
        depletion = _("Not depleting")
    else:
        depletion = i18n.format_datetime(to_local(status.depletes_at, tz), style="medium")
    net = status.net_per_hour
    net_text = rate(net)
    if net is not None and net > 0:
        net_text = "+" + net_text
    return html.Div(
        [
            dbc.Badge(
                _(CAPACITY_STATE_LABELS.get(status.state, N_("OK"))),
                color=CAPACITY_STATE_COLORS.get(status.state, "secondary"),
                className="mb-2 app-capacity-state",
            ),
            _fact(
                _("Remaining"),
                _(
                    "%(level)s of %(capacity)s",
                    level=amount(status.level),
                    capacity=amount(status.capacity),
                ),
                "level",
            ),
            _fact(_("Usage rate (last 24 hours)"), rate(status.usage_per_hour), "usage"),
            _fact(_("Net change (refill minus usage)"), net_text, "net"),
            _fact(_("Predicted depletion"), depletion, "depletion"),
            html.Div(
                _(
                    "Sampled %(time)s; refills %(refill)s, each outgoing transaction uses "
                    "%(cost)s.",
                    time=i18n.format_datetime(to_local(status.sampled_at, tz), style="short"),
                    refill=rate(status.refill_per_hour),
                    cost=amount(status.cost_per_transaction),
                ),
                className="small text-body-secondary",
            ),
        ]
    )


def capacity_view(status: Any, tz: str) -> tuple[Any, Any, Any, Any]:
    """The gauge, the facts, the level chart and a message (None, or why there is no gauge)
    for one :class:`bi_app.capacity.CapacityStatus` (None: no resource configured)."""
    if status is None:
        text = _(
            "No consumable resource is configured: add one (such as the hot wallets' "
            "transaction energy) to follow its level here."
        )
        return empty_figure(text), None, empty_figure(text), html.P(text, className="small")
    if status.level is None:
        text = _(
            "%(label)s has no samples yet: the sampling job records one every 5 minutes.",
            label=status.label,
        )
        return empty_figure(text), None, empty_figure(text), html.P(text, className="small")
    title = html.Div(str(status.label), className="fw-semibold mb-2")
    return (
        capacity_gauge_figure(status),
        html.Div([title, capacity_facts(status, tz)]),
        capacity_level_figure(status, tz),
        None,
    )
