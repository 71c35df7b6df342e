"""Every benchmark in sequence against one loaded data set, and one table of verdicts.

    python -m bench.run_all [--orders 1000000] [--schema bench] [--runs 7] [--hit-runs 50]
                            [--reload] [--only overview,sales,http] [--requests 3000]
                            [--refreshes 40] [--connections 1,10,50] [--http-duration 5]
                            [--page-repeats 3] [--results-dir bench/results]

Runs bench.overview, bench.sales, bench.orders, bench.customers, bench.events (same schema: the
first one migrates and loads the demo data when it is empty, the others reuse it), bench.ops, then
``http`` (bench.http_load: callbacks under load against a bare-Dash floor) and ``pages``
(bench.page_load: every page in Chromium), both serving the same schema with gunicorn. Each runs
in its own process so one crash or one memory-hungry run cannot skew the next. Their output
streams through; afterwards it reads the JSON each wrote, prints one summary (per benchmark:
checks, how many met their targets, the worst miss against its target and the slowest hit) with
every failing check named, then the issues "Fast at 10 million orders" and "the orders
explorer's page time at 10 million orders" line by line, writes
summary.json next to the benchmarks' JSON (bench/results/ unless --results-dir; bench.ops always
writes bench/results/ops.json) and exits 1 when any target failed or any benchmark did not
finish.

``--orders 10000000 --schema bench10m`` runs everything on a 10-million-order data set (loaded
once when the schema is empty — that takes long; reused afterwards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
OPS_RESULTS = RESULTS_DIR / "ops.json"  # bench.ops has no --output: it always writes here
DATA_BENCHES = ("overview", "sales", "orders", "customers", "events")
# data benchmarks with targets of their own (not the harness's miss/hit rule): they list their
# verdicts in their JSON, as the served ones do; their calls still give the worst miss/target
OWN_VERDICTS = ("orders",)
SERVED_BENCHES = ("http", "pages")  # the app under gunicorn, on the same data set
ALL_BENCHES = (*DATA_BENCHES, "ops", "alerts", "models", "reports", *SERVED_BENCHES)
ALERTS_RESULTS = RESULTS_DIR / "alerts.json"  # bench.alerts has its own data set and file
MODELS_RESULTS = RESULTS_DIR / "models.json"  # so has bench.models (1M transactions)
REPORTS_RESULTS = RESULTS_DIR / "reports.json"  # bench.reports reuses bench.models' data set
OWN_DATA_SETS = ("alerts", "models", "reports")
USES_DATA = (*DATA_BENCHES, *SERVED_BENCHES)  # the first of these may --reload
MODULES = {"http": "http_load", "pages": "page_load"}
# The issue "Fast at 10 million orders", line by line: (target, benchmark, which verdicts)
ISSUE_TARGETS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    (
        "/customers page, empty cache: <= 1.5 s, never an error",
        "pages",
        lambda n: n == "/customers empty",
    ),
    ("Overview KPI cards, cache miss: <= 50 ms", "http", lambda n: n == "overview_kpis cache miss"),
    (
        "top products / product ranking, cache miss: <= 50 ms",
        "http",
        lambda n: n in ("overview_top_products cache miss", "sales_ranking cache miss"),
    ),
    (
        "Overview revenue trend, cache hit: p50 <= 3x floor, >= 25 % of its req/s",
        "http",
        lambda n: n.startswith("overview_trend @"),
    ),
    (
        "Sales trends, cache hit: same; p95 <= 150 ms @10, <= 300 ms @50",
        "http",
        lambda n: n.startswith("sales_trends @"),
    ),
    (
        "first page load: <= 3 MB on the wire, static files cacheable a year",
        "pages",
        lambda n: n in ("first load bytes", "static files cacheable for a year"),
    ),
    ("every page, empty cache -> last callback: <= 1.5 s", "pages", lambda n: n.endswith(" empty")),
    ("every page, warm: <= 0.5 s", "pages", lambda n: n.endswith(" warm")),
)
# The issue "the orders explorer's page time at 10 million orders" (bench.orders' verdicts)
ORDERS_ISSUE_TARGETS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    (
        "every page (100 rows), cache miss: <= 150 ms",
        "orders",
        lambda n: (
            n.startswith("page ") and n.endswith(" miss") and n != "page all amount desc miss"
        ),
    ),
    (
        "whole data range sorted by amount, cache miss: <= 1.5 s",
        "orders",
        lambda n: n == "page all amount desc miss",
    ),
    (
        "counts, cache miss: <= 150 ms from the roll-up, <= 1.5 s by COUNT(*)",
        "orders",
        lambda n: n.startswith("count ") and n.endswith(" miss"),
    ),
    ("pages and counts, cache hit: <= 10 ms", "orders", lambda n: n.endswith(" hit")),
    (
        "CSV export: >= 20,000 rows/s, RSS growth <= 200 MB",
        "orders",
        lambda n: n in ("export csv rows/s", "export csv rss growth", "export csv rows"),
    ),
)
ISSUES = (
    ("Fast at 10 million orders", "issue_targets", ISSUE_TARGETS),
    (
        "the orders explorer's page time at 10 million orders",
        "orders_issue_targets",
        ORDERS_ISSUE_TARGETS,
    ),
)


@dataclass
class Verdict:
    """One measured thing and whether it met its target."""

    name: str
    ok: bool
    detail: str


@dataclass
class Outcome:
    bench: str
    command: list[str]
    exit_code: int
    seconds: float
    results_file: str | None
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None
    worst_miss_ratio: float | None = None  # miss median / its target; > 1 fails
    slowest_hit_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.error is None and all(v.ok for v in self.verdicts)


def results_path(bench: str, results_dir: Path) -> Path:
    if bench == "alerts":
        return ALERTS_RESULTS
    if bench == "models":
        return MODELS_RESULTS
    if bench == "reports":
        return REPORTS_RESULTS
    return OPS_RESULTS if bench == "ops" else results_dir / f"{bench}.json"


def command(bench: str, args: argparse.Namespace, first: bool) -> list[str]:
    """The command line of one benchmark; only the first one using the data set may
    ``--reload``."""
    cmd = [sys.executable, "-m", f"bench.{MODULES.get(bench, bench)}"]
    if bench == "ops":
        return cmd + ["--requests", str(args.requests), "--refreshes", str(args.refreshes)]
    if bench in OWN_DATA_SETS:
        return cmd
    if bench in SERVED_BENCHES:
        cmd += ["--orders", str(args.orders), "--schema", args.schema]
        cmd += ["--output", str(results_path(bench, args.results_dir))]
        if bench == "http":
            cmd += ["--connections", args.connections, "--duration", str(args.http_duration)]
        else:
            cmd += ["--repeats", str(args.page_repeats)]
        return cmd + (["--reload"] if args.reload and first else [])
    cmd += [
        "--orders",
        str(args.orders),
        "--schema",
        args.schema,
        "--runs",
        str(args.runs),
        "--hit-runs",
        str(args.hit_runs),
        "--output",
        str(results_path(bench, args.results_dir)),
    ]
    return cmd + (["--reload"] if args.reload and first else [])


def call_verdicts(report: dict[str, Any]) -> list[Verdict]:
    """Verdicts of a data benchmark's calls (the shape of ``bench.overview.CallResult``; a call
    that is not cached has no hit median)."""
    out = []
    for r in report.get("results", []):
        hit = r["hit_ms"]["median"]
        reasons = []
        if not r["miss_ok"]:
            reasons.append(f"miss {r['miss_ms']['median']:.1f} > {r['miss_target_ms']:.1f} ms")
        if not r["hit_ok"]:
            reasons.append(f"hit {hit:.2f} > 10 ms")
        if r.get("raw_tables_touched"):
            reasons.append(f"reads {', '.join(r['raw_tables_touched'])}")
        detail = "; ".join(reasons) or (
            f"miss {r['miss_ms']['median']:.1f} <= {r['miss_target_ms']:.1f} ms, "
            + ("not cached" if hit is None else f"hit {hit:.2f} ms")
        )
        out.append(Verdict(r["name"], not reasons, detail))
    return out


def ops_verdicts(report: dict[str, Any]) -> list[Verdict]:
    out = [
        Verdict(
            f"middleware {kind}",
            bool(r["ok"]),
            f"adds {r['overhead_ms']:.3f} ms (target <= {r['target_ms']:g} ms)",
        )
        for kind, r in report.get("middleware", {}).items()
    ]
    refresh = report.get("health_refresh")
    if refresh:  # no target: reported for the record
        out.append(
            Verdict(
                "/ops/health refresh",
                True,
                f"median {refresh['median_server_ms']} ms, {refresh['refresh_bytes']} bytes",
            )
        )
    return out


def listed_verdicts(report: dict[str, Any]) -> list[Verdict]:
    """bench.http_load and bench.page_load write their verdicts themselves."""
    return [Verdict(v["name"], bool(v["ok"]), v["detail"]) for v in report.get("verdicts", [])]


def read_outcome(
    bench: str, path: Path, cmd: list[str], exit_code: int, seconds: float, started: float
) -> Outcome:
    """What one finished benchmark achieved, from the JSON it wrote during this run."""
    outcome = Outcome(bench, cmd, exit_code, round(seconds, 1), str(path))
    if not path.exists() or path.stat().st_mtime < started:
        outcome.results_file = None
        outcome.error = f"exit code {exit_code}, no results written"
        return outcome
    report = json.loads(path.read_text())
    if bench == "ops":
        outcome.verdicts = ops_verdicts(report)
        return outcome
    if bench in OWN_DATA_SETS:
        outcome.verdicts = listed_verdicts(report)
        return outcome
    if bench in SERVED_BENCHES:
        outcome.verdicts = listed_verdicts(report)
        if exit_code not in (0, 1) or (exit_code == 1 and all(v.ok for v in outcome.verdicts)):
            outcome.error = f"exit code {exit_code}"
        return outcome
    own = bench in OWN_VERDICTS
    outcome.verdicts = listed_verdicts(report) if own else call_verdicts(report)
    rows = report.get("results", [])
    if rows:
        outcome.worst_miss_ratio = round(
            max(r["miss_ms"]["median"] / r["miss_target_ms"] for r in rows), 2
        )
        hits = [r["hit_ms"]["median"] for r in rows if r["hit_ms"]["median"] is not None]
        outcome.slowest_hit_ms = round(max(hits), 2) if hits else None
    if exit_code not in (0, 1):
        outcome.error = f"exit code {exit_code}"
    elif exit_code == 1 and all(v.ok for v in outcome.verdicts):
        outcome.error = "exit code 1 with every call on target"
    return outcome


def run_bench(bench: str, args: argparse.Namespace, first: bool) -> Outcome:
    cmd = command(bench, args, first)
    print(f"\n=== bench.{bench}: {' '.join(cmd[1:])}", flush=True)
    started = time.time()
    began = time.perf_counter()
    exit_code = subprocess.call(cmd, cwd=ROOT)
    return read_outcome(
        bench,
        results_path(bench, args.results_dir),
        cmd,
        exit_code,
        time.perf_counter() - began,
        started,
    )


def print_summary(outcomes: list[Outcome]) -> None:
    head = (
        f"{'benchmark':<12}{'checks':>8}{'met':>6}{'worst miss/target':>19}{'slowest hit':>13}"
        f"{'seconds':>9}  verdict"
    )
    print("\n" + head)
    print("-" * len(head))
    for o in outcomes:
        met = sum(v.ok for v in o.verdicts)
        ratio = f"{o.worst_miss_ratio:.2f}" if o.worst_miss_ratio is not None else "-"
        hit = f"{o.slowest_hit_ms:.2f} ms" if o.slowest_hit_ms is not None else "-"
        verdict = "ok" if o.ok else ("ERROR: " + o.error if o.error else "FAIL")
        print(
            f"{o.bench:<12}{len(o.verdicts):>8}{met:>6}{ratio:>19}{hit:>13}{o.seconds:>9.1f}  "
            f"{verdict}"
        )
    failed = [(o.bench, v) for o in outcomes for v in o.verdicts if not v.ok]
    if failed:
        print("\nmissed targets:")
        for bench, v in failed:
            print(f"  {bench}: {v.name}: {v.detail}")
    print(
        "miss target = 1.5 x raw SQL + 30 ms, hit target = 10 ms (medians); "
        "middleware target = 1 ms added per request; orders: the targets of its issue "
        "(bench/README.md)"
    )
    print_issue_targets(outcomes)


def issue_targets(
    outcomes: list[Outcome],
    lines: tuple[tuple[str, str, Callable[[str], bool]], ...] = ISSUE_TARGETS,
) -> list[dict[str, Any]]:
    """Each line of an issue's table: met, missed, or not measured in this run."""
    by_bench = {o.bench: o for o in outcomes}
    out = []
    for label, bench, chosen in lines:
        outcome = by_bench.get(bench)
        verdicts = [v for v in outcome.verdicts if chosen(v.name)] if outcome else []
        if not verdicts:
            state = "not run" if outcome is None else "no result"
        else:
            state = "ok" if all(v.ok for v in verdicts) else "MISSED"
        missed = [f"{v.name}: {v.detail}" for v in verdicts if not v.ok]
        out.append({"target": label, "bench": bench, "state": state, "missed": missed})
    return out


def print_issue_targets(outcomes: list[Outcome]) -> None:
    for issue, _key, lines in ISSUES:
        rows = issue_targets(outcomes, lines)
        if all(r["state"] == "not run" for r in rows):
            continue
        print(f"\nissue '{issue}':")
        for r in rows:
            print(f"  {r['state']:<9} {r['target']}  [{r['bench']}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to load when empty")
    parser.add_argument(
        "--schema", default="bench", help="PostgreSQL schema shared by the data benchmarks"
    )
    parser.add_argument("--runs", type=int, default=7, help="cache-miss and raw SQL runs per call")
    parser.add_argument("--hit-runs", type=int, default=50)
    parser.add_argument("--reload", action="store_true", help="rebuild the data set first")
    parser.add_argument(
        "--only",
        default=",".join(ALL_BENCHES),
        help=f"comma-separated subset of {','.join(ALL_BENCHES)} (run in that order)",
    )
    parser.add_argument(
        "--requests", type=int, default=3000, help="bench.ops: requests per app and kind"
    )
    parser.add_argument(
        "--refreshes", type=int, default=40, help="bench.ops: /ops/health refreshes"
    )
    parser.add_argument(
        "--connections", default="1,10,50", help="bench.http: concurrent connection levels"
    )
    parser.add_argument(
        "--http-duration", type=float, default=5.0, help="bench.http: seconds per level"
    )
    parser.add_argument(
        "--page-repeats", type=int, default=3, help="bench.pages: rounds over every page"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the data benchmarks and the summary write their JSON",
    )
    args = parser.parse_args(argv)
    chosen = {b.strip() for b in args.only.split(",") if b.strip()}
    unknown = chosen - set(ALL_BENCHES)
    if unknown or not chosen:
        parser.error(f"--only: expected names from {', '.join(ALL_BENCHES)}, got {args.only!r}")

    outcomes: list[Outcome] = []
    first_data = True
    for bench in (b for b in ALL_BENCHES if b in chosen):
        outcomes.append(run_bench(bench, args, first_data and bench in USES_DATA))
        first_data = first_data and bench not in USES_DATA

    print_summary(outcomes)
    ok = all(o.ok for o in outcomes)
    summary = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders_requested": args.orders,
        "schema": args.schema,
        "runs": args.runs,
        "hit_runs": args.hit_runs,
        "all_targets_met": ok,
        "benchmarks": [asdict(o) | {"ok": o.ok} for o in outcomes],
        **{key: issue_targets(outcomes, lines) for _issue, key, lines in ISSUES},
    }
    output = args.results_dir / "summary.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{'all targets met' if ok else 'TARGETS MISSED'}; wrote {output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
