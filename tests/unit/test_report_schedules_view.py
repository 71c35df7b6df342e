"""The pure builders of the Schedules card on /reports: presets and cron, the table's texts and
controls (admins only), the form's values and fields, the preview, the channel note; and the
custom date range of the report form shown only for a custom period."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dash
import pytest

from bi_app.errors import ServiceError
from bi_app.reports.model import SECTIONS
from bi_app.reports.schedules import CRON_PRESETS
from components import report_schedules_view as view
from components import reports_view
from components.ids import Reports, ReportSchedules

TZ = "Asia/Seoul"
NEXT = dt.datetime(2026, 12, 7, 8, 0, tzinfo=ZoneInfo(TZ))


@pytest.fixture(autouse=True)
def _relative_paths(monkeypatch):
    """No Dash app is running: links are the path itself."""
    monkeypatch.setattr(dash, "get_relative_path", lambda path: path)


def _walk(node):
    if isinstance(node, (list, tuple)):
        for child in node:
            yield from _walk(child)
        return
    if not hasattr(node, "to_plotly_json"):
        return
    yield node
    yield from _walk(getattr(node, "children", None))


def _ids(node) -> list:
    return [n.id for n in _walk(node) if getattr(n, "id", None) is not None]


def _text(node) -> str:
    parts = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            for child in item:
                walk(child)
        elif isinstance(item, (str, int, float)):
            parts.append(str(item))
        elif hasattr(item, "to_plotly_json"):
            walk(getattr(item, "children", None))

    walk(node)
    return " ".join(parts)


def _schedule(**overrides) -> dict:
    values = {
        "id": 7,
        "name": "Monday mail",
        "cron": "0 8 * * mon",
        "kind": "weekly",
        "sections": ["kpis", "trend"],
        "format": "pdf",
        "locale": "ko",
        "channel_id": 3,
        "channel": "smtp main",
        "recipients": ["a@example.com", "b@example.com"],
        "enabled": True,
        "next_run_local": NEXT,
        "last_run_local": None,
        "last_run_id": None,
        "last_status": None,
        "last_error": None,
        "created_by": "admin",
    }
    return values | overrides


def test_presets_are_recognized_and_custom_is_typed():
    assert view.preset_for("0  8 * *  MON") == "weekly"
    assert view.preset_for(CRON_PRESETS["monthly"][0]) == "monthly"
    assert view.preset_for("5 9 * * *") == view.CUSTOM
    assert view.preset_for(None) == view.CUSTOM
    assert view.cron_of("daily", "ignored") == CRON_PRESETS["daily"][0]
    assert view.cron_of(view.CUSTOM, "  5  9 * * * ") == "5 9 * * *"
    values = [o["value"] for o in view.preset_options()]
    assert values == ["weekly", "monthly", "daily", view.CUSTOM]
    assert view.cron_row_style("weekly") == {"display": "none"}
    assert view.cron_row_style(view.CUSTOM) == {}


def test_the_table_says_when_what_and_to_whom_and_admins_get_the_actions():
    failed = _schedule(
        id=8,
        name="Odd times",
        cron="5 9 * * *",
        kind="daily",
        format="xlsx",
        locale="en",
        channel=None,
        recipients=["c@example.com"],
        enabled=False,
        next_run_local=None,
        last_run_local=NEXT,
        last_status="failed",
        last_error="SMTP refused",
    )
    table = view.schedules_table([_schedule(), failed], can_edit=True, tz=TZ)
    text = _text(table)
    assert "Mondays at 08:00" in text and "0 8 * * mon" in text
    assert "Next: Mon, Dec 7, 2026 08:00 (Asia/Seoul)" in text
    assert "Weekly (last complete week)" in text and "PDF" in text and "한국어" in text
    assert "smtp main" in text and "2 recipients" in text and "a@example.com, b@example.com" in text
    assert "Never run" in text and "Active" in text
    # the custom one: the cron alone, paused, no channel, its failure and its error
    assert "5 9 * * *" in text and "Next: none (paused)" in text and "Paused" in text
    assert "1 recipient" in text and "No channel (deleted)" in text
    assert "failed" in text and "SMTP refused" in text and "Excel (xlsx)" in text
    ids = _ids(table)
    assert ReportSchedules.toggle_button(7, "pause") in ids
    assert ReportSchedules.toggle_button(8, "resume") in ids
    for sid in (7, 8):
        assert ReportSchedules.run_button(sid) in ids
        assert ReportSchedules.edit_button(sid) in ids
        assert ReportSchedules.delete_button(sid) in ids
    rows = [n for n in _walk(table) if getattr(n, "className", None) == "report-schedules-row"]
    assert [r.to_plotly_json()["props"]["data-enabled"] for r in rows] == ["true", "false"]


def test_others_see_the_table_without_any_control():
    table = view.schedules_table([_schedule()], can_edit=False, tz=TZ)
    assert "Monday mail" in _text(table)
    assert _ids(table) == []
    card = view.schedules_card(can_edit=False)
    ids = _ids(card)
    assert ReportSchedules.TABLE in ids and ReportSchedules.NEW not in ids
    assert ReportSchedules.FORM_MODAL not in ids and ReportSchedules.DELETE_MODAL not in ids
    admin_ids = _ids(view.schedules_card(can_edit=True))
    for wanted in (
        ReportSchedules.NEW,
        ReportSchedules.FORM_MODAL,
        ReportSchedules.DELETE_MODAL,
        ReportSchedules.DELETE_CONFIRM,
        ReportSchedules.PRESET,
        ReportSchedules.CRON,
        ReportSchedules.CHANNEL,
        ReportSchedules.RECIPIENTS,
        ReportSchedules.FORM_ERROR,
    ):
        assert wanted in admin_ids


def test_an_empty_list_says_so_and_polling_follows_active_runs():
    assert "No report is scheduled yet" in _text(view.schedules_table([], True, TZ))
    assert not view.any_active([_schedule(), _schedule(last_status="failed")])
    assert view.any_active([_schedule(last_status="running")])
    assert view.any_active([_schedule(last_status="queued")])


def test_the_form_starts_empty_or_with_the_schedule():
    channels = [{"id": 4, "name": "mail", "enabled": True}]
    new = view.form_values(None, channels, "ko")
    assert new["preset"] == "weekly" and new["cron"] == "0 8 * * mon"
    assert new["sections"] == list(SECTIONS) and new["locale"] == "ko"
    assert new["channel_id"] == 4 and new["recipients"] == "" and new["enabled"] is True
    assert view.form_values(None, [], "fr")["channel_id"] is None
    assert view.form_values(None, [], "fr")["locale"] == "en"
    edit = view.form_values(_schedule(cron="5 9 * * *", enabled=False), channels, "en")
    assert edit["preset"] == view.CUSTOM and edit["cron"] == "5 9 * * *"
    assert edit["recipients"] == "a@example.com, b@example.com"
    assert edit["enabled"] is False and edit["title"] == "Edit schedule Monday mail"


def test_the_form_fields_are_what_the_service_takes():
    fields = view.form_fields(
        "Mail", "monthly", "1 2 3 4 5", "monthly", ("kpis",), "xlsx", "en", 4, None, True
    )
    assert fields == {
        "name": "Mail",
        "cron": CRON_PRESETS["monthly"][0],
        "kind": "monthly",
        "sections": ["kpis"],
        "format": "xlsx",
        "locale": "en",
        "channel_id": 4,
        "recipients": "",
        "enabled": True,
    }
    assert view.form_fields(None, view.CUSTOM, " 5 9 * * * ", *[None] * 7)["cron"] == "5 9 * * *"
    assert view.invalid_flags("recipients") == (False, False, True)
    assert view.invalid_flags("name") == (True, False, False)
    assert view.invalid_flags("channel_id") == view.invalid_flags(None) == (False, False, False)
    assert view.pending_id({"id": "12", "name": "x"}) == 12
    assert view.pending_id({"id": "x"}) is None and view.pending_id(None) is None


def test_channels_without_any_link_to_create_one():
    assert view.channel_note([{"id": 1, "name": "m", "enabled": True}]) is None
    note = view.channel_note([])
    links = [n for n in _walk(note) if getattr(n, "href", None)]
    assert [link.href for link in links] == ["/ops/alerts/channels"]
    assert "no e-mail channel" in _text(note)
    assert "down" in _text(view.channel_note([], "Channels down"))
    options = view.channel_options(
        [{"id": 1, "name": "a", "enabled": True}, {"id": 2, "name": "b", "enabled": False}]
    )
    assert options == [{"label": "a", "value": 1}, {"label": "b (disabled)", "value": 2}]

    def failing():
        raise ServiceError("E-mail channels unavailable")

    assert view.channels_or_error(failing) == ([], "E-mail channels unavailable")
    assert view.channels_or_error(lambda: [{"id": 1}]) == ([{"id": 1}], None)


def test_the_preview_lists_the_next_sends_or_the_problem():
    moments = [NEXT + dt.timedelta(days=7 * i) for i in range(3)]
    shown = view.preview(moments, TZ)
    text = _text(shown)
    assert "Next sends (Asia/Seoul):" in text
    assert "Mon, Dec 7, 2026 08:00" in text and "Mon, Dec 21, 2026 08:00" in text
    assert "not a cron" in _text(view.preview([], TZ, "Schedule: 'x' is not a cron expression"))
    assert "never sends" in _text(view.preview([], TZ))
    assert "cron expression" in view.cron_missing()


def test_messages_and_the_delete_question_name_the_schedule():
    assert "Monday mail" in view.delete_question(_schedule())
    assert view.message_saved("A", True) == "The schedule A was created."
    assert view.message_saved("A", False) == "The schedule A was saved."
    assert "paused" in view.message_toggled("A", False)
    assert "resumed" in view.message_toggled("A", True)
    assert "Report 5 of the schedule A" in view.message_run("A", 5)
    assert view.message_deleted("A") == "The schedule A was deleted."
    assert view.find([_schedule()], "7")["name"] == "Monday mail"
    assert view.find([_schedule()], 8) is None and view.find([_schedule()], "x") is None


def test_the_custom_range_shows_only_for_a_custom_period():
    layout = reports_view.layout("en", dt.date(2026, 12, 5), schedules=view.schedules_card(False))
    rows = [n for n in _walk(layout) if getattr(n, "id", None) == Reports.RANGE_ROW]
    assert len(rows) == 1 and rows[0].style == {"display": "none"}
    assert Reports.RANGE in _ids(rows[0])
    assert ReportSchedules.TABLE in _ids(layout)
    assert reports_view.range_row_style("custom") == {}
    assert reports_view.range_row_style("weekly") == {"display": "none"}


@pytest.mark.parametrize(
    ("delivery", "words", "color"),
    [
        (
            {
                "status": "sent",
                "error": None,
                "sent_at_local": dt.datetime(2026, 11, 30, 8, 0, 20, tzinfo=ZoneInfo("Asia/Seoul")),
            },
            "E-mail sent Mon, Nov 30, 2026 08:00",
            "text-success",
        ),
        ({"status": "pending", "error": None}, "E-mail queued", "text-muted"),
        (
            {"status": "pending", "error": "SMTP server 127.0.0.1:25 answered 451"},
            "E-mail will be retried: SMTP server 127.0.0.1:25 answered 451",
            "text-warning",
        ),
        (
            {"status": "failed", "error": "the channel is disabled"},
            "E-mail failed: the channel is disabled",
            "text-danger",
        ),
    ],
)
def test_the_last_runs_email_says_what_became_of_it(delivery, words, color):
    shown = view.delivery_text(delivery)
    assert shown.children == words
    assert color in shown.className


def test_no_email_yet_shows_nothing():
    assert view.delivery_text(None) is None
