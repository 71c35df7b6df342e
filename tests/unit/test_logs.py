"""Log capture pieces that need no database: formatter, snapshotting,
filter parsing, LIKE escaping."""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import sys

import pytest

from bi_app.monitoring import logs
from bi_app.monitoring.logs_query import (
    DEFAULT_RANGE,
    MAX_KEYWORD_CHARS,
    MAX_RANGE,
    RANGES,
    bucket_seconds,
    escape_like,
    parse_log_query,
)
from components.ops_logs_view import log_grid_rows, summary_text

NOW = dt.datetime(2026, 3, 10, 12, 0, 0)


def _record(
    msg: str = "hello %s", args: tuple = ("world",), level: int = logging.INFO, **extra
) -> logging.LogRecord:
    logger = logging.getLogger("bi_app.test")
    record = logger.makeRecord(
        "bi_app.test", level, "/x/mod.py", 42, msg, args, None, func="fn", extra=extra or None
    )
    return record


def test_json_formatter_is_one_readable_json_line_with_extras():
    record = _record(job="rollup", n=3, when=dt.date(2026, 1, 2))
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    payload = json.loads(line)
    assert payload["msg"] == "hello world"
    assert payload["level"] == "INFO" and payload["logger"] == "bi_app.test"
    assert payload["line"] == 42 and payload["func"] == "fn"
    assert payload["extra"] == {"job": "rollup", "n": 3, "when": "2026-01-02"}
    assert payload["ts"].endswith("Z")
    assert list(payload)[:4] == ["ts", "level", "logger", "msg"]


def test_json_formatter_keeps_unicode_readable_and_includes_exception():
    try:
        raise ValueError("bad → value")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, "f.py", 1, "Größe %d", (5,), sys.exc_info()
        )
    line = logs.JsonFormatter().format(record)
    assert "Größe 5" in line  # not \u-escaped
    payload = json.loads(line)
    assert "ValueError: bad → value" in payload["exc"]


def test_snapshot_renders_message_and_traceback_for_another_thread():
    try:
        {}["missing"]
    except KeyError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, "f.py", 1, "failed %s", ("job",), sys.exc_info()
        )
    snap = logs.snapshot(record)
    assert snap.exc_info is None and snap.args is None
    assert snap.getMessage() == "failed job"
    assert "KeyError: 'missing'" in snap.exc_text
    assert record.exc_info is not None  # the caller's record is untouched
    row = logs.to_row(snap, host="h1")
    assert row["message"] == "failed job" and row["level"] == 40 and row["level_name"] == "ERROR"
    assert "KeyError" in row["exc_text"] and row["host"] == "h1"
    assert row["at"].tzinfo is None


def test_snapshot_survives_a_bad_format_string():
    snap = logs.snapshot(_record("%d items", ("many",)))
    assert "unformattable" in snap.getMessage()


def test_extras_are_made_json_safe():
    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    row = logs.to_row(
        logs.snapshot(_record(obj=Thing(), long="x" * 5000, nested={"a": [1, {2, 3}]}))
    )
    json.dumps(row["extra"])
    assert row["extra"]["obj"] == "<thing>"
    assert len(row["extra"]["long"]) == 1000


def test_full_queue_drops_and_counts_instead_of_blocking():
    stats = logs.CaptureStats()
    handler = logs.CaptureQueueHandler(
        queue.Queue(maxsize=2), stats, fallback=logging.NullHandler()
    )
    for _ in range(5):
        handler.emit(_record())
    assert stats.as_dict()["queued"] == 2
    assert stats.as_dict()["dropped_queue_full"] == 3


def test_records_from_the_writer_thread_are_not_queued():
    import threading

    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    q: queue.Queue = queue.Queue()
    handler = logs.CaptureQueueHandler(q, logs.CaptureStats(), fallback=Collect())
    handler.writer_ident = threading.get_ident()
    handler.emit(_record("from the writer", ()))
    assert q.empty() and seen == ["from the writer"]


# --- filter parsing ----------------------------------------------------------------------------


def test_parse_defaults():
    parsed = parse_log_query({}, now=NOW)
    assert parsed.notices == []
    assert parsed.level_name == "INFO" and parsed.query.min_level == 20
    assert parsed.range_key == DEFAULT_RANGE
    assert parsed.query.end == NOW and parsed.query.start == NOW - RANGES[DEFAULT_RANGE]
    assert parsed.query.loggers is None and parsed.query.keyword is None


def test_parse_valid_values():
    parsed = parse_log_query(
        {"level": "warning", "logger": "bi_app.jobs,werkzeug", "range": "1h", "q": "  Timeout "},
        now=NOW,
    )
    assert parsed.notices == []
    assert parsed.query.min_level == logging.WARNING
    assert parsed.query.loggers == ("bi_app.jobs", "werkzeug")
    assert parsed.query.keyword == "Timeout"
    assert parsed.query.start == NOW - dt.timedelta(hours=1)


@pytest.mark.parametrize(
    "raw, expected_level", [("verbose", "INFO"), ("<script>", "INFO"), ("30", "INFO")]
)
def test_garbage_level_gets_notice_and_default(raw, expected_level):
    parsed = parse_log_query({"level": raw}, now=NOW)
    assert parsed.level_name == expected_level
    assert len(parsed.notices) == 1 and "level" in parsed.notices[0]


def test_reversed_custom_range_is_swapped_with_notice():
    parsed = parse_log_query(
        {"range": "custom", "start": "2026-03-10T11:00", "end": "2026-03-10T09:00"}, now=NOW
    )
    assert parsed.query.start == dt.datetime(2026, 3, 10, 9) and parsed.query.end == dt.datetime(
        2026, 3, 10, 11
    )
    assert any("swapped" in n for n in parsed.notices)


def test_custom_range_is_read_in_the_display_time_zone():
    parsed = parse_log_query(
        {"range": "custom", "start": "2026-03-10 10:00", "end": "2026-03-10 11:00"},
        now=NOW,
        tz="Europe/Berlin",
    )
    assert parsed.query.start == dt.datetime(2026, 3, 10, 9, 0)  # CET = UTC+1 in March before DST
    assert parsed.notices == []


def test_invalid_and_too_long_ranges():
    parsed = parse_log_query(
        {"range": "custom", "start": "yesterday", "end": "2026-03-10T12:00"}, now=NOW
    )
    assert any("Invalid start" in n for n in parsed.notices)
    assert parsed.query.end - parsed.query.start == RANGES[DEFAULT_RANGE]
    parsed = parse_log_query(
        {"range": "custom", "start": "2020-01-01", "end": "2026-03-10"}, now=NOW
    )
    assert parsed.query.end - parsed.query.start == MAX_RANGE and parsed.notices
    parsed = parse_log_query({"range": "forever"}, now=NOW)
    assert parsed.range_key == DEFAULT_RANGE and parsed.notices


def test_huge_keyword_is_cut_with_notice():
    parsed = parse_log_query({"q": "a" * 100_000}, now=NOW)
    assert len(parsed.query.keyword) == MAX_KEYWORD_CHARS
    assert parsed.notices


def test_invalid_logger_names_are_ignored():
    parsed = parse_log_query({"logger": ["bi_app", "x'; DROP TABLE app_logs;--", ""]}, now=NOW)
    assert parsed.query.loggers == ("bi_app",)
    assert len(parsed.notices) == 1


@pytest.mark.parametrize(
    "term, escaped",
    [
        ("100%", "100\\%"),
        ("a_b", "a\\_b"),
        ("back\\slash", "back\\\\slash"),
        ("plain", "plain"),
        ("%_\\", "\\%\\_\\\\"),
    ],
)
def test_escape_like(term, escaped):
    assert escape_like(term) == escaped


def test_bucket_seconds_gives_at_most_about_sixty_buckets():
    assert bucket_seconds(NOW - dt.timedelta(minutes=15), NOW) == 60
    assert bucket_seconds(NOW - dt.timedelta(hours=1), NOW) == 60
    assert bucket_seconds(NOW - dt.timedelta(hours=6), NOW) == 900
    assert bucket_seconds(NOW - dt.timedelta(hours=24), NOW) == 3600
    assert bucket_seconds(NOW - dt.timedelta(days=90), NOW) == 86400


def test_grid_rows_show_local_time_and_summary_text():
    rows = log_grid_rows(
        [
            {
                "id": 1,
                "at": dt.datetime(2026, 7, 1, 10, 0, 5),
                "message": "m" * 3000,
                "extra": {"k": 1},
            }
        ],
        "Europe/Berlin",
    )
    assert rows[0]["at"] == "2026-07-01 12:00:05"
    assert rows[0]["message"].endswith("…") and len(rows[0]["message"]) < 2100
    assert rows[0]["extra"] == '{"k": 1}'
    assert summary_text(5000, 12345) == "Showing newest 5,000 of 12,345 lines."
    assert summary_text(3, 3) == "Showing all 3 lines."
    assert summary_text(0, 0) == "No lines match these filters."
