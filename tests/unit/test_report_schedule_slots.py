"""A schedule's slots: its cron read in the business time zone (through daylight saving time),
returned as naive UTC; a bad cron is refused with a message naming it. A report's e-mail: the
schedule's recipients instead of the channel's, and the file attached."""

from __future__ import annotations

import datetime as dt

import pytest

from bi_app.alerts.channels import Attachment, ChannelConfig, Message, build_email
from bi_app.reports.schedules import ScheduleInvalid, upcoming


def test_monday_eight_in_seoul_is_sunday_twenty_three_utc():
    after = dt.datetime(2026, 12, 5, 12, 0)
    assert upcoming("0 8 * * mon", "Asia/Seoul", after, 2) == [
        dt.datetime(2026, 12, 6, 23, 0),
        dt.datetime(2026, 12, 13, 23, 0),
    ]


def test_the_first_of_the_month_keeps_its_local_hour_across_daylight_saving_time():
    after = dt.datetime(2026, 2, 15)
    slots = upcoming("0 8 1 * *", "Europe/Berlin", after, 3)
    # 08:00 CET is 07:00 UTC; from April (CEST) it is 06:00 UTC
    assert slots == [
        dt.datetime(2026, 3, 1, 7, 0),
        dt.datetime(2026, 4, 1, 6, 0),
        dt.datetime(2026, 5, 1, 6, 0),
    ]


def test_a_slot_is_strictly_after_the_moment_given():
    slot = dt.datetime(2026, 12, 6, 23, 0)
    assert upcoming("0 8 * * mon", "Asia/Seoul", slot, 1) == [dt.datetime(2026, 12, 13, 23, 0)]


@pytest.mark.parametrize("cron", ["every monday", "0 8 * *", "61 8 * * *", "0 8 * * funday"])
def test_a_bad_cron_is_refused_naming_it(cron):
    with pytest.raises(ScheduleInvalid) as caught:
        upcoming(cron, "UTC", dt.datetime(2026, 1, 1))
    assert caught.value.field == "cron"
    assert repr(cron) in str(caught.value)


def test_a_report_email_goes_to_the_schedules_recipients_with_the_file():
    channel = ChannelConfig(
        "email", "mail", {"host": "127.0.0.1", "from": "bi@example.com", "to": ["ops@example.com"]}
    )
    pdf = b"%PDF-1.7 fake"
    message = Message(
        "Weekly report: Week of Nov 23 – 29, 2026",
        "The report is attached.",
        {},
        "report-run-7",
        recipients=("ceo@example.com", "cfo@example.com"),
        attachments=(Attachment("report-2026-W48.pdf", "application/pdf", pdf),),
    )
    mail = build_email(channel, message)
    assert mail["To"] == "ceo@example.com, cfo@example.com"
    assert mail["Message-ID"] == "<report-run-7@example.com>"
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "report-2026-W48.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf
    assert mail.get_body(preferencelist=("plain",)).get_content().strip() == (
        "The report is attached."
    )


def test_an_alert_email_still_goes_to_the_channels_recipients():
    channel = ChannelConfig(
        "email", "mail", {"host": "127.0.0.1", "from": "bi@example.com", "to": ["ops@example.com"]}
    )
    mail = build_email(channel, Message("[CRITICAL] x", "x", {}, "alert-1"))
    assert mail["To"] == "ops@example.com"
    assert list(mail.iter_attachments()) == []
