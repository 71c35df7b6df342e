"""The alert center's costs on PostgreSQL: one evaluation pass of 500 rules over the last hour of
metrics, the time from a condition becoming true to its notification reaching a receiver, and
the dispatcher's throughput.

    python -m bench.alerts [--rules 500] [--messages 2000] [--trials 5] [--eval-seconds 10]

Data: a private schema (``bench_alerts``, rebuilt each run) with one hour of per-minute request
metrics from 4 workers (30 routes and 30 callbacks each, latency histograms included), cache
counts, resource samples every 15 s from 4 hosts, 2 hours of health runs, and a notification
channel (a signed webhook) to an HTTP receiver on loopback.

1. **Evaluation**: ``evaluate_rules`` over ``--rules`` rules (thresholds on every ops metric with
   windows from 1 to 60 minutes, service health, business thresholds and deviations), timed over
   several passes: the first opens alerts and writes their outbox rows, the later ones are the
   steady state. Target: median ≤ 2 s.
2. **Condition → notification**: a real app with its in-process scheduler (evaluation every
   ``--eval-seconds``; the other alert settings at their defaults). Each trial writes a resource
   sample of a new host at 99 % CPU (the moment the condition becomes true) and waits for the
   receiver to get the rule's message. Target: ≤ one evaluation interval + 5 s.
3. **Dispatch throughput**: ``--messages`` outbox rows due now, dispatched by passes of 100
   (8 sending threads) to the receiver. Reports messages per second.

Prints a table, writes bench/results/alerts.json, exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.harness import DEFAULT_PG, bench_url
from bi_app.config import Settings
from bi_app.db.alert_models import AlertRule, NotificationChannel, OutboxMessage
from bi_app.db.engine import make_engine
from bi_app.db.migrate import upgrade
from bi_app.db.models import utcnow
from bi_app.db.monitoring_models import (
    CacheMetricMinute,
    HealthResult,
    RequestMetricMinute,
    ResourceSample,
)
from bi_app.monitoring.histogram import Histogram

RESULTS = Path(__file__).resolve().parent / "results" / "alerts.json"
SCHEMA = "bench_alerts"
EVAL_TARGET_S = 2.0
LATENCY_SLACK_S = 5.0
SECRET = "bench-signing-key-0123456789"
OPS_METRICS = (
    "http_error_rate",
    "http_p95_ms",
    "callback_error_rate",
    "callback_p95_ms",
    "cache_hit_rate",
    "cpu_percent",
    "memory_percent",
    "disk_free_percent",
    "jobs_late",
)


class Receiver:
    """Records each request's arrival time and the alert hosts it names; answers 200."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.arrivals.append((time.time(), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def first_naming(self, needle: bytes) -> float | None:
        with self.lock:
            return next((at for at, body in self.arrivals if needle in body), None)


def fresh_schema() -> str:
    base = create_engine(os.environ.get("BI_TEST_DATABASE_URL", DEFAULT_PG))
    with base.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    base.dispose()
    url = bench_url(SCHEMA)
    upgrade(url)
    return url


def settings_for(url: str, **overrides: Any) -> Settings:
    values = {
        "env": "test",
        "database_url": url,
        "secret_key": "bench-secret-key-0123456789abcdef",
        "scheduler": False,
        "cache_dir": "",
        "outbound_allow": ("127.0.0.1/32",),
    }
    values.update(overrides)
    return Settings(**values)


def load_metrics(engine: Any, now: dt.datetime, rng: random.Random) -> int:
    """One hour of what four workers and four hosts record, two hours of health runs."""
    start = now.replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    rows: list[dict[str, Any]] = []
    for minute in range(60):
        bucket = start + dt.timedelta(minutes=minute)
        for worker in range(4):
            for kind, names in (("http", 30), ("callback", 30)):
                for n in range(names):
                    hist = Histogram()
                    count = rng.randint(5, 40)
                    for _ in range(count):
                        hist.add(rng.lognormvariate(3.5, 0.8))
                    rows.append(
                        {
                            "bucket": bucket,
                            "source": f"web-{worker}:{1000 + worker}",
                            "kind": kind,
                            "name": f"/{kind}/{n}",
                            "method": "POST" if kind == "callback" else "GET",
                            "count": count,
                            "errors": rng.randint(0, 2),
                            "sum_ms": hist.sum_ms,
                            "max_ms": hist.max_ms,
                            "p50_ms": hist.percentile(50),
                            "p95_ms": hist.percentile(95),
                            "buckets": hist.to_json(),
                        }
                    )
    with Session(engine) as session:
        session.execute(RequestMetricMinute.__table__.insert(), rows)
        session.execute(
            CacheMetricMinute.__table__.insert(),
            [
                {
                    "bucket": start + dt.timedelta(minutes=m),
                    "source": f"web-{w}:{1000 + w}",
                    "hits": rng.randint(50, 200),
                    "misses": rng.randint(0, 30),
                }
                for m in range(60)
                for w in range(4)
            ],
        )
        session.execute(
            ResourceSample.__table__.insert(),
            [
                {
                    "at": start + dt.timedelta(seconds=15 * i),
                    "source": f"host-{h}",
                    "cpu_percent": rng.uniform(5, 60),
                    "memory_percent": rng.uniform(30, 70),
                    "memory_used_bytes": 2**31,
                    "disk_percent": rng.uniform(40, 80),
                    "disk_used_bytes": 2**35,
                    "net_sent_bps": 1e5,
                    "net_recv_bps": 1e5,
                }
                for i in range(240)
                for h in range(4)
            ],
        )
        session.execute(
            HealthResult.__table__.insert(),
            [
                {
                    "check_name": check,
                    "status": "healthy",
                    "latency_ms": 3.0,
                    "detail": {},
                    "at": now - dt.timedelta(seconds=30 * i),
                }
                for i in range(240)
                for check in ("database", "cache", "scheduler", "disk", "overall")
            ],
        )
        session.commit()
    return len(rows)


def make_rules(count: int, rng: random.Random) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for i in range(count):
        slot = i % 10
        base = {
            "name": f"bench rule {i:04d}",
            "severity": rng.choice(("warning", "critical")),
            "labels": {"team": "bench"},
            "for_seconds": rng.choice((0, 60, 300)),
            "cooldown_seconds": 600,
            "targets": [],
            "escalation_targets": [],
        }
        if slot < 6:  # ops thresholds, many windows
            metric = OPS_METRICS[i % len(OPS_METRICS)]
            params: dict[str, Any] = {
                "operator": rng.choice((">", "<")),
                "threshold": rng.uniform(0, 100),
                "window_minutes": rng.choice((1, 5, 10, 15, 30, 60)),
            }
            rules.append({**base, "kind": "threshold", "metric": metric, "params": params})
        elif slot < 8:
            check = ("database", "cache", "scheduler", "disk", "overall")[i % 5]
            rules.append({**base, "kind": "health", "metric": check, "params": {"runs": 1 + i % 4}})
        elif slot == 8:
            metric = rng.choice(("revenue_day", "orders_day", "churn_risk_customers"))
            params = {"operator": "<", "threshold": rng.uniform(0, 1000)}
            rules.append({**base, "kind": "business", "metric": metric, "params": params})
        else:
            metric = rng.choice(("revenue_day", "orders_day", "http_error_rate"))
            params = {"k": rng.choice((2.0, 3.0)), "weeks": 8, "direction": "both"}
            rules.append({**base, "kind": "deviation", "metric": metric, "params": params})
    return rules


def add_channel(engine: Any, url: str) -> int:
    from bi_app import secret_box

    box = secret_box.current_box()
    with Session(engine) as session:
        channel = NotificationChannel(
            name="bench-webhook",
            kind="webhook",
            config={"url": url},
            secret=box.seal(SECRET),
            severities=["warning", "critical", "emergency"],
        )
        session.add(channel)
        session.commit()
        return channel.id


def bench_evaluation(url: str, engine: Any, args: argparse.Namespace) -> dict[str, Any]:
    from bi_app.alerts.evaluate import evaluate_rules

    rng = random.Random(7)
    now = utcnow()
    metric_rows = load_metrics(engine, now, rng)
    with Session(engine) as session:
        session.execute(text("DELETE FROM alert_rules"))  # the default pack: not the 500
        session.add_all(AlertRule(**r) for r in make_rules(args.rules, rng))
        session.commit()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    passes = []
    summaries = []
    for i in range(args.passes):
        started = time.perf_counter()
        summary = evaluate_rules(engine, now=now + dt.timedelta(seconds=60 * i))
        passes.append(time.perf_counter() - started)
        summaries.append(summary)
    steady = passes[1:] or passes
    return {
        "rules": args.rules,
        "metric_rows": metric_rows,
        "first_pass_s": round(passes[0], 3),
        "steady_median_s": round(statistics.median(steady), 3),
        "steady_max_s": round(max(steady), 3),
        "errors": summaries[-1]["errors"],
        "fired_first_pass": summaries[0]["fired"],
        "target_s": EVAL_TARGET_S,
        "ok": statistics.median(steady) <= EVAL_TARGET_S and summaries[-1]["errors"] == 0,
    }


def bench_latency(url: str, engine: Any, receiver: Receiver, args: argparse.Namespace) -> dict:
    from bi_app import create_app
    from bi_app.jobs import scheduler

    with Session(engine) as session:
        session.execute(text("DELETE FROM alert_rules"))
        session.add(
            AlertRule(
                name="bench: CPU above 90 %",
                kind="threshold",
                metric="cpu_percent",
                params={"operator": ">", "threshold": 90.0, "window_minutes": 5},
                severity="critical",
                labels={"team": "bench"},
                for_seconds=0,
                cooldown_seconds=0,
                targets=["bench-webhook"],
                escalation_targets=[],
            )
        )
        session.commit()
    settings = settings_for(url, alert_eval_seconds=args.eval_seconds)
    app = create_app(settings)
    live = settings_for(url, scheduler=True, alert_eval_seconds=args.eval_seconds)
    scheduler.shutdown()
    scheduler.init_app(app, live, lock_name="bench-alerts", tick_seconds=1.0)
    latencies = []
    try:
        time.sleep(3)  # leadership taken, first ticks done
        for trial in range(args.trials):
            host = f"bench-trial-{trial}-{random.randrange(10**6)}"
            time.sleep(random.uniform(0, args.eval_seconds))  # any moment of the interval
            became_true = time.time()
            with Session(engine) as session:
                session.add(
                    ResourceSample(
                        at=utcnow(),
                        source=host,
                        cpu_percent=99.0,
                        memory_percent=50.0,
                        memory_used_bytes=2**30,
                        disk_percent=50.0,
                        disk_used_bytes=2**34,
                        net_sent_bps=0.0,
                        net_recv_bps=0.0,
                    )
                )
                session.commit()
            deadline = became_true + args.eval_seconds + 60
            arrived = None
            while time.time() < deadline and arrived is None:
                arrived = receiver.first_naming(host.encode())
                time.sleep(0.05)
            latencies.append(None if arrived is None else arrived - became_true)
    finally:
        scheduler.shutdown()
    measured = [x for x in latencies if x is not None]
    target = args.eval_seconds + LATENCY_SLACK_S
    return {
        "eval_seconds": args.eval_seconds,
        "trials": args.trials,
        "latencies_s": [round(x, 2) if x is not None else None for x in latencies],
        "max_s": round(max(measured), 2) if measured else None,
        "median_s": round(statistics.median(measured), 2) if measured else None,
        "target_s": target,
        "ok": len(measured) == len(latencies) and max(measured) <= target,
    }


def bench_dispatch(url: str, engine: Any, receiver: Receiver, args: argparse.Namespace) -> dict:
    from bi_app.alerts.dispatch import dispatch_pending

    with Session(engine) as session:
        channel_id = session.scalar(
            text("SELECT id FROM notification_channels WHERE name = 'bench-webhook'")
        )
        session.execute(text("DELETE FROM notification_outbox"))
        now = utcnow()
        session.execute(
            OutboxMessage.__table__.insert(),
            [
                {
                    "idempotency_key": f"bench-{i}",
                    "channel_id": channel_id,
                    "alert_id": None,
                    "kind": "test",
                    "group_key": None,
                    "payload": {
                        "subject": f"bench {i}",
                        "text": "bench",
                        "severity": "info",
                        "kind": "test",
                        "alert": None,
                    },
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for i in range(args.messages)
            ],
        )
        session.commit()
    settings = settings_for(url)
    before = receiver.count()
    started = time.perf_counter()
    sent = 0
    while True:
        counts = dispatch_pending(engine, settings=settings, limit=100)
        sent += counts["sent"]
        if counts["claimed"] == 0:
            break
    seconds = time.perf_counter() - started
    received = receiver.count() - before
    return {
        "messages": args.messages,
        "sent": sent,
        "received": received,
        "seconds": round(seconds, 2),
        "per_second": round(sent / seconds, 1) if seconds else None,
        "ok": sent == args.messages == received,
    }


def main(argv: list[str] | None = None) -> int:
    from bi_app import secret_box

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--eval-seconds", type=int, default=10)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    url = fresh_schema()
    secret_box.init_app(settings_for(url))  # the key the dispatcher opens the channel's with
    engine = make_engine(url)
    receiver = Receiver()
    add_channel(engine, receiver.url)
    report = {
        "evaluation": bench_evaluation(url, engine, args),
        "dispatch": bench_dispatch(url, engine, receiver, args),
        "latency": bench_latency(url, engine, receiver, args),
    }
    engine.dispose()
    ev, lat, dis = report["evaluation"], report["latency"], report["dispatch"]
    print(f"{'measure':<46} {'value':>12} {'target':>10} ok")
    print(f"{'evaluation, first pass (s)':<46} {ev['first_pass_s']:>12} {'':>10}")
    print(
        f"{'evaluation of {} rules, steady median (s)'.format(ev['rules']):<46} "
        f"{ev['steady_median_s']:>12} {ev['target_s']:>10} {ev['ok']}"
    )
    print(f"{'evaluation, steady max (s)':<46} {ev['steady_max_s']:>12}")
    print(
        f"{'condition → notification, max (s)':<46} {lat['max_s']!s:>12} "
        f"{lat['target_s']:>10} {lat['ok']}"
    )
    print(f"{'condition → notification, all trials (s)':<46} {lat['latencies_s']!s:>12}")
    print(
        f"{'dispatch throughput (messages/s)':<46} {dis['per_second']!s:>12} {'':>10} {dis['ok']}"
    )
    report["verdicts"] = [
        {
            "name": f"evaluation of {ev['rules']} rules",
            "ok": ev["ok"],
            "detail": f"median {ev['steady_median_s']} s (target <= {ev['target_s']} s)",
        },
        {
            "name": "condition -> notification",
            "ok": lat["ok"],
            "detail": f"max {lat['max_s']} s (target <= {lat['target_s']} s)",
        },
        {
            "name": "dispatch throughput",
            "ok": dis["ok"],
            "detail": f"{dis['per_second']} messages/s, {dis['received']} received",
        },
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(v["ok"] for v in report["verdicts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
