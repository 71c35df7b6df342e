"""Orders explorer at scale: pages and counts on a cache miss and hit, and the streamed CSV export.

    python -m bench.orders [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Same database and cache as :mod:`bench.sales` (both use :mod:`bench.harness`); each call is
measured by :func:`bench.harness.bench_call` (a miss empties the ``sales`` namespace the orders
are cached under, its statements are replayed as the raw SQL floor, then the hits), but the
targets are the ones of the issue "the orders explorer's page time at 10 million orders"
(medians):

- ``order_page`` (one block of 100 rows), cache miss: <= 150 ms; the whole data range sorted by
  amount: <= 1.5 s;
- ``order_count``, cache miss: <= 150 ms from the daily roll-up (no search, no category: the
  statement must not read ``orders``), <= 1.5 s by ``COUNT(*)`` over the orders;
- every cache hit: <= 10 ms (a searched page or count is not cached: every call is a miss, no hit);
- the CSV export of the last 30 days through the real view (``GET /orders/export``, a Flask test
  client of ``create_app`` signed in as ``benchadmin``, the body read chunk by chunk as it
  streams): >= 20,000 rows/s and a peak RSS growth of the process <= 200 MB.

The pages, with the callbacks' arguments: the last 90 days with data (the page's default period)
newest first, by amount descending and ascending, rows 10,000..10,100 newest first; the whole data
range newest first and by amount; a platform filter (``web``), a category filter (``electronics``:
the EXISTS path), a status filter (cancelled + refunded); a search for an order-number prefix (the
newest order's number without its last two digits), for a customer id (that order's customer,
exact) and for a customer-name fragment (the last word of that customer's name). The counts of
the same queries. The calls run inside a request, as the callbacks do: ``bi_app.serving`` then
gives every statement the request profile (``statement_timeout``, no parallel workers), and the
raw SQL replay gets the same. Writes bench/results/orders.json (its ``verdicts`` are what
bench.run_all reports) and exits 1 when a target is missed.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from bench.harness import (
    HIT_LIMIT_MS,
    RESULTS_DIR,
    Bench,
    CallResult,
    bench_call,
    parse_args,
    setup,
    write_report,
)
from bi_app.data import cache as data_cache
from bi_app.data import catalog, orders
from bi_app.data.orders import OrderQuery
from bi_app.db.models import Customer, Order
from bi_app.filters import DEFAULT_DAYS

RESULTS = RESULTS_DIR / "orders.json"
PAGE_ROWS = 100  # one block of the grid (components.orders_view.BLOCK_ROWS)
FAR_ROW = 10_000
EXPORT_DAYS = 30
EXPORT_RUNS = 3  # at most; fewer with --runs below 3
LOST = ("cancelled", "refunded")
PAGE_MS, SLOW_SORT_MS = 150.0, 1500.0
ROLLUP_COUNT_MS, SCAN_COUNT_MS = 150.0, 1500.0
EXPORT_MIN_ROWS_S, EXPORT_MAX_RSS_MB = 20_000.0, 200.0
NO_HIT = {"median": None, "p95": None, "n": 0}


@dataclass
class OrdersResult(CallResult):
    """A :class:`bench.harness.CallResult` with this bench's own target (``miss_target_ms``) and
    how the call is answered: ``path`` is ``cached``/``search`` for pages, ``roll-up``/``COUNT``
    (``COUNT search``) for counts. A search is not cached: ``hit_ms`` is empty."""

    kind: str = "page"
    path: str = "cached"
    cached: bool = True
    query: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """One state of the explorer: its query and the first row of the block asked for."""

    label: str
    query: OrderQuery
    first_row: int = 0
    count: bool = True  # also measure order_count (once per distinct filter)
    page_target_ms: float = PAGE_MS

    @property
    def rollup_count(self) -> bool:
        """order_count reads the daily roll-up (no search, no category filter)."""
        return not self.query.search and not self.query.categories


def pick(codes: list[str], preferred: str) -> str:
    if not codes:
        raise SystemExit("the catalogue is empty: nothing to benchmark")
    return preferred if preferred in codes else codes[0]


def newest_order(bench: Bench, start: dt.date, end: dt.date) -> tuple[str, str, str]:
    """Number, customer id and customer name of the newest order in ``start..end``."""
    query = (
        select(Order.order_number, Customer.external_id, Customer.name)
        .join(Customer, Customer.id == Order.customer_id)
        .where(
            Order.ordered_at >= dt.datetime.combine(start, dt.time()),
            Order.ordered_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
        )
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(1)
    )
    with bench.engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        raise SystemExit(f"no order in {start}..{end}: nothing to search for")
    return row[0], row[1], row[2]


def searches(number: str, customer_id: str, name: str) -> dict[str, str]:
    """What is typed into the search box: an order-number prefix, an exact customer id, a
    fragment of a customer's name."""
    words = name.split()
    return {
        "number": number[:-2] if len(number) > 4 else number,
        "customer id": customer_id,
        "name": words[-1] if words else name,
    }


def cases(
    recent: tuple[dt.date, dt.date],
    bounds: tuple[dt.date, dt.date],
    platform: str,
    category: str,
    typed: dict[str, str],
) -> list[Case]:
    start, end = recent
    base = OrderQuery(start, end)
    whole = OrderQuery(*bounds)
    days = f"{(end - start).days + 1}d"
    out = [
        Case(f"{days} newest", base),
        Case(f"{days} amount desc", OrderQuery(start, end, sort="amount_cents"), count=False),
        Case(
            f"{days} amount asc",
            OrderQuery(start, end, sort="amount_cents", descending=False),
            count=False,
        ),
        Case(f"{days} newest rows {FAR_ROW:,}+", base, first_row=FAR_ROW, count=False),
        Case("all newest", whole),
        Case(
            "all amount desc",
            OrderQuery(*bounds, sort="amount_cents"),
            count=False,
            page_target_ms=SLOW_SORT_MS,
        ),
        Case(f"{days} {platform}", OrderQuery(start, end, platforms=(platform,))),
        Case(f"{days} {category}", OrderQuery(start, end, categories=(category,))),
        Case(f"{days} lost", OrderQuery(start, end, statuses=LOST)),
    ]
    out += [
        Case(f"{days} search {what}", OrderQuery(start, end, search=orders.search_text(text)))
        for what, text in typed.items()
    ]
    return out


def query_dict(q: OrderQuery) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(q).items()}


def invalidate_orders() -> None:
    """A cache miss for every call here: orders are cached in the ``sales`` namespace."""
    data_cache.invalidate(orders.NAMESPACE)


def measure(
    bench: Bench,
    name: str,
    call: Callable[[], Any],
    runs: int,
    hit_runs: int,
    *,
    kind: str,
    path: str,
    cached: bool,
    target_ms: float,
    query: OrderQuery,
) -> OrdersResult:
    """:func:`bench.harness.bench_call`, judged against ``target_ms``; an uncached call (a
    search) gets no hit figures (its one "hit" run is a miss like the others)."""
    r = bench_call(
        bench.engine,
        bench.recorder,
        name,
        call,
        runs,
        hit_runs if cached else 1,
        invalidate=invalidate_orders,
    )
    rollup_read_orders = path == "roll-up" and bool(r.raw_tables_touched)
    return OrdersResult(
        name=name,
        statements=r.statements,
        raw_sql_ms=r.raw_sql_ms,
        miss_ms=r.miss_ms,
        hit_ms=r.hit_ms if cached else dict(NO_HIT),
        miss_target_ms=target_ms,
        miss_ok=r.miss_ms["median"] <= target_ms and not rollup_read_orders,
        hit_ok=r.hit_ok if cached else True,
        raw_tables_touched=r.raw_tables_touched,
        kind=kind,
        path=path,
        cached=cached,
        query=query_dict(query),
    )


def bench_calls(
    bench: Bench, all_cases: list[Case], runs: int, hit_runs: int
) -> list[OrdersResult]:
    results = []
    for case in all_cases:
        q, first = case.query, case.first_row
        results.append(
            measure(
                bench,
                f"page {case.label}",
                lambda q=q, first=first: orders.order_page(q, first, first + PAGE_ROWS),
                runs,
                hit_runs,
                kind="page",
                path="search" if q.search else "cached",
                cached=not q.search,
                target_ms=case.page_target_ms,
                query=q,
            )
        )
    for case in (c for c in all_cases if c.count):
        q = case.query
        path = "roll-up" if case.rollup_count else ("COUNT search" if q.search else "COUNT")
        results.append(
            measure(
                bench,
                f"count {case.label.replace(' newest', '')}",
                lambda q=q: orders.order_count(q),
                runs,
                hit_runs,
                kind="count",
                path=path,
                cached=not q.search,
                target_ms=ROLLUP_COUNT_MS if case.rollup_count else SCAN_COUNT_MS,
                query=q,
            )
        )
    return results


# --- the streamed export --------------------------------------------------------------------


def proc_kb(name: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process in kB (Linux), else None."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS (``VmHWM``) of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_kb() -> int:
    kb = proc_kb("VmRSS")
    if kb is not None:
        return kb
    import psutil

    return psutil.Process().memory_info().rss // 1024


def sign_in(app: Any, username: str, password: str) -> Any:
    """A Flask test client signed in through the real login form (as tests/conftest.py)."""
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if csrf is None:
        raise RuntimeError("no CSRF token on /login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "next": "/", "csrf_token": csrf[1]},
    )
    if response.status_code != 302:
        raise RuntimeError(f"{username} could not sign in ({response.status_code})")
    return client


def stream_once(client: Any, url: str) -> dict[str, Any]:
    """One export: the body read chunk by chunk as the view yields it (never ``.data``, which
    would buffer it), timed from the request to the last chunk; the peak RSS growth over the
    RSS just before (the kernel's peak when it can be reset, else sampled at every chunk)."""
    gc.collect()
    before = rss_kb()
    exact = reset_peak_rss()
    peak = before
    began = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"export answered {response.status_code}: {response.get_data()[:300]!r}")
    if response.headers.get("Content-Encoding"):
        raise RuntimeError(f"export came {response.headers['Content-Encoding']}-encoded")
    first_byte_s = None
    chunks = size = lines = preamble = 0
    try:
        for chunk in response.response:
            if first_byte_s is None:
                first_byte_s = time.perf_counter() - began
                preamble = chunk.count(b"\n")  # the '# label: value' lines and the header
            chunks += 1
            size += len(chunk)
            lines += chunk.count(b"\n")
            if not exact:
                peak = max(peak, rss_kb())
    finally:
        response.close()
    seconds = time.perf_counter() - began
    hwm = proc_kb("VmHWM") if exact else None
    peak = max(peak, hwm or 0, rss_kb())
    rows = lines - preamble
    return {
        "rows": rows,
        "bytes": size,
        "chunks": chunks,
        "seconds": round(seconds, 3),
        "first_byte_ms": round((first_byte_s or seconds) * 1000.0, 1),
        "rows_per_s": round(rows / seconds, 1) if seconds > 0 else None,
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "rss_growth_mb": round((peak - before) / 1024, 1),
        "peak_from": "VmHWM" if exact else "sampled",
    }


def bench_export(bench: Bench, start: dt.date, end: dt.date, runs: int) -> dict[str, Any]:
    """The CSV export of ``start..end``, newest first, through ``GET /orders/export`` of an app
    built by ``create_app`` on the bench schema (in-process cache: nothing written to Redis).
    Building the app re-binds the database: run it after the data calls."""
    from bench.servers import BENCH_USER, ensure_bench_user
    from bi_app import create_app
    from bi_app.config import Settings

    expected = orders.order_count(OrderQuery(start, end))
    password = ensure_bench_user(bench.url)
    settings = Settings(
        env="test", database_url=bench.url, secret_key=bench.settings.secret_key, scheduler=False
    )
    app = create_app(settings)
    client = sign_in(app, BENCH_USER, password)
    args = {"format": "csv", "start": start.isoformat(), "end": end.isoformat()}
    url = "/orders/export?" + urlencode({**args, "sort": "ordered_at", "dir": "desc"})
    done = [stream_once(client, url) for _ in range(runs)]
    rate = statistics.median(r["rows_per_s"] or 0.0 for r in done)
    growth = max(r["rss_growth_mb"] for r in done)
    rows_ok = all(r["rows"] == expected for r in done)
    return {
        "url": url,
        "window": [start.isoformat(), end.isoformat()],
        "expected_rows": expected,
        "runs": done,
        "rows_per_s": round(rate, 1),
        "rss_growth_mb": growth,
        "rows_ok": rows_ok,
        "rate_ok": rate >= EXPORT_MIN_ROWS_S,
        "rss_ok": growth <= EXPORT_MAX_RSS_MB,
    }


# --- verdicts and the table -----------------------------------------------------------------


def verdicts(results: list[OrdersResult], export: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per target: ``<call> miss``, ``<call> hit`` (cached calls), ``export ...``."""
    out = []
    for r in results:
        miss = r.miss_ms["median"]
        detail = f"miss {miss:.1f} {'<=' if miss <= r.miss_target_ms else '>'} "
        detail += f"{r.miss_target_ms:g} ms ({r.path})"
        if r.path == "roll-up" and r.raw_tables_touched:
            detail += f"; reads {', '.join(r.raw_tables_touched)}: not the roll-up path"
        out.append({"name": f"{r.name} miss", "ok": r.miss_ok, "detail": detail})
        if r.cached:
            hit = r.hit_ms["median"]
            sign = "<=" if r.hit_ok else ">"
            out.append(
                {
                    "name": f"{r.name} hit",
                    "ok": r.hit_ok,
                    "detail": f"hit {hit:.2f} {sign} {HIT_LIMIT_MS:g} ms",
                }
            )
    sign = "<=" if export["rss_ok"] else ">"
    out += [
        {
            "name": "export csv rows/s",
            "ok": export["rate_ok"],
            "detail": f"{export['rows_per_s']:,.0f} rows/s "
            f"({'>=' if export['rate_ok'] else '<'} {EXPORT_MIN_ROWS_S:,.0f}; "
            f"{export['expected_rows']:,} rows)",
        },
        {
            "name": "export csv rss growth",
            "ok": export["rss_ok"],
            "detail": f"{export['rss_growth_mb']:.1f} MB {sign} {EXPORT_MAX_RSS_MB:g} MB",
        },
        {
            "name": "export csv rows",
            "ok": export["rows_ok"],
            "detail": f"streamed {[r['rows'] for r in export['runs']]}, "
            f"order_count {export['expected_rows']:,}",
        },
    ]
    return out


def _ms(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_table(results: list[OrdersResult]) -> None:
    head = (
        f"{'call':<34}{'path':<13}{'stmts':>6}{'raw med':>9}{'miss med':>10}{'miss p95':>10}"
        f"{'target':>8}{'hit med':>9}{'hit p95':>9}  verdict"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        verdict = "ok" if r.miss_ok and r.hit_ok else "FAIL"
        if not r.miss_ok:
            verdict += " (miss)"
        if not r.hit_ok:
            verdict += " (hit)"
        if r.path == "roll-up" and r.raw_tables_touched:
            verdict += f" (reads {', '.join(r.raw_tables_touched)})"
        print(
            f"{r.name:<34}{r.path:<13}{r.statements:>6}{r.raw_sql_ms['median']:>9.1f}"
            f"{r.miss_ms['median']:>10.1f}{r.miss_ms['p95']:>10.1f}{r.miss_target_ms:>8g}"
            f"{_ms(r.hit_ms['median'], 9, 2)}{_ms(r.hit_ms['p95'], 9, 2)}  {verdict}"
        )
    print(
        f"times in ms, medians judged; miss targets: page {PAGE_MS:g} (whole range by amount "
        f"{SLOW_SORT_MS:g}), count {ROLLUP_COUNT_MS:g} from the roll-up / {SCAN_COUNT_MS:g} by "
        f"COUNT(*); hit {HIT_LIMIT_MS:g}; a search is not cached (no hit)"
    )


def print_export(export: dict[str, Any]) -> None:
    start, end = export["window"]
    print(f"\nCSV export {start}..{end}, newest first: GET {export['url']}")
    head = (
        f"{'run':<6}{'rows':>11}{'MB sent':>9}{'first byte ms':>15}{'seconds':>9}{'rows/s':>10}"
        f"{'RSS before MB':>15}{'growth MB':>11}"
    )
    print(head)
    print("-" * len(head))
    for i, r in enumerate(export["runs"], 1):
        print(
            f"{i:<6}{r['rows']:>11,}{r['bytes'] / 1e6:>9.1f}{r['first_byte_ms']:>15.1f}"
            f"{r['seconds']:>9.2f}{r['rows_per_s']:>10,.0f}{r['rss_before_mb']:>15.1f}"
            f"{r['rss_growth_mb']:>11.1f}"
        )
    rate_v = "ok" if export["rate_ok"] else "FAIL"
    rss_v = "ok" if export["rss_ok"] else "FAIL"
    rows_v = "ok" if export["rows_ok"] else "FAIL (rows streamed != order_count)"
    print(
        f"median {export['rows_per_s']:,.0f} rows/s (target >= {EXPORT_MIN_ROWS_S:,.0f}): "
        f"{rate_v}; peak RSS growth {export['rss_growth_mb']:.1f} MB (target <= "
        f"{EXPORT_MAX_RSS_MB:g} MB, worst run, from {export['runs'][0]['peak_from']}): {rss_v}; "
        f"rows {export['expected_rows']:,}: {rows_v}"
    )


def targets() -> dict[str, str]:
    return {
        "page_miss": f"<= {PAGE_MS:g} ms (median)",
        "page_miss_whole_range_by_amount": f"<= {SLOW_SORT_MS:g} ms (median)",
        "count_miss_rollup": f"<= {ROLLUP_COUNT_MS:g} ms (median), orders not read",
        "count_miss_count": f"<= {SCAN_COUNT_MS:g} ms (median)",
        "hit": f"<= {HIT_LIMIT_MS:g} ms (median; searches are not cached)",
        "export_rows_per_s": f">= {EXPORT_MIN_ROWS_S:,.0f} (median)",
        "export_rss_growth": f"<= {EXPORT_MAX_RSS_MB:g} MB (worst run)",
    }


def main(argv: list[str] | None = None) -> int:
    from bi_app.db.engine import limit_request_statements

    args = parse_args(__doc__.splitlines()[0], RESULTS, argv)
    bench = setup(args, "bench.orders")
    engine = bench.engine
    # the request profile bi_app.serving gives every request's statements (the callbacks')
    limit_request_statements(engine, bench.settings.statement_timeout_s)
    with bench.running():
        bounds = catalog.data_bounds()
        if bounds is None:
            print("no data in the roll-ups: nothing to benchmark", file=sys.stderr)
            return 1
        end = bounds[1]
        recent = (max(bounds[0], end - dt.timedelta(days=DEFAULT_DAYS - 1)), end)
        export_window = (max(bounds[0], end - dt.timedelta(days=EXPORT_DAYS - 1)), end)
        platform = pick([p["code"] for p in catalog.platforms()], "web")
        category = pick([c["code"] for c in catalog.categories()], "electronics")
        typed = searches(*newest_order(bench, *recent))
        all_cases = cases(recent, bounds, platform, category, typed)
        with bench.server.test_request_context("/orders"):
            results = bench_calls(bench, all_cases, args.runs, args.hit_runs)
        export = bench_export(bench, *export_window, max(1, min(args.runs, EXPORT_RUNS)))

    print(
        f"\n{bench.orders:,} orders, pages of {PAGE_ROWS} rows, recent window {recent[0]}.."
        f"{recent[1]}, whole range {bounds[0]}..{bounds[1]}, searches {typed}, cache "
        f"{bench.cache_label}, database {engine.dialect.name} (request profile: "
        f"statement_timeout {bench.settings.statement_timeout_s} s, no parallel workers)\n"
    )
    print_table(results)
    print_export(export)
    checks = verdicts(results, export)
    ok = all(v["ok"] for v in checks)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": bench.orders,
        "window": [recent[0].isoformat(), recent[1].isoformat()],
        "whole_range": [bounds[0].isoformat(), bounds[1].isoformat()],
        "platform": platform,
        "category": category,
        "statuses": list(LOST),
        "searches": typed,
        "page_rows": PAGE_ROWS,
        "cache_backend": bench.cache_backend,
        "database": engine.dialect.name,
        "targets": targets(),
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
        "export": export,
        "verdicts": checks,
    }
    return write_report(args.output, report, ok)


if __name__ == "__main__":
    sys.exit(main())
