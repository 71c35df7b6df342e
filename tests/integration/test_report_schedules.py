"""Report schedules against real databases and a real SMTP stand-in (aiosmtpd on loopback, see
tests/alert_standins.py). The clock is injected (``now``), never slept on: a schedule fires at
its slot in the business time zone, its report is built once and e-mailed once with the file
attached — also when two worker processes run the job and the dispatcher at the same moment; a
failed build raises an alert that the next success resolves; a refused delivery is retried; a
report directory (``BI_REPORT_DIR``) holds the files instead of the database."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bi_app.db.alert_models import Alert, OutboxMessage
from bi_app.db.models import AuditLog
from bi_app.db.report_models import ReportRun, ReportSchedule
from tests.alert_standins import SmtpStandIn
from tests.conftest import migrate

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TZ = "Asia/Seoul"
LOOPBACK = ("127.0.0.1/32",)
SAVED_AT = dt.datetime(2026, 11, 25, 3, 0)  # a Wednesday, UTC
MONDAY_8_KST = dt.datetime(2026, 11, 29, 23, 0)  # Monday Nov 30, 08:00 in Seoul, as UTC
NEXT_MONDAY_8_KST = MONDAY_8_KST + dt.timedelta(days=7)
RECIPIENTS = ["ceo@example.com", "cfo@example.com"]


@pytest.fixture
def smtp():
    server = SmtpStandIn()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, monkeypatch):
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")
    value = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate(value)
    return value


@pytest.fixture
def pg(pg_url, monkeypatch):
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")
    migrate(pg_url)
    return pg_url


def make_app(app_factory, url, **overrides):
    return app_factory(url, timezone=TZ, outbound_allow=LOOPBACK, **overrides)


def add_email_channel(smtp: SmtpStandIn, name: str = "reports-mail") -> int:
    from bi_app.alerts import channel_admin

    raw = {
        "kind": "email",
        "name": name,
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "from": "bi@example.com",
        "to": "ops@example.com",
        "severities": ["critical"],
    }
    return channel_admin.save_channel(raw, "tests")["id"]


def add_schedule(channel_id: int, /, **fields) -> int:
    from bi_app.reports import schedules

    values = {
        "name": "Weekly for the board",
        "cron": "0 8 * * mon",
        "kind": "weekly",
        "sections": ["trend", "kpis"],
        "format": "pdf",
        "locale": "en",
        "channel_id": channel_id,
        "recipients": ", ".join(RECIPIENTS),
        **fields,
    }
    return schedules.save_schedule(values, "admin", now=SAVED_AT)


def one(model, *where):
    from bi_app.extensions import db

    with db.session() as session:
        return session.scalars(select(model).where(*where)).all()


def stored_content(run_id: int) -> bytes | None:
    from bi_app.extensions import db

    with db.session() as session:
        return session.scalar(select(ReportRun.content).where(ReportRun.id == run_id))


def dispatch(now: dt.datetime) -> dict:
    from bi_app.alerts.dispatch import dispatch_pending

    return dispatch_pending(now=now)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "  "}, "name", "name"),
        ({"cron": "every monday"}, "cron", "not a cron expression"),
        ({"cron": "0 25 * * *"}, "cron", "not a cron expression"),
        ({"kind": "yearly"}, "kind", "daily, weekly or monthly"),
        ({"sections": []}, "sections", "at least one section"),
        ({"sections": ["kpis", "gossip"]}, "sections", "gossip"),
        ({"format": "docx"}, "format", "PDF or Excel"),
        ({"locale": "fr"}, "locale", "language"),
        ({"recipients": ""}, "recipients", "at least one"),
        ({"recipients": "ceo@example.com, not-an-address"}, "recipients", "not-an-address"),
        ({"channel_id": 999}, "channel_id", "e-mail channel"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_field_named_and_nothing_stored(
    app_factory, sqlite_url, smtp, monkeypatch, change, field, words
):
    from bi_app.reports import schedules

    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")
    migrate(sqlite_url)
    app = make_app(app_factory, sqlite_url)
    with app.server.app_context():
        channel_id = add_email_channel(smtp)
        with pytest.raises(schedules.ScheduleInvalid) as caught:
            add_schedule(channel_id, **change)
        assert caught.value.field == field
        assert words.lower() in str(caught.value).lower()
        assert one(ReportSchedule) == []


def test_a_webhook_channel_cannot_carry_a_report(app_factory, sqlite_url, monkeypatch):
    from bi_app.alerts import channel_admin
    from bi_app.reports import schedules

    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")
    migrate(sqlite_url)
    app = make_app(app_factory, sqlite_url)
    with app.server.app_context():
        hook = channel_admin.save_channel(
            {"kind": "webhook", "name": "hook", "url": "http://127.0.0.1:9/x", "secret": "s" * 20},
            "tests",
        )["id"]
        with pytest.raises(schedules.ScheduleInvalid) as caught:
            add_schedule(hook)
        assert caught.value.field == "channel_id"


# --- one process -------------------------------------------------------------------------------


def test_a_schedule_fires_at_its_local_slot_and_the_report_is_mailed_once_with_its_file(
    app_factory, url, smtp
):
    import pypdf

    from bi_app.reports import schedules

    app = make_app(app_factory, url)
    with app.server.app_context():
        schedule_id = add_schedule(add_email_channel(smtp))
        listed = schedules.list_schedules()[0]
        assert listed["next_run_local"].isoformat() == "2026-11-30T08:00:00+09:00"
        assert listed["channel"] == "reports-mail" and listed["recipients"] == RECIPIENTS

        early = MONDAY_8_KST - dt.timedelta(minutes=1)
        assert schedules.run_due_schedules(now=early)["claimed"] == 0
        at = MONDAY_8_KST + dt.timedelta(seconds=20)
        counts = schedules.run_due_schedules(now=at)
        assert (counts["claimed"], counts["built"], counts["failed"]) == (1, 1, 0)
        # the job again, a minute later: the slot is done, nothing new
        again = schedules.run_due_schedules(now=at + dt.timedelta(minutes=1))
        assert again == dict.fromkeys(again, 0)

        (run,) = one(ReportRun)
        assert (run.status, run.kind, run.schedule_id) == ("succeeded", "weekly", schedule_id)
        # the week before the Monday it was sent, in Seoul
        assert (run.period_start, run.period_end) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))
        assert run.scheduled_for == MONDAY_8_KST and run.enqueued_at == at
        (row,) = one(OutboxMessage)
        assert (row.kind, row.status, row.idempotency_key) == (
            "report",
            "pending",
            f"report-run-{run.id}",
        )
        assert schedules.list_schedules()[0]["delivery"]["status"] == "pending"
        assert dispatch(at)["sent"] == 1
        assert dispatch(at + dt.timedelta(minutes=1))["claimed"] == 0
        delivery = schedules.list_schedules()[0]["delivery"]
        assert delivery["status"] == "sent" and delivery["error"] is None
        assert delivery["sent_at_local"].isoformat() == "2026-11-30T08:00:20+09:00"

        (schedule,) = one(ReportSchedule)
        assert schedule.next_run_at == NEXT_MONDAY_8_KST
        assert (schedule.last_status, schedule.last_run_id) == ("succeeded", run.id)

    (mail,) = smtp.messages
    assert sorted(mail["to"]) == sorted(RECIPIENTS)
    message = mail["message"]
    assert message["Subject"] == "Weekly report: Week of Nov 23 – 29, 2026"
    assert f"report-run-{run.id}" in message["Message-ID"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Weekly for the board" in body and "report-2026-W48.pdf" in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "report-2026-W48.pdf"
    assert attachment.get_content_type() == "application/pdf"
    content = attachment.get_content()
    pdf = pypdf.PdfReader(__import__("io").BytesIO(content))
    assert "Nov 23" in pdf.pages[0].extract_text()


def test_after_downtime_a_schedule_sends_one_report_for_the_newest_slot(app_factory, url, smtp):
    from bi_app.reports import schedules

    app = make_app(app_factory, url)
    with app.server.app_context():
        add_schedule(add_email_channel(smtp), cron="0 7 * * *", kind="daily", format="xlsx")
        three_days_late = MONDAY_8_KST + dt.timedelta(days=3)
        counts = schedules.run_due_schedules(now=three_days_late)
        assert (counts["claimed"], counts["built"]) == (1, 1)
        assert dispatch(three_days_late)["sent"] == 1
        (schedule,) = one(ReportSchedule)
        assert schedule.next_run_at > three_days_late
    (mail,) = smtp.messages
    (attachment,) = list(mail["message"].iter_attachments())
    assert attachment.get_filename().endswith(".xlsx")


def test_a_failed_build_raises_an_alert_and_the_next_success_resolves_it(
    app_factory, url, smtp, monkeypatch
):
    from bi_app.alerts.rules import fingerprint
    from bi_app.reports import content, schedules

    app = make_app(app_factory, url)
    with app.server.app_context():
        schedule_id = add_schedule(add_email_channel(smtp))
        real = content.build_report

        def broken(*args, **kwargs):
            raise RuntimeError("the data layer is down")

        monkeypatch.setattr(content, "build_report", broken)
        at = MONDAY_8_KST + dt.timedelta(seconds=5)
        counts = schedules.run_due_schedules(now=at)
        assert (counts["claimed"], counts["built"], counts["failed"]) == (1, 0, 1)
        assert dispatch(at)["claimed"] == 0  # nothing half-made is mailed
        key = fingerprint(f"report-schedule:{schedule_id}", {})
        (alert,) = one(Alert, Alert.fingerprint == key)
        assert alert.state == "firing" and alert.source == "system"
        assert alert.name == "Scheduled report Weekly for the board failed"
        (schedule,) = one(ReportSchedule)
        assert schedule.last_status == "failed" and "could not be generated" in schedule.last_error

        monkeypatch.setattr(content, "build_report", real)
        later = NEXT_MONDAY_8_KST + dt.timedelta(seconds=5)
        assert schedules.run_due_schedules(now=later)["built"] == 1
        (alert,) = one(Alert, Alert.fingerprint == key)
        assert alert.state == "resolved"
        assert dispatch(later)["sent"] == 1
    assert len(smtp.messages) == 1


def test_a_refused_delivery_is_retried_and_arrives_once(app_factory, url, smtp):
    from bi_app.reports import schedules

    app = make_app(app_factory, url)
    with app.server.app_context():
        add_schedule(add_email_channel(smtp))
        at = MONDAY_8_KST + dt.timedelta(seconds=5)
        schedules.run_due_schedules(now=at)
        smtp.reject_rcpt = "451 4.3.0 mailbox busy, try later"
        assert dispatch(at)["retry"] == 1
        (row,) = one(OutboxMessage)
        assert row.status == "pending" and "451" in row.last_error
        delivery = schedules.list_schedules()[0]["delivery"]
        assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
        assert "451" in delivery["error"]
        smtp.reject_rcpt = None
        assert dispatch(row.next_attempt_at)["sent"] == 1
    assert len(smtp.messages) == 1


def test_a_schedule_whose_channel_was_deleted_raises_an_alert(app_factory, url, smtp):
    from bi_app.alerts import channel_admin
    from bi_app.alerts.rules import fingerprint
    from bi_app.reports import schedules

    app = make_app(app_factory, url)
    with app.server.app_context():
        channel_id = add_email_channel(smtp)
        schedule_id = add_schedule(channel_id)
        channel_admin.delete_channel(channel_id, "tests")
        at = MONDAY_8_KST + dt.timedelta(seconds=5)
        assert schedules.run_due_schedules(now=at)["built"] == 1
        assert one(OutboxMessage) == []
        key = fingerprint(f"report-schedule:{schedule_id}", {})
        (alert,) = one(Alert, Alert.fingerprint == key)
        assert "no e-mail channel" in alert.annotations["summary"]


def test_pause_resume_delete_and_run_now_are_audited(app_factory, url, smtp):
    from bi_app.reports import schedules

    app = make_app(app_factory, url)
    with app.server.app_context():
        schedule_id = add_schedule(add_email_channel(smtp))
        schedules.set_enabled(schedule_id, False, "admin")
        assert one(ReportSchedule)[0].next_run_at is None
        assert schedules.run_due_schedules(now=MONDAY_8_KST)["claimed"] == 0
        schedules.set_enabled(schedule_id, True, "admin")
        assert one(ReportSchedule)[0].next_run_at is not None

        run_id = schedules.run_now(schedule_id, "admin", background=False)
        assert schedules.process_run(run_id) == "succeeded"
        assert dispatch(dt.datetime.now(dt.UTC).replace(tzinfo=None))["sent"] == 1
        schedules.delete_schedule(schedule_id, "admin")
        assert one(ReportSchedule) == []
        assert [r.id for r in one(ReportRun)] == [run_id]  # its reports stay
        with pytest.raises(schedules.ScheduleNotFound):
            schedules.delete_schedule(schedule_id, "admin")
        actions = [a.action for a in one(AuditLog, AuditLog.action.like("report_schedule.%"))]
    assert actions == [
        "report_schedule.create",
        "report_schedule.pause",
        "report_schedule.resume",
        "report_schedule.run_now",
        "report_schedule.delete",
    ]
    assert len(smtp.messages) == 1


# --- two worker processes ----------------------------------------------------------------------

WORKER = """
import datetime as dt, json, os, sys, time
from pathlib import Path
from bi_app import create_app
from tests.conftest import make_settings

url, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[4])
at = dt.datetime.fromisoformat(sys.argv[3])
app = create_app(make_settings(url, timezone="Asia/Seoul", outbound_allow=("127.0.0.1/32",)))
with app.server.app_context():
    from bi_app.alerts.dispatch import dispatch_pending
    from bi_app.reports.schedules import run_due_schedules

    print("ready", flush=True)
    while not go.exists():  # both processes start the pass together
        time.sleep(0.01)
    totals = {}
    for tick in range(3):  # the job and the dispatcher, three times each, as a worker would
        for key, value in run_due_schedules(now=at).items():
            totals[key] = totals.get(key, 0) + value
        sent = dispatch_pending(now=at, worker=name)
        totals["sent"] = totals.get("sent", 0) + sent["sent"]
    print("result " + json.dumps(totals), flush=True)
"""


def _start(url: str, name: str, at: dt.datetime, go: Path, log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, url, name, at.isoformat(), str(go)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), "BI_OUTBOUND_ALLOW": "127.0.0.1/32"},
        )


def _wait_ready(logs: list[Path], children: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        texts = [p.read_text() if p.exists() else "" for p in logs]
        if all("ready" in t for t in texts):
            return
        for child, text in zip(children, texts, strict=True):
            assert child.poll() is None, text
        time.sleep(0.1)
    raise AssertionError("workers did not start: " + " | ".join(p.read_text() for p in logs))


def test_two_worker_processes_send_a_scheduled_report_exactly_once(app_factory, pg, smtp, tmp_path):
    app = make_app(app_factory, pg)
    with app.server.app_context():
        schedule_id = add_schedule(add_email_channel(smtp))
    at = MONDAY_8_KST + dt.timedelta(seconds=30)
    go = tmp_path / "go"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    children = [_start(pg, n, at, go, log) for n, log in zip(("a", "b"), logs, strict=True)]
    try:
        _wait_ready(logs, children)
        go.touch()
        for child in children:
            child.wait(240)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    outputs = [log.read_text() for log in logs]
    assert all(c.returncode == 0 for c in children), outputs
    results = [json.loads(o.split("result ", 1)[1].splitlines()[0]) for o in outputs]
    assert sum(r["claimed"] for r in results) == 1, results
    assert sum(r["built"] for r in results) == 1, results
    assert sum(r["sent"] for r in results) == 1, results

    with app.server.app_context():
        (run,) = one(ReportRun)
        assert (run.schedule_id, run.scheduled_for, run.status) == (
            schedule_id,
            MONDAY_8_KST,
            "succeeded",
        )
        (row,) = one(OutboxMessage)
        assert row.status == "sent" and row.attempts == 1
    (mail,) = smtp.messages  # exactly one e-mail reached the SMTP server
    (attachment,) = list(mail["message"].iter_attachments())
    assert attachment.get_filename() == "report-2026-W48.pdf"
    assert attachment.get_content().startswith(b"%PDF")


# --- a report directory ------------------------------------------------------------------------


def test_with_a_report_directory_files_live_there_and_are_served_and_deleted(
    app_factory, url, smtp, tmp_path
):
    from bi_app.reports import schedules, store

    folder = tmp_path / "reports"
    app = make_app(app_factory, url, report_dir=str(folder))
    with app.server.app_context():
        add_schedule(add_email_channel(smtp))
        at = MONDAY_8_KST + dt.timedelta(seconds=5)
        schedules.run_due_schedules(now=at)
        (run,) = one(ReportRun)
        assert stored_content(run.id) is None and run.file_path
        path = Path(run.file_path)
        assert path.parent == folder and path.read_bytes().startswith(b"%PDF")
        assert [p.name for p in folder.iterdir()] == [path.name]  # no partial file left
        name, media_type, content = store.download(run.id)
        assert (name, media_type) == ("report-2026-W48.pdf", "application/pdf")
        assert content == path.read_bytes()
        assert dispatch(at)["sent"] == 1

        path.unlink()  # the share lost the file: a clear message, not a crash
        with pytest.raises(store.ReportStoreError, match="cannot be read"):
            store.download(run.id)
        path.write_bytes(content)
        store.delete_run(run.id, "admin")
        assert not path.exists()
    (mail,) = smtp.messages
    (attachment,) = list(mail["message"].iter_attachments())
    assert attachment.get_content() == content
