"""Callback load over HTTP: bi-app under gunicorn against a bare-Dash floor, with the renderer's own
request bodies, at 1, 10 and 50 concurrent connections.

    python -m bench.http_load [--orders 1000000] [--schema bench] [--connections 1,10,50]
                              [--duration 5] [--miss-runs 7] [--client-procs 2]

Servers: bi-app (``bi_app.wsgi:server``) and the floor (``bench.floor_app:server``: one callback
returning a small precomputed figure, no auth, no database) under the same gunicorn settings
(``-c python:bi_app.gunicorn_conf``, 2 sync workers, a loopback port), bi-app on the bench
schema with a private Redis as its cache (see ``bench.servers``).

Request bodies are recorded, not built: headless Chromium signs in through the login form and
loads ``/`` (Overview) and ``/sales``; every ``/_dash-update-component`` request the renderer
sent is taken from Chrome's DevTools network events with its body and its real headers (the
session cookie, Origin, Sec-Fetch-Site, Content-Type, Accept-Encoding), and replayed as is.

Measured:

- cache misses, one request at a time, the private Redis flushed before each: the Overview KPI
  cards, the Overview top products and the Sales product ranking callbacks (target <= 50 ms,
  median);
- cache hits under load, after warming: the Overview revenue-trend callback and the Sales trends
  callback (three figures), and the floor's callback; for each connection level a closed loop
  of N clients, each sending its next request as soon as the previous answer is read; the
  requests completed during ``--duration`` seconds, after ``--warmup`` seconds, are counted.
  Targets: p50 <= 3 x the floor's p50 and req/s >= 25 % of the floor's at every level; Sales
  trends also p95 <= 150 ms at 10 connections and <= 300 ms at 50.

The load generator runs in separate processes (``--client-procs``, connections split between
them) using ``http.client``: one persistent connection per client (gunicorn's sync workers close
it after each response, so the client reconnects, as a browser would). Its CPU use is reported
per level (``client_cpu``: CPU seconds per wall second, summed over its processes); when it
nears the number of processes the generator, not the server, is the limit — the floor's numbers
show where that lies.

Prints a table, writes bench/results/http.json (and the recorded bodies to
bench/results/http_bodies.json) and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import write_report
from bench.servers import (
    add_data_args,
    ensure_bench_user,
    prepare_data,
    print_problems,
    serving_app,
)

RESULTS = Path(__file__).resolve().parent / "results" / "http.json"
MISS_TARGET_MS = 50.0
P50_FACTOR, RPS_SHARE = 3.0, 0.25
SALES_P95_MS = {10: 150.0, 50: 300.0}
GENERATOR_BUSY = 0.8  # CPU seconds per wall second per generator process


@dataclass
class Target:
    """A callback to replay: where, what body, which headers."""

    name: str
    url: str
    body: str
    headers: dict[str, str]


# --- the load generator (runs in its own processes) -----------------------------------------


def _client(
    spec: dict[str, Any], begin: float, window: tuple[float, float], out: list, errors: Counter
) -> None:
    parts = urlsplit(spec["url"])
    path = parts.path or "/"
    body = spec["body"].encode()
    headers = spec["headers"]
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    time.sleep(max(0.0, begin - time.time()))
    start_w, end_w = window
    while True:
        began = time.perf_counter()
        if began >= end_w:
            break
        try:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            status, data = 0, b""
            errors[type(exc).__name__] += 1
        ended = time.perf_counter()
        if start_w <= ended <= end_w:  # completed inside the measured window
            out.append(((ended - began) * 1000.0, status, len(data)))
    conn.close()


def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """One generator process: ``connections`` threads hammering ``url`` from wall time ``begin``,
    measuring after ``warmup`` seconds for ``duration`` seconds."""
    samples: list[list] = [[] for _ in range(spec["connections"])]
    errors: Counter = Counter()
    begin = spec["begin"]
    delay = max(0.0, begin - time.time())
    start_w = time.perf_counter() + delay + spec["warmup"]
    window = (start_w, start_w + spec["duration"])
    threads = [
        threading.Thread(target=_client, args=(spec, begin, window, samples[i], errors))
        for i in range(spec["connections"])
    ]
    cpu0 = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = time.process_time() - cpu0
    rows = [row for per in samples for row in per]
    return {
        "latencies_ms": [round(r[0], 3) for r in rows],
        "statuses": dict(Counter(str(r[1]) for r in rows)),
        "bytes": statistics.median([r[2] for r in rows]) if rows else 0,
        "errors": dict(errors),
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(spec["warmup"] + spec["duration"], 3),
    }


def run_load(
    target: Target, connections: int, duration: float, warmup: float, procs: int
) -> dict[str, Any]:
    """``connections`` closed-loop clients split over ``procs`` generator processes."""
    procs = max(1, min(procs, connections))
    shares = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    begin = time.time() + 1.5  # every process starts at the same moment, after its imports
    running = []
    for share in shares:
        spec = {
            "url": target.url,
            "body": target.body,
            "headers": target.headers,
            "connections": share,
            "duration": duration,
            "warmup": warmup,
            "begin": begin,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.http_load", "--generate"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        proc.stdin.write(json.dumps(spec))
        proc.stdin.close()
        running.append(proc)
    parts = []
    for proc in running:
        out = proc.stdout.read()
        if proc.wait() != 0:
            raise RuntimeError(f"load generator failed (exit {proc.returncode})")
        parts.append(json.loads(out))
    latencies = sorted(x for p in parts for x in p["latencies_ms"])
    statuses: Counter = Counter()
    errors: Counter = Counter()
    for p in parts:
        statuses.update(p["statuses"])
        errors.update(p["errors"])
    ok = sum(n for s, n in statuses.items() if s in ("200", "204"))
    failed = sum(statuses.values()) - ok + sum(errors.values())
    return {
        "connections": connections,
        "client_procs": procs,
        "requests": len(latencies),
        "failed": failed,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "req_per_s": round(len(latencies) / duration, 1),
        "p50_ms": _pct(latencies, 50),
        "p95_ms": _pct(latencies, 95),
        "p99_ms": _pct(latencies, 99),
        "response_bytes": parts[0]["bytes"],
        "client_cpu": round(sum(p["cpu_seconds"] for p in parts) / (warmup + duration), 2),
    }


def generator_limited(r: dict[str, Any]) -> bool:
    """The generator's processes were near a full core each: the numbers measure the client."""
    return r["client_cpu"] >= GENERATOR_BUSY * r["client_procs"]


def redis_lookups(redis_server: Any) -> tuple[int, int]:
    stats = redis_server.client.info("stats")
    return int(stats["keyspace_hits"]), int(stats["keyspace_misses"])


def lookups_since(redis_server: Any, before: tuple[int, int]) -> dict[str, int]:
    """Redis GETs that found a key and that did not, since ``before``: proof that a "cache hit"
    run really read the cache (the floor touches no Redis: zeros)."""
    hits, misses = redis_lookups(redis_server)
    return {"hits": hits - before[0], "misses": misses - before[1]}


def _pct(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))], 2)


# --- recording the bodies -------------------------------------------------------------------


def record_callbacks(base: str, password: str, paths: list[str]) -> list[dict[str, Any]]:
    """Every callback request Chromium sent while loading ``paths`` after signing in."""
    from bench.browser import REPLAY_HEADERS, NetworkLog, chromium, login, wait_quiet
    from bench.servers import BENCH_USER

    driver = chromium()
    recorded = []
    try:
        login(driver, base, BENCH_USER, password)
        log = NetworkLog(driver)
        for path in paths:
            log.clear()
            driver.get(base + path)
            if not wait_quiet(driver, log):
                raise RuntimeError(f"{path}: still loading after 120 s")
            for r in log.callbacks():
                body = json.loads(r.post_data) if r.post_data else None
                recorded.append(
                    {
                        "page": path,
                        "output": body.get("output") if body else None,
                        "status": r.status,
                        "body": r.post_data,
                        "headers": {k: v for k, v in r.headers.items() if k in REPLAY_HEADERS},
                    }
                )
    finally:
        driver.quit()
    return recorded


def pick(recorded: list[dict[str, Any]], name: str, page: str, needle: str, base: str) -> Target:
    """The first recorded callback of ``page`` whose output names ``needle``."""
    for r in recorded:
        if r["page"] == page and r["output"] and needle in r["output"] and r["body"]:
            return Target(name, base + "/_dash-update-component", r["body"], r["headers"])
    outputs = sorted({str(r["output"]) for r in recorded if r["page"] == page})
    raise RuntimeError(f"{name}: no callback of {page} outputs {needle!r}; saw {outputs}")


def post_once(target: Target) -> tuple[float, int, int]:
    """Milliseconds, status and body bytes of one request on a fresh connection."""
    parts = urlsplit(target.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        began = time.perf_counter()
        conn.request("POST", parts.path, target.body.encode(), target.headers)
        response = conn.getresponse()
        data = response.read()
        return (time.perf_counter() - began) * 1000.0, response.status, len(data)
    finally:
        conn.close()


# --- the benchmark --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(parser)
    parser.add_argument("--connections", default="1,10,50", help="comma-separated levels")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--miss-runs", type=int, default=7, help="cache misses per callback")
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:  # a load generator process: spec on stdin, result on stdout
        json.dump(generate(json.load(sys.stdin)), sys.stdout)
        return 0
    levels = sorted({int(c) for c in args.connections.split(",") if c.strip()})

    from bench import floor_app
    from components.ids import Overview, Sales

    url, orders = prepare_data(args)
    password = ensure_bench_user(url)
    with serving_app(url, args.workers, floor=True) as (redis_server, app, floor):
        print(f"bi-app at {app.base}, floor at {floor.base}; recording callbacks ...", flush=True)
        recorded = record_callbacks(app.base, password, ["/", "/sales"])
        bodies_file = args.output.parent / "http_bodies.json"
        bodies_file.parent.mkdir(parents=True, exist_ok=True)
        bodies_file.write_text(
            json.dumps([{k: v for k, v in r.items() if k != "headers"} for r in recorded], indent=1)
            + "\n"
        )
        refused = [r for r in recorded if r["status"] is None or r["status"] >= 400]
        common = next(iter(recorded), {}).get("headers", {})
        floor_headers = {k: v for k, v in common.items() if k != "cookie"} | {
            "origin": floor.base,
            "referer": floor.base + "/",
        }
        targets = {
            "floor": Target(
                "floor",
                floor.base + "/_dash-update-component",
                json.dumps(floor_app.CALLBACK_BODY),
                floor_headers,
            ),
            "overview_trend": pick(
                recorded, "overview_trend", "/", f"{Overview.REVENUE_GRAPH}.figure", app.base
            ),
            "sales_trends": pick(
                recorded, "sales_trends", "/sales", f"{Sales.REVENUE_GRAPH}.figure", app.base
            ),
        }
        miss_targets = {
            "overview_kpis": pick(
                recorded, "overview_kpis", "/", f"{Overview.KPI_ROW}.children", app.base
            ),
            "overview_top_products": pick(
                recorded,
                "overview_top_products",
                "/",
                f"{Overview.TOP_PRODUCTS_MESSAGE}.children",
                app.base,
            ),
            "sales_ranking": pick(
                recorded, "sales_ranking", "/sales", f"{Sales.RANKING_GRAPH}.figure", app.base
            ),
        }
        for t in (*targets.values(), *miss_targets.values()):
            _, status, size = post_once(t)
            if status != 200:
                raise RuntimeError(f"{t.name}: replayed body answered {status}")
            print(f"  {t.name}: replay ok ({size} bytes)", flush=True)

        misses: dict[str, Any] = {}
        for name, t in miss_targets.items():
            times, hits = [], []
            for _ in range(args.miss_runs):
                redis_server.flush()
                elapsed, status, _ = post_once(t)
                if status != 200:
                    raise RuntimeError(f"{name}: cache miss answered {status}")
                times.append(elapsed)
                hits.append(post_once(t)[0])
            med = statistics.median(times)
            misses[name] = {
                "median_ms": round(med, 2),
                "p95_ms": _pct(sorted(times), 95),
                "hit_median_ms": round(statistics.median(hits), 2),
                "n": len(times),
                "target_ms": MISS_TARGET_MS,
                "ok": med <= MISS_TARGET_MS,
            }
            print(f"  miss {name}: median {med:.1f} ms", flush=True)

        for t in targets.values():  # warm the cache and both workers
            for _ in range(20):
                post_once(t)
        load: dict[str, dict[str, Any]] = {name: {} for name in targets}
        for level in levels:
            for name, t in targets.items():
                before = redis_lookups(redis_server)
                r = run_load(t, level, args.duration, args.warmup, args.client_procs)
                r["redis_lookups"] = lookups_since(redis_server, before)
                load[name][str(level)] = r
                print(
                    f"  {name:<16}{level:>4} conn: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, "
                    f"{r['req_per_s']} req/s, failed {r['failed']}, client cpu {r['client_cpu']}"
                    f", redis {r['redis_lookups']}",
                    flush=True,
                )
        server_problems = app.problems()

    verdicts = hit_verdicts(load, levels)
    verdicts += [
        {
            "name": f"{name} cache miss",
            "ok": m["ok"],
            "detail": f"median {m['median_ms']:.1f} ms (target <= {MISS_TARGET_MS:g} ms)",
        }
        for name, m in misses.items()
    ]
    if refused:
        verdicts.append(
            {
                "name": "recorded callbacks",
                "ok": False,
                "detail": f"{len(refused)} failed while recording: "
                + ", ".join(f"{r['output']} {r['status']}" for r in refused[:5]),
            }
        )
    print_table(load, levels, misses, verdicts)
    print_problems(server_problems)
    ok = all(v["ok"] for v in verdicts)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": orders,
        "schema": args.schema,
        "gunicorn": f"{args.workers} sync workers, -c python:bi_app.gunicorn_conf, loopback",
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "levels": levels,
        "recorded_callbacks": len(recorded),
        "bodies": {name: len(t.body) for name, t in {**targets, **miss_targets}.items()},
        "targets": {
            "hit": f"p50 <= {P50_FACTOR:g} x floor p50 and req/s >= {RPS_SHARE:.0%} of floor's "
            "at every level",
            "sales_trends_p95": {str(k): v for k, v in SALES_P95_MS.items()},
            "miss": f"<= {MISS_TARGET_MS:g} ms (median)",
        },
        "load": load,
        "misses": misses,
        "server_problems": server_problems,  # bi-app's log: timeouts, errors, tracebacks
        "verdicts": verdicts,
        "all_targets_met": ok,
    }
    return write_report(args.output, report, ok)


def hit_verdicts(load: dict[str, dict[str, Any]], levels: list[int]) -> list[dict[str, Any]]:
    out = []
    for name in ("overview_trend", "sales_trends"):
        for level in levels:
            r, f = load[name][str(level)], load["floor"][str(level)]
            if not r["requests"] or not f["requests"]:
                out.append({"name": f"{name} @{level}", "ok": False, "detail": "no requests"})
                continue
            p50_ratio = r["p50_ms"] / f["p50_ms"]
            rps_share = r["req_per_s"] / f["req_per_s"]
            reasons = []
            if p50_ratio > P50_FACTOR:
                reasons.append(f"p50 {p50_ratio:.1f}x floor > {P50_FACTOR:g}x")
            if rps_share < RPS_SHARE:
                reasons.append(f"req/s {rps_share:.0%} of floor < {RPS_SHARE:.0%}")
            limit = SALES_P95_MS.get(level) if name == "sales_trends" else None
            if limit is not None and r["p95_ms"] > limit:
                reasons.append(f"p95 {r['p95_ms']:.0f} > {limit:g} ms")
            if r["failed"]:
                reasons.append(f"{r['failed']} failed requests")
            if generator_limited(r) or generator_limited(f):
                reasons.append("the load generator was the limit (client cpu)")
            detail = (
                f"p50 {r['p50_ms']} ms = {p50_ratio:.1f}x floor, {r['req_per_s']} req/s = "
                f"{rps_share:.0%} of floor, p95 {r['p95_ms']} ms"
            )
            if reasons:
                detail += " — " + "; ".join(reasons)
            out.append(
                {
                    "name": f"{name} @{level}",
                    "ok": not reasons,
                    "detail": detail,
                    "p50_ratio": round(p50_ratio, 2),
                    "rps_share": round(rps_share, 3),
                }
            )
    return out


def print_table(
    load: dict[str, dict[str, Any]],
    levels: list[int],
    misses: dict[str, Any],
    verdicts: list[dict[str, Any]],
) -> None:
    head = (
        f"\n{'callback (cache hit)':<20}{'conn':>5}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}"
        f"{'x floor p50':>13}{'% floor rps':>13}{'failed':>8}{'client cpu':>12}"
    )
    print(head)
    print("-" * len(head))
    for name, per in load.items():
        for level in levels:
            r, f = per[str(level)], load["floor"][str(level)]
            ratio = r["p50_ms"] / f["p50_ms"] if r["p50_ms"] and f["p50_ms"] else float("nan")
            share = r["req_per_s"] / f["req_per_s"] if f["req_per_s"] else float("nan")
            print(
                f"{name:<20}{level:>5}{r['p50_ms'] or 0:>9.1f}{r['p95_ms'] or 0:>9.1f}"
                f"{r['req_per_s']:>9.1f}{ratio:>13.2f}{share:>12.0%}{r['failed']:>8}"
                f"{r['client_cpu']:>12.2f}"
            )
    print(f"\n{'callback (cache miss)':<26}{'median ms':>11}{'p95 ms':>9}{'hit ms':>9}")
    for name, m in misses.items():
        print(f"{name:<26}{m['median_ms']:>11.1f}{m['p95_ms']:>9.1f}{m['hit_median_ms']:>9.1f}")
    print()
    for v in verdicts:
        print(f"{'ok  ' if v['ok'] else 'FAIL'} {v['name']}: {v['detail']}")


if __name__ == "__main__":
    sys.exit(main())
