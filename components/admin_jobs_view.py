"""Builders of the Admin → Jobs page: leader card, jobs table with each job's last slots and
"Run now", recent runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.i18n import N_, _
from components.format import to_local
from components.ids import AdminJobs

STATUS_COLORS = {
    "succeeded": "success",
    "failed": "danger",
    "timed_out": "danger",
    "running": "primary",
    "skipped": "warning",
    "missed": "secondary",
}
# One mark per scheduled slot; a missed slot is a hollow mark, so a gap reads as a gap.
SLOT_CLASSES = {
    "ok": "bg-success",
    "failed": "bg-danger",
    "running": "bg-primary",
    "skipped": "bg-warning",
    "missed": "bg-white border border-danger",
}
# how people read a stored run status, slot state and run trigger (marked only: shown with _())
STATUS_LABELS = {
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "timed_out": N_("timed out"),
    "running": N_("running"),
    "skipped": N_("skipped"),
    "missed": N_("missed"),
}
SLOT_LABELS = {
    "ok": N_("ok"),
    "failed": N_("failed"),
    "running": N_("running"),
    "skipped": N_("skipped"),
    "missed": N_("missed"),
}
TRIGGER_LABELS = {"scheduled": N_("scheduled"), "manual": N_("manual")}
SLOT_STYLE = {"width": "7px", "height": "14px", "marginRight": "2px", "borderRadius": "1px"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def shown(labels: Mapping[str, str], value: str) -> str:
    """The translated label of a stored value; an unknown value as it is stored, "_" as space."""
    label = labels.get(value)
    return _(label) if label else value.replace("_", " ")


def local_time(value: dt.datetime | None, tz: str) -> str:
    """A naive-UTC database time shown in the configured time zone."""
    if value is None:
        return "—"
    return to_local(value, tz).strftime(TIME_FORMAT)


def duration_text(ms: int | None) -> str:
    if ms is None:
        return "—"
    return f"{ms} ms" if ms < 10_000 else _("%(seconds)s s", seconds=format(ms / 1000, ".1f"))


def run_status_badge(status: str | None) -> Any:
    if not status:
        return html.Span(_("never run"), className="text-muted small")
    return dbc.Badge(
        shown(STATUS_LABELS, status),
        color=STATUS_COLORS.get(status, "secondary"),
        className="admin-jobs-status",
    )


def error_text(error: str | None) -> Any:
    """The first line readable at a glance; the rest (frames) folded away. Plain text only."""
    if not error:
        return ""
    head, _sep, rest = error.partition("\n")
    if not rest.strip():
        return html.Span(head, className="text-danger small")
    return html.Details(
        [html.Summary(head, className="text-danger small"), html.Pre(rest, className="small mb-0")]
    )


def slot_timeline(slots: Sequence[Mapping[str, Any]], tz: str) -> Any:
    """The job's last scheduled slots, oldest first: one coloured mark per slot."""
    if not slots:
        return html.Span(_("no slots yet"), className="text-muted small")
    marks = []
    for slot in slots:
        count = int(slot.get("slots") or 1)
        at, state = local_time(slot["at"], tz), shown(SLOT_LABELS, slot["state"])
        label = (
            _("%(time)s: %(state)s (%(count)s slots)", time=at, state=state, count=count)
            if count > 1
            else f"{at}: {state}"
        )
        if slot.get("reason"):
            label += f" — {slot['reason']}"
        marks.append(
            html.Span(
                "…" if count > 1 else "",
                title=label,
                className=f"admin-jobs-slot d-inline-block align-middle "
                f"{SLOT_CLASSES.get(slot['state'], 'bg-secondary')}",
                style=SLOT_STYLE,
                **{"data-state": slot["state"]},
            )
        )
    return html.Div(marks, className="admin-jobs-slots text-nowrap")


def slot_summary(counts: Mapping[str, int]) -> Any:
    """ "3 missed · 1 skipped" over the last 24 h; a dash when every slot ran."""
    texts = {
        "missed": lambda n: _("%(count)s missed", count=n),
        "skipped": lambda n: _("%(count)s skipped", count=n),
        "failed": lambda n: _("%(count)s failed", count=n),
    }
    parts = [texts[state](counts[state]) for state in texts if counts.get(state)]
    if not parts:
        return html.Span("—", className="text-muted admin-jobs-gaps")
    color = "text-danger" if counts.get("missed") or counts.get("failed") else "text-warning"
    return html.Span(" · ".join(parts), className=f"small {color} admin-jobs-gaps")


def leader_card(status: Mapping[str, Any], tz: str) -> dbc.Card:
    lead = status.get("leader")
    if lead:
        body = [
            html.Strong(
                _("Leader: %(host)s (pid %(pid)s)", host=lead["host"], pid=lead["pid"]),
                className="admin-jobs-leader",
            ),
            html.Div(
                _(
                    "leading since %(since)s · last heartbeat %(heartbeat)s",
                    since=local_time(lead.get("since"), tz),
                    heartbeat=local_time(lead.get("heartbeat_at"), tz),
                ),
                className="small text-muted",
            ),
        ]
    else:
        body = [
            html.Strong(_("No scheduler leader"), className="admin-jobs-leader text-danger"),
            html.Div(
                _("No process with BI_SCHEDULER=on has reported recently; jobs are not running."),
                className="small text-muted",
            ),
        ]
    nodes = status.get("nodes") or []
    body.append(
        html.Div(_("%(count)s scheduler process(es) alive", count=len(nodes)), className="small")
    )
    late = status.get("late_jobs") or []
    if late:
        body.append(
            dbc.Alert(
                [html.Div(f"{item['name']}: {item['reason']}") for item in late[:10]],
                color="warning",
                className="small py-2 mt-2 mb-0",
            )
        )
    return dbc.Card(dbc.CardBody(body), className="mb-3")


def jobs_table(jobs: Sequence[Mapping[str, Any]], tz: str, *, can_run: bool) -> dbc.Table:
    header = [
        _("Job"),
        _("Schedule"),
        _("Last slots"),
        _("Gaps (24 h)"),
        _("Last run"),
        _("Result"),
        _("Duration"),
        _("Next run"),
        _("Error"),
    ]
    if can_run:
        header.append("")
    rows = []
    for job in jobs:
        cells = [
            html.Td(
                [
                    html.Div(job["name"], className="fw-semibold"),
                    html.Div(job["description"], className="small text-muted"),
                ]
            ),
            html.Td(job["trigger"]),
            html.Td(slot_timeline(job.get("slots") or [], tz)),
            html.Td(slot_summary(job.get("slot_counts") or {})),
            html.Td(local_time(job["last_started_at"], tz)),
            html.Td(run_status_badge(job["last_status"])),
            html.Td(duration_text(job["last_duration_ms"])),
            html.Td(local_time(job["next_run"], tz)),
            html.Td(error_text(job["last_error"])),
        ]
        if can_run:
            cells.append(
                html.Td(
                    dbc.Button(
                        _("Run now"),
                        id=AdminJobs.run_button(job["name"]),
                        size="sm",
                        color="secondary",
                        outline=True,
                        n_clicks=0,
                    )
                )
            )
        rows.append(html.Tr(cells, className="admin-jobs-row", **{"data-job": job["name"]}))
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
        hover=True,
        size="sm",
        responsive=True,
        className="admin-jobs-table",
    )


def trigger_text(trigger: str, actor: str | None) -> str:
    """How a run was started: "scheduled", "manual by alice"."""
    label = shown(TRIGGER_LABELS, trigger)
    return _("%(trigger)s by %(actor)s", trigger=label, actor=actor) if actor else label


def runs_table(runs: Sequence[Mapping[str, Any]], tz: str) -> Any:
    if not runs:
        return html.P(_("No runs recorded yet."), className="text-muted")
    header = [
        _("Job"),
        _("Trigger"),
        _("Started"),
        _("Finished"),
        _("Result"),
        _("Duration"),
        _("Late"),
        _("Process"),
        _("Error"),
    ]
    rows = [
        html.Tr(
            [
                html.Td(run["job_name"]),
                html.Td(trigger_text(run["trigger"], run.get("actor"))),
                html.Td(local_time(run["started_at"], tz)),
                html.Td(local_time(run["finished_at"], tz)),
                html.Td(run_status_badge(run["status"])),
                html.Td(duration_text(run["duration_ms"])),
                html.Td(duration_text(run["late_ms"]) if run.get("late_ms") else ""),
                html.Td(f"{run['host']}:{run['pid']}"),
                html.Td(error_text(run["error"])),
            ],
            className="admin-jobs-run",
            **{"data-run": str(run["id"])},
        )
        for run in runs
    ]
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
        size="sm",
        striped=True,
        responsive=True,
        className="admin-jobs-runs",
    )


def layout(refresh_ms: int) -> html.Div:
    """The page skeleton; the callbacks fill it on load and on every refresh tick."""
    return html.Div(
        [
            html.H2(_("Jobs"), className="h4 mb-3"),
            dbc.Alert(
                id=AdminJobs.MESSAGE, is_open=False, dismissable=True, className="small py-2"
            ),
            html.Div(id=AdminJobs.LEADER),
            html.H3(_("Scheduled jobs"), className="h6 mt-2"),
            html.Div(id=AdminJobs.JOBS_TABLE),
            html.H3(_("Recent runs"), className="h6 mt-4"),
            html.Div(id=AdminJobs.RUNS_TABLE),
            dcc.Store(id=AdminJobs.RUN_STORE),
            dcc.Interval(id=AdminJobs.INTERVAL, interval=refresh_ms),
        ],
        className="admin-jobs-page",
    )
