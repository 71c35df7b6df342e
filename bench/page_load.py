"""Every page in headless Chromium: from navigation start to the last callback answered, with an
empty data cache and a warm one; callbacks, HTTP errors, bytes of the first load, static caching.

    python -m bench.page_load [--orders 1000000] [--schema bench] [--repeats 3]

The pages are the app's own page registry (``dash.page_registry`` of ``create_app``; the 404
page left out; ``/events/<event_id>`` filled with the event that has the most registrations).
bi-app runs under gunicorn with a private Redis as its cache, as in ``bench.http_load``.
Chromium signs in once through the login form, then:

1. **First load**: the browser cache cleared, ``/`` loaded; every response's bytes on the wire
   (DevTools ``encodedDataLength``: headers plus the body as sent, compressed or not) summed,
   and the ``Cache-Control`` of every static file (``/_dash-component-suites/``, ``/assets/``)
   checked for a year of caching (``max-age`` >= 31536000).
2. One untimed visit of every page (imports and first-use costs of the workers are not what
   this measures).
3. ``--repeats`` rounds over all pages, each page loaded twice in a row: **empty** (Redis
   flushed right before: every data call is a cache miss) and **warm** (the same page again).
   Each is a full navigation (``driver.get``): a person opening a link or pressing reload. A
   page is done when the document is loaded and no request has been in flight for 0.5 s; its
   time is the latest ``responseEnd`` of a ``/_dash-update-component`` request in the page's
   Resource Timing entries (milliseconds from navigation start). A callback answering 4xx or
   5xx, or failing, is an error.
4. After each warm load of a page with a part built only once scrolled into view
   (:data:`LAZY_PARTS`: the Customers list), that part is scrolled to and timed from the scroll
   to its last callback answered, with the rows it shows (reported; the issue sets no target).

Targets (medians over the rounds): every page empty <= 1.5 s and warm <= 0.5 s, never an error
(``/customers`` empty <= 1.5 s is the issue's own line); the first load <= 3 MB on the wire;
static files cacheable for a year. Prints a table, writes bench/results/pages.json and exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import write_report
from bench.servers import (
    BENCH_USER,
    add_data_args,
    ensure_bench_user,
    prepare_data,
    print_problems,
    serving_app,
)

RESULTS = Path(__file__).resolve().parent / "results" / "pages.json"
EMPTY_MS, WARM_MS = 1500.0, 500.0
FIRST_LOAD_BYTES = 3_000_000
YEAR_S = 365 * 24 * 3600
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
FINGERPRINT = re.compile(r"\.v[\w-]+m\d{8,}\.")  # Dash's name.v4_4_1m1796403391.min.js


def registry_pages(url: str) -> list[dict[str, Any]]:
    """Name, path or template and order of every page the app registers (the 404 page aside)."""
    import dash

    from bi_app import create_app
    from bi_app.config import Settings

    create_app(Settings(env="test", database_url=url, secret_key="bench-" * 4, scheduler=False))
    pages = [
        {"name": p["name"], "path": p.get("path_template") or p["path"], "order": p.get("order")}
        for p in dash.page_registry.values()
        if p["path"] != "/404"
    ]
    return sorted(pages, key=lambda p: (p["order"] is None, p["order"] or 0, p["path"]))


def busiest_event(url: str) -> int | None:
    from sqlalchemy import func, select

    from bi_app.db.models import EventRegistration
    from bi_app.extensions import db

    db.init(url)
    with db.require_engine().connect() as conn:
        return conn.execute(
            select(EventRegistration.event_id)
            .group_by(EventRegistration.event_id)
            .order_by(func.count().desc(), EventRegistration.event_id)
            .limit(1)
        ).scalar()


def concrete_paths(pages: list[dict[str, Any]], event_id: int | None) -> tuple[list[str], list]:
    """Paths to visit, and the templates that could not be filled."""
    paths, skipped = [], []
    for p in pages:
        path = p["path"]
        if "<" in path:
            if path == "/events/<event_id>" and event_id is not None:
                path = f"/events/{event_id}"
            else:
                skipped.append(path)
                continue
        paths.append(path)
    return paths, skipped


LAZY_PARTS = {"/customers": "#customers-list-slot"}  # built once scrolled into view


def scroll_to_lazy_part(driver, log, selector: str) -> dict[str, Any]:
    """On the page just loaded: scroll ``selector`` into view and measure until its callbacks
    are answered (ms from the scroll): what the person waits for who scrolls down to it."""
    from bench.browser import CALLBACK_PATH, resource_timing, wait_quiet

    log.clear()
    began = driver.execute_script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});"
        "return performance.now();",
        selector,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not log.callbacks():  # until the part asks for data
        time.sleep(0.02)
        log.drain()
    quiet = wait_quiet(driver, log)
    ends = [
        e["end"]
        for e in resource_timing(driver)["resources"]
        if CALLBACK_PATH in e["name"] and e["start"] >= began
    ]
    rows = driver.execute_script(
        "return document.querySelectorAll(arguments[0] + ' .ag-row[row-id]').length;", selector
    )
    return {
        "quiet": quiet,
        "ms_after_scroll": round(max(ends) - began, 1) if ends else None,
        "callbacks": len(ends),
        "rows_shown": rows,
    }


def max_age(cache_control: str | None) -> int | None:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return int(match.group(1)) if match else None


def load_page(driver, log, url: str) -> dict[str, Any]:
    """One full navigation to ``url`` measured until the page is quiet."""
    from bench.browser import CALLBACK_PATH, resource_timing, severe_console_messages, wait_quiet

    severe_console_messages(driver)  # drop what earlier pages logged
    log.clear()
    driver.get(url)
    quiet = wait_quiet(driver, log)
    timing = resource_timing(driver)
    callbacks = [e for e in timing["resources"] if CALLBACK_PATH in e["name"]]
    failed = []
    for r in log.current():
        if r.error:
            output = None
            if r.is_callback and r.post_data:
                try:
                    output = json.loads(r.post_data).get("output")
                except ValueError:
                    output = None
            failed.append(
                {
                    "url": r.url.split("?")[0][-120:],
                    "status": r.status,
                    "failed": r.failed,
                    "output": output,
                }
            )
    return {
        "quiet": quiet,
        "last_callback_ms": round(max((e["end"] for e in callbacks), default=0.0), 1),
        # the renderer's start-up (document, scripts from the browser cache, layout): before it
        # no callback can start, whatever the server does
        "first_callback_start_ms": round(min((e["start"] for e in callbacks), default=0.0), 1),
        "callbacks": len(callbacks),
        "callbacks_seen": len(log.callbacks()),
        "errors": failed,
        "wire_bytes": sum(r.wire_bytes for r in log.current()),
        "requests": len(log.current()),
        "console_errors": severe_console_messages(driver),
    }


def first_load(driver, log, base: str) -> dict[str, Any]:
    """``/`` with an empty browser cache: bytes on the wire, compression and static caching."""
    from bench.browser import wait_quiet

    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    log.clear()
    driver.get(base + "/")
    wait_quiet(driver, log)
    requests = list(log.current())
    static, not_cached = [], []
    for r in requests:
        path = r.url[len(base) :].split("?")[0] if r.url.startswith(base) else ""
        if not path.startswith(STATIC_PREFIXES):
            continue
        age = max_age(r.response_headers.get("cache-control"))
        entry = {
            "path": path,
            "fingerprinted": bool(FINGERPRINT.search(path)),
            "wire_bytes": r.wire_bytes,
            "content_encoding": r.response_headers.get("content-encoding"),
            "cache_control": r.response_headers.get("cache-control"),
        }
        static.append(entry)
        if age is None or age < YEAR_S:
            not_cached.append(entry)
    static.sort(key=lambda e: -e["wire_bytes"])
    wire = sum(r.wire_bytes for r in requests)
    return {
        "wire_bytes": wire,
        "requests": len(requests),
        "static_files": len(static),
        "static_wire_bytes": sum(e["wire_bytes"] for e in static),
        "compressed_static_files": sum(1 for e in static if e["content_encoding"]),
        "fingerprinted_static_files": sum(1 for e in static if e["fingerprinted"]),
        "fingerprinted_not_cacheable": sum(1 for e in not_cached if e["fingerprinted"]),
        "largest_static": static[:8],
        "not_cacheable_for_a_year": not_cached,
        "target_bytes": FIRST_LOAD_BYTES,
        "bytes_ok": wire <= FIRST_LOAD_BYTES,
        "static_ok": bool(static) and not not_cached,
    }


def summarize(runs: list[dict[str, Any]], limit_ms: float) -> dict[str, Any]:
    times = [r["last_callback_ms"] for r in runs]
    errors = [e for r in runs for e in r["errors"]]
    med = statistics.median(times)
    return {
        "median_ms": round(med, 1),
        "max_ms": round(max(times), 1),
        "runs_ms": times,
        "first_callback_start_ms": round(
            statistics.median([r["first_callback_start_ms"] for r in runs]), 1
        ),
        "callbacks": statistics.median([r["callbacks"] for r in runs]),
        "wire_bytes": int(statistics.median([r["wire_bytes"] for r in runs])),
        "errors": errors[:10],
        "error_count": len(errors),
        "never_quiet": sum(1 for r in runs if not r["quiet"]),
        "console_errors": sorted({m for r in runs for m in r["console_errors"]})[:5],
        "target_ms": limit_ms,
        "ok": med <= limit_ms and not errors and all(r["quiet"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(parser)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over every page")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from bench.browser import chromium, login

    url, orders = prepare_data(args)
    password = ensure_bench_user(url)
    pages = registry_pages(url)
    paths, skipped = concrete_paths(pages, busiest_event(url))
    runs: dict[str, dict[str, list]] = {p: {"empty": [], "warm": []} for p in paths}
    lazy: dict[str, list[dict[str, Any]]] = {p: [] for p in paths if p in LAZY_PARTS}
    with serving_app(url, args.workers) as (redis_server, app, _):
        driver = chromium()
        try:
            login(driver, app.base, BENCH_USER, password)
            from bench.browser import NetworkLog

            log = NetworkLog(driver)
            first = first_load(driver, log, app.base)
            print(
                f"first load of /: {first['wire_bytes']:,} bytes on the wire in "
                f"{first['requests']} requests; {len(first['not_cacheable_for_a_year'])} of "
                f"{first['static_files']} static files not cacheable for a year",
                flush=True,
            )
            for path in paths:  # untimed warm-up of the workers
                load_page(driver, log, app.base + path)
            for round_ in range(args.repeats):
                for path in paths:
                    redis_server.flush()
                    empty = load_page(driver, log, app.base + path)
                    warm = load_page(driver, log, app.base + path)
                    runs[path]["empty"].append(empty)
                    runs[path]["warm"].append(warm)
                    if path in lazy:
                        part = scroll_to_lazy_part(driver, log, LAZY_PARTS[path])
                        lazy[path].append(part)
                        print(
                            f"  round {round_ + 1} {path:<22} {LAZY_PARTS[path]} scrolled into"
                            f" view: answered {part['ms_after_scroll']} ms later,"
                            f" {part['rows_shown']} rows shown",
                            flush=True,
                        )
                    print(
                        f"  round {round_ + 1} {path:<22} empty {empty['last_callback_ms']:>7.0f}"
                        f" ms ({empty['callbacks']} callbacks, {len(empty['errors'])} errors)"
                        f"  warm {warm['last_callback_ms']:>7.0f} ms",
                        flush=True,
                    )
        finally:
            driver.quit()
        server_problems = app.problems()

    results = {
        path: {"empty": summarize(r["empty"], EMPTY_MS), "warm": summarize(r["warm"], WARM_MS)}
        for path, r in runs.items()
    }
    verdicts = page_verdicts(results, first, skipped)
    print_table(results, first, verdicts)
    print_problems(server_problems)
    ok = all(v["ok"] for v in verdicts)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": orders,
        "schema": args.schema,
        "repeats": args.repeats,
        "gunicorn": f"{args.workers} sync workers, -c python:bi_app.gunicorn_conf, loopback",
        "targets": {
            "empty_ms": EMPTY_MS,
            "warm_ms": WARM_MS,
            "first_load_bytes": FIRST_LOAD_BYTES,
            "static_max_age_s": YEAR_S,
        },
        "pages": results,
        # parts below the fold built once scrolled to: no target of the issue, reported as is
        "scrolled_into_view": {
            path: {
                "selector": LAZY_PARTS[path],
                "median_ms_after_scroll": statistics.median(
                    [p["ms_after_scroll"] for p in parts if p["ms_after_scroll"] is not None]
                    or [0.0]
                ),
                "runs": parts,
            }
            for path, parts in lazy.items()
        },
        "skipped_templates": skipped,
        "first_load": first,
        "server_problems": server_problems,  # bi-app's log: timeouts, errors, tracebacks
        "verdicts": verdicts,
        "all_targets_met": ok,
    }
    return write_report(args.output, report, ok)


def page_verdicts(
    results: dict[str, Any], first: dict[str, Any], skipped: list[str]
) -> list[dict[str, Any]]:
    out = []
    for path, r in results.items():
        for kind in ("empty", "warm"):
            s = r[kind]
            detail = f"median {s['median_ms']:.0f} ms (target <= {s['target_ms']:g} ms)"
            if s["error_count"]:
                shown = [
                    f"{e['output'] or e['url']} {e['status'] or e['failed']}" for e in s["errors"]
                ]
                detail += f", {s['error_count']} HTTP errors: " + ", ".join(shown[:3])
            if s["never_quiet"]:
                detail += f", still loading after 120 s in {s['never_quiet']} runs"
            out.append({"name": f"{path} {kind}", "ok": s["ok"], "detail": detail})
    out.append(
        {
            "name": "first load bytes",
            "ok": first["bytes_ok"],
            "detail": f"{first['wire_bytes']:,} bytes on the wire (target <= "
            f"{FIRST_LOAD_BYTES:,}); {first['compressed_static_files']} of "
            f"{first['static_files']} static files compressed",
        }
    )
    offenders = first["not_cacheable_for_a_year"]
    out.append(
        {
            "name": "static files cacheable for a year",
            "ok": first["static_ok"],
            "detail": f"{first['static_files'] - len(offenders)} of {first['static_files']} "
            f"with max-age >= 31536000 ({first['fingerprinted_static_files']} fingerprinted, "
            f"{first['fingerprinted_not_cacheable']} of them not)"
            + (
                "; not: " + ", ".join(f"{e['path']} ({e['cache_control']})" for e in offenders[:4])
                if offenders
                else ""
            ),
        }
    )
    if skipped:
        out.append(
            {"name": "pages visited", "ok": False, "detail": f"no value for {', '.join(skipped)}"}
        )
    return out


def print_table(results: dict[str, Any], first: dict[str, Any], verdicts: list) -> None:
    head = (
        f"\n{'page':<24}{'empty ms':>10}{'warm ms':>9}{'1st cb start':>14}{'callbacks':>11}"
        f"{'errors':>8}{'KB on wire (warm)':>19}"
    )
    print(head)
    print("-" * len(head))
    for path, r in results.items():
        e, w = r["empty"], r["warm"]
        print(
            f"{path:<24}{e['median_ms']:>10.0f}{w['median_ms']:>9.0f}"
            f"{w['first_callback_start_ms']:>14.0f}{e['callbacks']:>11g}"
            f"{e['error_count'] + w['error_count']:>8}{w['wire_bytes'] / 1024:>19.1f}"
        )
    print(
        f"targets: empty <= {EMPTY_MS:g} ms, warm <= {WARM_MS:g} ms (medians), no errors; "
        f"first load {first['wire_bytes']:,} bytes (target <= {FIRST_LOAD_BYTES:,})\n"
    )
    for v in verdicts:
        if not v["ok"]:
            print(f"FAIL {v['name']}: {v['detail']}")


if __name__ == "__main__":
    sys.exit(main())
