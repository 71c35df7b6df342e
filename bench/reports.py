"""Reports at size: time and peak memory to build a monthly report with every section and render
it as PDF and as an Excel workbook on 1 million orders (and ~1 million treasury transactions).

    python -m bench.reports [--schema bench_models] [--orders 1000000] [--transactions 1000000]
                            [--runs 2]

Data: the schema of ``bench.models`` (the demo at ``--orders`` with its treasury at
``--transactions``; loaded once, reused). Each run is its own process (a cold data cache and a
cold chart browser, as a scheduled report meets them), so its peak resident memory (VmHWM) is
its own; the memory target is checked on the process alone and again on the process and its
children together (kaleido's Chromium): their proportional set size (PSS: a page shared by
several processes counts once in all), sampled every 0.25 s. A run: the month before the
data's last day, every section, built and rendered to PDF, then to a workbook. Target (the
issue): under 30 s and under 500 MB for the PDF and the workbook together. Prints a table,
writes bench/results/reports.json, exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "reports.json"
TARGET_SECONDS = 30.0
TARGET_MB = 500.0
RESULT_MARK = "BENCH-RESULT "


class TreeMemory:
    """The largest proportional set size of this process and its children together (the chart
    browser kaleido starts is a child), sampled every 0.25 s while it runs."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.me = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.25):
            total = 0
            for proc in [self.me, *self.me.children(recursive=True)]:
                try:
                    total += proc.memory_full_info().pss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def one_run(url: str) -> dict[str, Any]:
    """Build last month's report with every section, render PDF and xlsx; the seconds of each
    step and the sizes."""
    tree = TreeMemory()
    from sqlalchemy import text

    from bench.models import _peak_mb
    from bi_app import create_app
    from bi_app.config import Settings

    started = time.perf_counter()
    app = create_app(
        Settings(env="test", database_url=url, secret_key="bench-" * 4, scheduler=False)
    )
    with app.server.app_context():
        from bi_app.db.periods import business_timezone
        from bi_app.extensions import db
        from bi_app.reports import periods
        from bi_app.reports.content import build_report
        from bi_app.reports.excel import render_xlsx
        from bi_app.reports.pdf import render_pdf

        with db.require_engine().connect() as conn:
            last = conn.execute(text("SELECT max(day) FROM daily_orders")).scalar()
        last = last if isinstance(last, dt.date) else dt.date.fromisoformat(str(last))
        period = periods.period_for("monthly", last + dt.timedelta(days=1), business_timezone())
        steps: dict[str, float] = {}
        mark = time.perf_counter()
        report = build_report(period)
        steps["build_s"] = round(time.perf_counter() - mark, 2)
        mark = time.perf_counter()
        pdf = render_pdf(report)
        steps["pdf_s"] = round(time.perf_counter() - mark, 2)
        mark = time.perf_counter()
        xlsx = render_xlsx(report)
        steps["xlsx_s"] = round(time.perf_counter() - mark, 2)
    from io import BytesIO

    import pypdf

    return {
        "period": f"{period.start}..{period.end}",
        **steps,
        "total_s": round(time.perf_counter() - started, 2),
        "pdf_bytes": len(pdf),
        "pdf_pages": len(pypdf.PdfReader(BytesIO(pdf)).pages),
        "xlsx_bytes": len(xlsx),
        "peak_mb": _peak_mb(),
        "peak_pss_mb_with_browser": tree.stop(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", default="bench_models")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        print(RESULT_MARK + json.dumps(one_run(args.run_one)), flush=True)
        return 0
    from bench.harness import bench_url
    from bench.models import ensure_models_data

    url = bench_url(args.schema)
    data = ensure_models_data(url, args.orders, args.transactions, reload=False)
    runs = []
    for n in range(args.runs):
        print(f"--- run {n + 1} ...", flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", "bench.reports", "--run-one", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        lines = [x for x in proc.stdout.splitlines() if x.startswith(RESULT_MARK)]
        if proc.returncode or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-10:]
            print("\n".join(tail))
            runs.append({"error": tail[-1] if tail else f"exit {proc.returncode}"})
            continue
        runs.append(json.loads(lines[-1][len(RESULT_MARK) :]))
        print(runs[-1], flush=True)
    good = [r for r in runs if "error" not in r]
    worst_s = max((r["total_s"] for r in good), default=None)
    worst_mb = max((r["peak_mb"] for r in good), default=None)
    worst_tree = max((r["peak_pss_mb_with_browser"] for r in good), default=None)
    verdicts = [
        {
            "name": "monthly report, PDF + workbook, seconds (worst run)",
            "ok": worst_s is not None and worst_s <= TARGET_SECONDS and len(good) == len(runs),
            "detail": f"{worst_s} s (target <= {TARGET_SECONDS:g} s)",
        },
        {
            "name": "monthly report, PDF + workbook, peak memory of the process (VmHWM)",
            "ok": worst_mb is not None and worst_mb <= TARGET_MB,
            "detail": f"{worst_mb} MB (target <= {TARGET_MB:g} MB)",
        },
        {
            "name": "the same with the chart browser (PSS of the process and its children)",
            "ok": worst_tree is not None and worst_tree <= TARGET_MB,
            "detail": f"{worst_tree} MB (target <= {TARGET_MB:g} MB)",
        },
    ]
    ok = all(v["ok"] for v in verdicts)
    print(f"\ndata set: {data['orders']:,} orders, {data['transactions']:,} transactions")
    for v in verdicts:
        print(f"  {'ok  ' if v['ok'] else 'MISS'} {v['name']}: {v['detail']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "data": data,
                "runs": runs,
                "verdicts": verdicts,
                "ok": ok,
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
