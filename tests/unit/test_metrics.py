"""Histogram percentiles, the minute aggregator and the Prometheus text format."""

import random
import statistics

from prometheus_client.parser import text_string_to_metric_families

from bi_app.monitoring import histogram, metrics, prometheus
from bi_app.monitoring.histogram import Histogram


def _exact_percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1)]


def test_percentiles_within_one_bucket_of_exact():
    rng = random.Random(7)
    values = [rng.lognormvariate(2.0, 1.0) for _ in range(5000)]
    h = Histogram()
    for v in values:
        h.add(v)
    for q in (50, 95, 99):
        exact = _exact_percentile(values, q)
        assert abs(h.percentile(q) - exact) / exact <= histogram.GROWTH - 1 + 0.01
    assert h.count == 5000 and h.max_ms == max(values)
    assert abs(h.sum_ms - sum(values)) < 1e-6
    assert len(h.counts) <= histogram.BUCKET_COUNT + 1


def test_percentile_edge_cases():
    assert Histogram().percentile(95) == 0.0
    single = Histogram()
    single.add(12.5)
    assert single.percentile(50) == 12.5 and single.percentile(95) == 12.5
    huge = Histogram()
    huge.add(10_000_000.0)
    assert huge.percentile(50) == 10_000_000.0


def test_merge_equals_single_histogram_and_survives_storage():
    a, b, both = Histogram(), Histogram(), Histogram()
    for i, v in enumerate(x * 0.7 for x in range(1, 400)):
        (a if i % 2 else b).add(v)
        both.add(v)
    merged = histogram.merged([a, b])
    assert merged.counts == both.counts and merged.count == both.count
    assert merged.percentile(95) == both.percentile(95)
    restored = Histogram.from_row(
        merged.to_json(), merged.count, merged.sum_ms, merged.max_ms, merged.min_ms
    )
    assert restored.percentile(50) == merged.percentile(50)


def test_aggregator_per_minute_counts_errors_and_bounded_names():
    agg = metrics.MinuteAggregator()
    t0 = 1_800_000_000.0 - (1_800_000_000.0 % 60)
    for i in range(10):
        agg.record("http", "/a", "GET", 500 if i < 3 else 200, 2.0 + i, now=t0 + 1)
    agg.record("http", "/a", "GET", 200, 1.0, now=t0 + 61)  # next minute
    for i in range(metrics.MAX_SERIES_PER_MINUTE + 20):
        agg.record("callback", f"out-{i}.children", "POST", 200, 1.0, now=t0 + 2)
    done = agg.pop_completed(now=t0 + 61)
    assert list(done) == [int(t0)]
    series = done[int(t0)][("http", "/a", "GET")]
    assert series.hist.count == 10 and series.errors == 3 and series.hist.max_ms == 11.0
    callbacks = [k for k in done[int(t0)] if k[0] == "callback"]
    assert len(callbacks) == metrics.MAX_SERIES_PER_MINUTE
    assert done[int(t0)][("callback", metrics.OTHER, "POST")].hist.count == 21
    assert agg.pending_minutes() == 1
    rows = metrics.metric_rows(done, "host:1")
    row = next(r for r in rows if r["name"] == "/a")
    assert (
        row["count"] == 10
        and row["errors"] == 3
        and row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
    )


def test_restore_drops_minutes_older_than_the_limit():
    agg = metrics.MinuteAggregator()
    agg.record("http", "/a", "GET", 200, 1.0, now=0.0)
    agg.record("http", "/b", "GET", 200, 1.0, now=10_000.0)
    done = agg.pop_completed(now=10_100.0)
    agg.restore(done, now=10_100.0)
    assert agg.pending_minutes() == 1


def test_prometheus_text_parses_and_matches_what_was_recorded():
    exported = prometheus.RequestMetrics()
    for ms in (3.0, 30.0, 300.0, 3000.0):
        exported.observe("http", "/api/x", "GET", 200, ms / 1000)
    exported.observe("http", "/api/x", "GET", 503, 20.0)
    exported.observe("callback", "overview-revenue-graph.figure", "POST", 200, 0.007)
    body, content_type = prometheus.render(prometheus.build_registry(exported))
    assert content_type.startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert "# TYPE bi_http_requests_total counter" in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["status"]): s.value
        for s in families["bi_http_requests"].samples
        if s.name == "bi_http_requests_total"
    }
    assert requests == {"200": 4.0, "503": 1.0}
    buckets = {
        s.labels["le"]: s.value
        for s in families["bi_http_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert buckets["0.005"] == 1 and buckets["0.05"] == 2 and buckets["0.5"] == 3
    assert buckets["5.0"] == 4 and buckets["+Inf"] == 5
    total = next(
        s.value
        for s in families["bi_http_request_duration_seconds"].samples
        if s.name.endswith("_sum")
    )
    assert abs(total - statistics.fsum([0.003, 0.03, 0.3, 3.0, 20.0])) < 1e-9
    callback = next(
        s for s in families["bi_dash_callbacks"].samples if s.name == "bi_dash_callbacks_total"
    )
    assert (
        callback.labels == {"output": "overview-revenue-graph.figure", "status": "200"}
        and callback.value == 1
    )
    assert "process_cpu_seconds_total" in text  # single-process mode: this process is the target


def test_cache_counters_follow_the_data_layer_and_never_go_back(monkeypatch):
    readings = iter([{"hits": 5, "misses": 2}, {"hits": 9, "misses": 2}, {"hits": 1, "misses": 0}])
    monkeypatch.setattr(prometheus.health, "cache_hit_rate", lambda: next(readings))
    exported = prometheus.RequestMetrics()
    values = []
    for _ in range(3):
        exported.sync_cache()
        registry = exported.registry
        values.append(
            (
                registry.get_sample_value("bi_cache_hits_total"),
                registry.get_sample_value("bi_cache_misses_total"),
            )
        )
    # the third reading comes after the data layer's counters were reset: nothing is subtracted
    assert values == [(5, 2), (9, 2), (9, 2)]
