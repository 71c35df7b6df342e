"""Callback outputs cached as the browser receives them (bi_app.data.output_cache): a repeat
request answers the same bytes without a query or a figure being built, an invalidation or new
inputs recompute, failures are never stored, the role check still runs first, and two app
instances ("workers") share the entries through Redis."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert

from bi_app.data import cache as data_cache
from bi_app.data import output_cache, sales
from components.ids import Overview
from tests.conftest import migrate, signed_in_client

REVENUE = f"{Overview.REVENUE_GRAPH}.figure"


def callback_body(app, output: str, **values) -> dict:
    """The body the renderer posts for ``output`` with the inputs given by property name."""
    spec = app.callback_map[output]
    return {
        "output": output,
        "outputs": {"id": output.split(".")[0], "property": output.split(".")[1]},
        "inputs": [{**i, "value": values.get(i["property"])} for i in spec["inputs"]],
        "changedPropIds": [],
        "state": [{**s, "value": values.get(s["property"])} for s in spec.get("state", [])],
    }


def revenue_body(app, granularity: str = "day", start: str = "2020-01-01", end: str = "2030-12-31"):
    return callback_body(app, REVENUE, start_date=start, end_date=end, value=granularity)


def counts(namespace: str) -> dict[str, int]:
    return data_cache.cache_stats()["namespaces"].get(namespace, {"hits": 0, "misses": 0})


@pytest.fixture
def client(demo_app):
    data_cache.reset_stats()
    return signed_in_client(demo_app, "viewer")


def post(client, body):
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def test_a_repeat_request_answers_the_same_bytes_without_querying(demo_app, client):
    first = post(client, revenue_body(demo_app)).get_data()
    assert counts("outputs")["misses"] == 1 and counts("sales")["misses"] >= 1
    sales_lookups = counts("sales")["hits"] + counts("sales")["misses"]

    second = post(client, revenue_body(demo_app)).get_data()

    assert counts("outputs")["hits"] == 1
    assert counts("sales")["hits"] + counts("sales")["misses"] == sales_lookups  # no query at all
    assert json.loads(second) == json.loads(first)
    figure = json.loads(second)["response"][Overview.REVENUE_GRAPH]["figure"]
    assert figure["data"] and sum(figure["data"][0]["y"]) > 0  # a real trend, not a placeholder


def test_a_hit_is_answered_before_dash_dispatches_it(demo_app, client, monkeypatch):
    first = post(client, revenue_body(demo_app)).get_data()

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("Dash dispatched a request the answer cache holds")

    monkeypatch.setitem(demo_app.callback_map[REVENUE], "callback", must_not_run)
    assert post(client, revenue_body(demo_app)).get_data() == first  # the very same bytes
    assert counts("outputs")["hits"] == 1


def test_the_role_check_runs_before_a_hit_is_served(demo_app, client, monkeypatch):
    from bi_app.data.output_cache import ANSWERS_KEY, CachedCallback

    post(client, revenue_body(demo_app))  # cached by a viewer, who may see it
    callbacks = demo_app.server.config[ANSWERS_KEY][0]
    monkeypatch.setitem(
        callbacks, REVENUE, CachedCallback(callbacks[REVENUE].namespaces, ("admin",))
    )
    refused = client.post("/_dash-update-component", json=revenue_body(demo_app))
    assert refused.status_code == 403
    assert b"figure" not in refused.get_data()
    assert counts("outputs")["hits"] == 0


def test_other_inputs_are_other_entries(demo_app, client):
    by_day = post(client, revenue_body(demo_app, "day")).get_json()
    by_month = post(client, revenue_body(demo_app, "month")).get_json()
    assert counts("outputs") == {**counts("outputs"), "hits": 0, "misses": 2}
    days = by_day["response"][Overview.REVENUE_GRAPH]["figure"]["data"][0]["x"]
    months = by_month["response"][Overview.REVENUE_GRAPH]["figure"]["data"][0]["x"]
    assert len(months) < len(days)


def test_each_language_has_its_own_answers(demo_app, client):
    english = post(client, revenue_body(demo_app)).get_data()
    korean = client.post(
        "/_dash-update-component",
        json=revenue_body(demo_app),
        headers={"Accept-Language": "ko-KR,ko;q=0.9"},
    )
    assert korean.status_code == 200
    assert counts("outputs")["misses"] == 2  # not the English answer
    assert korean.get_data() != english
    again = client.post(
        "/_dash-update-component",
        json=revenue_body(demo_app),
        headers={"Accept-Language": "ko-KR,ko;q=0.9"},
    )
    assert again.get_data() == korean.get_data() and counts("outputs")["hits"] == 1


def test_new_data_and_an_invalidation_draw_again(demo_app, client):
    from bi_app.db.models import Order
    from bi_app.db.rollups import refresh_rollups
    from bi_app.extensions import db

    engine = db.require_engine()
    with engine.connect() as conn:
        customer, platform, last = conn.exec_driver_sql(
            "SELECT customer_id, platform_id, (SELECT max(ordered_at) FROM orders) FROM orders"
        ).first()
    day = dt.datetime.fromisoformat(str(last)).replace(hour=12) - dt.timedelta(days=10)
    body = revenue_body(demo_app, "month", str(day.date() - dt.timedelta(days=60)), str(day.date()))
    before = post(client, body).get_json()["response"][Overview.REVENUE_GRAPH]["figure"]
    with engine.begin() as conn:
        conn.execute(
            insert(Order),
            [
                {
                    "order_number": "output-cache-test",
                    "customer_id": customer,
                    "platform_id": platform,
                    "status": "delivered",
                    "total_cents": 123_456_789,
                    "ordered_at": day,
                }
            ],
        )
    refresh_rollups(engine, day.date(), day.date())

    stale = post(client, body).get_json()["response"][Overview.REVENUE_GRAPH]["figure"]
    assert stale == before  # cached until the data layer says the data changed
    with demo_app.server.app_context():
        assert data_cache.invalidate(sales.NAMESPACE)
    after = post(client, body).get_json()["response"][Overview.REVENUE_GRAPH]["figure"]

    def revenue(figure):
        return sum(figure["data"][0]["y"])

    assert revenue(after) == pytest.approx(revenue(before) + 1_234_567.89)


def test_a_failure_is_shown_but_never_stored(demo_app, client, monkeypatch):
    real = sales.revenue_trend
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(sales, "revenue_trend", failing_once)
    failed = post(client, revenue_body(demo_app)).get_json()
    figure = failed["response"][Overview.REVENUE_GRAPH]["figure"]
    assert "the revenue trend is unavailable right now" in json.dumps(figure).lower()

    recovered = post(client, revenue_body(demo_app)).get_json()
    trace = recovered["response"][Overview.REVENUE_GRAPH]["figure"]["data"][0]
    assert sum(trace["y"]) > 0 and len(calls) == 2


def test_a_signed_out_request_gets_nothing_from_the_cache(demo_app, client):
    post(client, revenue_body(demo_app))
    stranger = demo_app.server.test_client()
    response = stranger.post("/_dash-update-component", json=revenue_body(demo_app))
    assert response.status_code in (302, 401, 403)
    assert b"figure" not in response.get_data()


def test_the_fingerprint_follows_the_settings_and_the_code():
    assert output_cache.compute_fingerprint("currency=EUR") != output_cache.compute_fingerprint(
        "currency=KRW"
    )
    assert output_cache.compute_fingerprint("x") == output_cache.compute_fingerprint("x")


def shared_cache_app(app_factory, url, redis_url, prefix):
    app = app_factory(url, redis_url=redis_url)
    data_cache.init_app(app.server, app.server.config["BI_SETTINGS"], key_prefix=prefix)
    return app


def test_two_app_instances_share_outputs_through_redis(
    app_factory, pg_url, redis_url, redis_prefix
):
    from bi_app.db import demo
    from bi_app.extensions import db
    from tests.conftest import _seed_users

    migrate(pg_url)
    _seed_users(pg_url)
    first_app = shared_cache_app(app_factory, pg_url, redis_url, redis_prefix)
    demo.load_demo(db.require_engine(), scale=0.02, seed=7, progress=False)
    body = revenue_body(first_app, "week")
    data_cache.reset_stats()
    drawn = post(signed_in_client(first_app, "viewer"), body).get_json()
    assert counts("outputs")["misses"] == 1

    second_app = shared_cache_app(app_factory, pg_url, redis_url, redis_prefix)
    data_cache.reset_stats()
    served = post(signed_in_client(second_app, "viewer"), body).get_json()
    assert counts("outputs") == {**counts("outputs"), "hits": 1, "misses": 0}
    assert served == drawn
