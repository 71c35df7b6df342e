"""Operations monitoring costs: the metrics middleware per request, and one /ops/health refresh.

    python -m bench.ops [--requests 3000] [--refreshes 40]

Middleware: the same tiny Flask route and the same Dash callback are served by two otherwise
identical apps, one with the middleware installed; requests alternate in small batches between
them and the medians are compared. Target: <= 1 ms added per request.

/ops/health refresh: a real app on a fresh migrated SQLite file with one stored health report and
resource samples, an admin logged in through the login form, then the live refresh callback
posted like the browser does. Reports its server time (median) and response bytes, next to the
bytes of a full page render, which is what a refresh would cost without ``Patch``.

Prints a table, writes bench/results/ops.json and exits 1 when the middleware target fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dash
import flask
from dash import Input, Output, html

RESULTS = Path(__file__).resolve().parent / "results" / "ops.json"
TARGET_MS = 1.0
BATCH = 50


def _bare_app(with_middleware: bool) -> dash.Dash:
    from bi_app.monitoring import metrics, middleware

    app = dash.Dash(__name__, server=flask.Flask(f"bench-{with_middleware}"), serve_locally=True)
    app.layout = html.Div([html.Button(id="b"), html.Div(id="o")])
    app.callback(Output("o", "children"), Input("b", "n_clicks"))(lambda n: f"clicked {n}")
    app.server.add_url_rule("/ping", "ping", lambda: "pong")
    if with_middleware:
        middleware.install(app.server, metrics.MinuteAggregator())
    return app


CALLBACK_BODY = {
    "output": "o.children",
    "outputs": {"id": "o", "property": "children"},
    "inputs": [{"id": "b", "property": "n_clicks", "value": 1}],
    "changedPropIds": ["b.n_clicks"],
    "state": [],
}


def _time(client, kind: str) -> float:
    start = time.perf_counter()
    if kind == "get":
        response = client.get("/ping")
    else:
        response = client.post("/_dash-update-component", json=CALLBACK_BODY)
    elapsed = (time.perf_counter() - start) * 1000.0
    assert response.status_code == 200, response.status_code
    return elapsed


def bench_middleware(requests: int) -> dict[str, Any]:
    clients = {flag: _bare_app(flag).server.test_client() for flag in (False, True)}
    out: dict[str, Any] = {}
    for kind in ("get", "callback"):
        samples: dict[bool, list[float]] = {False: [], True: []}
        for flag in (False, True):  # warm-up
            for _ in range(100):
                _time(clients[flag], kind)
        for _ in range(requests // BATCH):
            for flag in (False, True):
                samples[flag].extend(_time(clients[flag], kind) for _ in range(BATCH))
        without, with_ = statistics.median(samples[False]), statistics.median(samples[True])
        out[kind] = {
            "requests_each": len(samples[True]),
            "median_without_ms": round(without, 4),
            "median_with_ms": round(with_, 4),
            "overhead_ms": round(with_ - without, 4),
            "target_ms": TARGET_MS,
            "ok": with_ - without <= TARGET_MS,
        }
    return out


def _refresh_body(names: list[str]) -> dict[str, Any]:
    from components.ids import OpsHealth as ids
    from components.ops_health_view import RESOURCE_GRAPHS

    def one(component_id, prop):
        return {"id": component_id, "property": prop}

    outputs = [
        one(ids.OVERALL, "children"),
        one(ids.CHECKED_AT, "children"),
        one(ids.BANNER, "children"),
        one(ids.TILES, "children"),
    ]
    for factory, prop in (
        (ids.tile_status, "children"),
        (ids.tile_latency, "children"),
        (ids.tile_error, "children"),
        (ids.tile_spark, "figure"),
    ):
        outputs.append([one(factory(n), prop) for n in names])
    outputs += [one(graph_id, "figure") for graph_id, *_ in RESOURCE_GRAPHS]
    outputs.append(one(ids.BREAKERS, "children"))

    def key(o):
        if isinstance(o, list):
            spec = json.dumps(
                o[0]["id"] | {"index": ["ALL"]}, separators=(",", ":"), sort_keys=True
            )
            return f"{spec}.{o[0]['property']}"
        return f"{o['id']}.{o['property']}"

    return {
        "output": ".." + "...".join(key(o) for o in outputs) + "..",
        "outputs": outputs,
        "inputs": [{"id": ids.INTERVAL, "property": "n_intervals", "value": 1}],
        "changedPropIds": [f"{ids.INTERVAL}.n_intervals"],
        "state": [
            {"id": RESOURCE_GRAPHS[0][0], "property": "figure", "value": {"data": [{"x": [1]}]}}
        ],
    }


def bench_health_refresh(refreshes: int) -> dict[str, Any]:
    from plotly.utils import PlotlyJSONEncoder

    from bi_app import auth, create_app, monitoring
    from bi_app.config import Settings
    from bi_app.db.migrate import upgrade
    from bi_app.extensions import db
    from bi_app.monitoring import dashboard, health, resources
    from components.ops_health_view import layout as health_page

    folder = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    url = f"sqlite:///{folder / 'ops.sqlite'}"
    upgrade(url)
    settings = Settings(
        env="test", database_url=url, secret_key="bench-secret-key-0123456789", scheduler=False
    )
    app = create_app(settings)
    monitoring.init_app(app, settings)
    with db.session() as session:
        auth.create_user(session, "bench", "bench-password-1", "admin", actor="bench")
        session.commit()
    with app.server.app_context():
        report = health.run_health_checks(settings)
        for _ in range(3):
            resources.sample_resources()
    client = app.server.test_client()
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)
    ).group(1)
    client.post(
        "/login",
        data={
            "username": "bench",
            "password": "bench-password-1",
            "next": "/",
            "csrf_token": token,
        },
    )
    body = _refresh_body([c.name for c in report.checks])
    times, sizes = [], []
    for _ in range(refreshes):
        start = time.perf_counter()
        response = client.post("/_dash-update-component", json=body)
        times.append((time.perf_counter() - start) * 1000.0)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        sizes.append(len(response.data))
    with app.server.test_request_context():
        full = json.dumps(
            health_page(dashboard.health_snapshot(settings), "UTC", 5000), cls=PlotlyJSONEncoder
        )
    return {
        "refreshes": refreshes,
        "checks": len(report.checks),
        "median_server_ms": round(statistics.median(times), 2),
        "p95_server_ms": round(sorted(times)[int(0.95 * (len(times) - 1))], 2),
        "refresh_bytes": int(statistics.median(sizes)),
        "full_page_bytes": len(full.encode()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per app and kind")
    parser.add_argument("--refreshes", type=int, default=40)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    middleware = bench_middleware(args.requests)
    refresh = bench_health_refresh(args.refreshes)
    print(
        f"{'middleware':<22}{'without (ms)':>14}{'with (ms)':>12}{'added (ms)':>12}  target <= "
        f"{TARGET_MS} ms"
    )
    for kind, r in middleware.items():
        print(
            f"  {kind:<20}{r['median_without_ms']:>14.3f}{r['median_with_ms']:>12.3f}"
            f"{r['overhead_ms']:>12.3f}"
            f"  {'ok' if r['ok'] else 'FAIL'}"
        )
    print(
        f"/ops/health refresh ({refresh['checks']} checks): median {refresh['median_server_ms']} "
        "ms, "
        f"p95 {refresh['p95_server_ms']} ms, {refresh['refresh_bytes']} bytes "
        f"(a full page render: {refresh['full_page_bytes']} bytes)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"middleware": middleware, "health_refresh": refresh, "python": sys.version.split()[0]},
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    return 0 if all(r["ok"] for r in middleware.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
