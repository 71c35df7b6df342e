"""Events pages' data calls at scale: cache miss and hit against the raw SQL they run.

    python -m bench.events [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Same database, cache and targets as :mod:`bench.overview` (both use :mod:`bench.harness`): miss <=
1.5 x raw SQL + 30 ms, hit <= 10 ms (medians). Measured: the Events list, every data call of one
event's page (the held event with the most registrations whose organizer has an earlier event, so
the comparison and the "views vs previous event" paths run), and that event's channel report as
the summary callback fetches it — the built-in demo source for every channel, no network.

A miss empties the ``events`` namespace and, for the channel report, the report's own cache
entries. "Raw SQL" replays the statements of that miss on one connection in autocommit mode:
the channel report writes each channel's last-good value in its own transaction, and those
commits belong to the floor (the replay writes the same values again, a few ms older). The channel
sources run in
parallel threads, so their statements are compared as a multiset, not in order. Reading
``orders`` is allowed here (sales around an event's dates); the JSON lists which calls do.
Writes bench/results/events.json and exits 1 when a target fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from bench.harness import (
    RESULTS_DIR,
    CallResult,
    StatementRecorder,
    as_multiset,
    bench_call,
    parse_args,
    print_table,
    replay_autocommit_ms,
    setup,
    targets,
    write_report,
)
from bi_app.channels.config import load_configs
from bi_app.channels.report import event_channels
from bi_app.channels.service import ChannelReport
from bi_app.data import cache as data_cache
from bi_app.data import events
from bi_app.extensions import cache

RESULTS = RESULTS_DIR / "events.json"
Statements = list[tuple[str, Any]]


def events_call(
    engine: Engine,
    recorder: StatementRecorder,
    name: str,
    call: Callable[[], Any],
    runs: int,
    hit_runs: int,
    invalidate: Callable[[], None],
) -> tuple[CallResult, list[str]]:
    """:func:`bench.harness.bench_call` for calls that write (the channel report's last-good
    values: replayed in autocommit) and fan out to threads (statements compared as a multiset).
    Returns the result and the raw tables its statements read: reported, not judged."""
    result = bench_call(
        engine,
        recorder,
        name,
        call,
        runs,
        hit_runs,
        invalidate=invalidate,
        replay=replay_autocommit_ms,
        shape=as_multiset,
    )
    touched, result.raw_tables_touched = result.raw_tables_touched, []
    return result, touched


def report_keys(engine: Engine, event_ids: list[int]) -> list[str]:
    """The cache keys :func:`bi_app.channels.report.channel_report` uses for these events."""
    configs = load_configs(engine)
    digest = hashlib.sha256("|".join(c.fingerprint() for c in configs).encode()).hexdigest()[:12]
    return [f"channels:report:{event_id}:{digest}" for event_id in event_ids]


def pick_event() -> tuple[int, int | None]:
    """The held event with the most registrations that has an earlier event of its organizer
    (else the one with the most registrations), and that earlier event."""
    listed = events.events_list()
    if listed.empty:
        raise SystemExit("no events in the data set: nothing to benchmark")
    ranked = listed.sort_values(["registered", "event_id"], ascending=[False, True])
    held = ranked[ranked["status"].isin(events.HELD_STATUSES)]
    for event_id in [int(i) for i in held["event_id"]] + [int(i) for i in ranked["event_id"]]:
        previous = events.previous_event_id(event_id)
        if previous is not None:
            return event_id, previous
    return int(ranked.iloc[0]["event_id"]), None


def event_calls(event_id: int, timezone: str) -> list[tuple[str, Callable[[], Any]]]:
    """What the Events list and one event's page ask for, with the callbacks' arguments."""
    return [
        ("events_list", events.events_list),
        ("event_summary", lambda: events.event_summary(event_id)),
        ("what_if_base", lambda: events.what_if_base(event_id)),
        ("checkins_by_hour", lambda: events.checkins_by_hour(event_id, timezone)),
        ("participant_profile", lambda: events.participant_profile(event_id)),
        ("organizer_comparison", lambda: events.organizer_comparison(event_id)),
        ("event_advice", lambda: events.event_advice(event_id)),
    ]


def bench_channels(
    engine: Engine,
    recorder: StatementRecorder,
    event_id: int,
    previous: int | None,
    runs: int,
    hit_runs: int,
) -> tuple[CallResult, list[str]]:
    """``event_channels`` as the summary callback calls it: this event's and the previous
    event's reports (demo source) plus the lookups around them."""
    if any(c.enabled for c in load_configs(engine)):
        raise SystemExit(
            "channel_sources has an enabled HTTP source: this bench uses the demo source only"
        )
    keys = report_keys(engine, [event_id] + ([previous] if previous is not None else []))

    def invalidate() -> None:
        data_cache.invalidate(events.NAMESPACE)
        for key in keys:
            cache.delete(key)

    def call() -> None:
        found = event_channels(event_id)
        if found is None or len(found.report.results) == 0:
            raise RuntimeError(f"event {event_id}: no channel report")

    call()
    missing = [k for k in keys if not isinstance(cache.get(k), ChannelReport)]
    if missing:  # else every "miss" below would be a hit and the numbers a lie
        raise RuntimeError(f"channel report not cached under {missing}: the key scheme changed")
    return events_call(
        engine, recorder, "event_channels (demo source)", call, runs, hit_runs, invalidate
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], RESULTS, argv)
    bench = setup(args, "bench.events")
    engine, recorder = bench.engine, bench.recorder
    results: list[CallResult] = []
    raw_reads: dict[str, list[str]] = {}
    with bench.running():
        event_id, previous = pick_event()

        def invalidate() -> None:
            data_cache.invalidate(events.NAMESPACE)

        for name, call in event_calls(event_id, bench.settings.timezone):
            result, touched = events_call(
                engine, recorder, name, call, args.runs, args.hit_runs, invalidate
            )
            results.append(result)
            raw_reads[name] = touched
        result, touched = bench_channels(
            engine, recorder, event_id, previous, args.runs, args.hit_runs
        )
        results.append(result)
        raw_reads[result.name] = touched
        listed = len(events.events_list())

    print(
        f"\n{bench.orders:,} orders, {listed} events, detail of event {event_id} (previous "
        f"{previous}), "
        f"cache {bench.cache_label}, database {engine.dialect.name}\n"
    )
    print_table(results)
    reading = {name: tables for name, tables in raw_reads.items() if tables}
    if reading:
        print(
            "reading raw tables (allowed here): "
            + "; ".join(f"{name}: {', '.join(t)}" for name, t in reading.items())
        )
    ok = all(r.miss_ok and r.hit_ok for r in results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": bench.orders,
        "events": listed,
        "event_id": event_id,
        "previous_event_id": previous,
        "cache_backend": bench.cache_backend,
        "database": engine.dialect.name,
        "targets": targets(raw_tables=False),
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
        "raw_tables_read": raw_reads,
    }
    return write_report(args.output, report, ok)


if __name__ == "__main__":
    sys.exit(main())
