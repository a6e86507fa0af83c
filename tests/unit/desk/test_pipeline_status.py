"""Rates, latency quantiles and lag from the services' /metrics (services/desk/pipeline.py)."""

from __future__ import annotations

import math

import pytest

from services.desk.pipeline import (PipelineMonitor, Scrape, bucket_delta, histogram_quantile, parse_services,
                                    read_metrics)

METRICS = """# HELP wirestream_messages_in_total x
# TYPE wirestream_messages_in_total counter
wirestream_messages_in_total{service="index"} 100.0
# TYPE wirestream_messages_out_total counter
wirestream_messages_out_total{service="index"} 90.0
# TYPE wirestream_failures_total counter
wirestream_failures_total{service="index",reason="a"} 3.0
wirestream_failures_total{service="index",reason="b"} 2.0
# TYPE wirestream_deadlettered_total counter
wirestream_deadlettered_total{service="index",reason="a"} 4.0
# TYPE wirestream_end_to_end_latency_seconds histogram
wirestream_end_to_end_latency_seconds_bucket{le="0.5"} 10.0
wirestream_end_to_end_latency_seconds_bucket{le="1.0"} 60.0
wirestream_end_to_end_latency_seconds_bucket{le="2.0"} 100.0
wirestream_end_to_end_latency_seconds_bucket{le="+Inf"} 100.0
wirestream_end_to_end_latency_seconds_count 100.0
wirestream_end_to_end_latency_seconds_sum 110.0
# TYPE wirestream_consumer_lag gauge
wirestream_consumer_lag{service="index",topic="news.enriched",partition="0"} 5.0
wirestream_consumer_lag{service="index",topic="news.enriched",partition="1"} 7.0
"""


def test_read_metrics_sums_labels_and_reads_buckets_and_lag():
    counters, buckets, lag = read_metrics(METRICS)
    assert counters == {"in": 100.0, "out": 90.0, "failures": 5.0, "deadletters": 4.0}
    assert buckets == [(0.5, 10.0), (1.0, 60.0), (2.0, 100.0), (math.inf, 100.0)]
    assert lag == {"news.enriched": 12.0}


def test_lag_is_none_when_a_service_does_not_export_it():
    assert read_metrics("# TYPE wirestream_messages_in_total counter\nwirestream_messages_in_total 1.0\n")[2] is None


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = [(0.5, 10.0), (1.0, 60.0), (2.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.5 + 0.5 * (50 - 10) / 50)
    assert histogram_quantile(0.95, buckets) == pytest.approx(1.0 + 1.0 * (95 - 60) / 40)
    assert histogram_quantile(0.99, [(1.0, 0.0), (math.inf, 10.0)]) == 1.0  # beyond the last bound
    assert histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None


def test_bucket_delta_is_the_window_and_restarts_fall_back_to_the_new_counts():
    old = [(1.0, 5.0), (math.inf, 10.0)]
    new = [(1.0, 8.0), (math.inf, 20.0)]
    assert bucket_delta(new, old) == [(1.0, 3.0), (math.inf, 10.0)]
    assert bucket_delta(old, new) == old


def test_rates_over_the_window_and_a_counter_reset():
    monitor = PipelineMonitor({"index": "http://x"}, window_s=60)
    base = dict(reachable=True, health={"status": "ok", "http_status": 200})
    monitor.history["index"].append(Scrape(at=100.0, counters={"in": 10, "out": 10, "failures": 0, "deadletters": 0},
                                           latency_buckets=[(1.0, 0.0), (math.inf, 0.0)], **base))
    monitor.history["index"].append(Scrape(at=110.0, counters={"in": 60, "out": 40, "failures": 2, "deadletters": 1},
                                           latency_buckets=[(1.0, 4.0), (math.inf, 4.0)], **base))
    status = monitor.service_status("index")
    assert status["health"] == "ok"
    assert status["rates"] == {"in": 5.0, "out": 3.0, "failures": 0.2, "deadletters": 0.1}
    assert status["latency"]["p50_s"] == pytest.approx(0.5) and status["latency"]["over"] == "last 10 s"
    assert status["lag"] is None and status["ready"] is None
    # The service restarted: its counters began again; what it counted since is added, as rate() does.
    monitor.history["index"].append(Scrape(at=120.0, counters={"in": 20, "out": 20, "failures": 0, "deadletters": 0},
                                           **base))
    assert monitor.service_status("index")["rates"]["in"] == pytest.approx((50 + 20) / 20)


def test_unreachable_and_unhealthy_services_say_so():
    monitor = PipelineMonitor({"a": "http://a", "b": "http://b", "c": "http://c"})
    assert monitor.service_status("a")["health"] == "unknown"  # not read yet
    monitor.history["a"].append(Scrape(at=1.0, reachable=False, error="ConnectionRefused", health={"status": "unreachable"}))
    monitor.history["b"].append(Scrape(at=1.0, reachable=True, health={"status": "stale", "http_status": 503},
                                       ready={"status": "not ready", "reason": "Kafka unavailable", "http_status": 503}))
    assert monitor.service_status("a")["health"] == "unreachable"
    b = monitor.service_status("b")
    assert b["health"] == "stale"
    assert b["ready"] == {"status": "not ready", "reason": "Kafka unavailable", "ok": False}
    monitor.history["c"].append(Scrape(at=1.0, reachable=True, health={"status": "ok", "http_status": 200},
                                       ready={"status": "not ready", "http_status": 503,
                                              "reasons": {"elasticsearch": "unreachable", "paused": "backpressure"}}))
    assert monitor.service_status("c")["ready"]["reason"] == "elasticsearch: unreachable; paused: backpressure"


def test_parse_services_setting():
    assert parse_services("ingest=http://127.0.0.1:9101/, index=http://h:9104") == {
        "ingest": "http://127.0.0.1:9101", "index": "http://h:9104"}
    assert parse_services("") == {}
    with pytest.raises(ValueError, match="name=http"):
        parse_services("ingest:9101")


GROUP_LAG_METRICS = """# TYPE wirestream_group_lag gauge
wirestream_group_lag{group="wirestream-extract",topic="news.detected"} 42.0
wirestream_group_lag{group="wirestream-index",topic="news.enriched"} 0.0
"""


def test_a_stopped_stage_shows_its_groups_lag_as_the_broker_reports_it():
    """Every extract replica stopped: extract exports nothing, yet its lag is what matters."""
    from services.desk.pipeline import read_group_lag

    assert read_group_lag(METRICS) is None
    monitor = PipelineMonitor({"ingest": "http://i", "extract": "http://e", "extract-1": "http://e1"})
    monitor.history["ingest"].append(Scrape(at=1.0, reachable=True, health={"status": "ok", "http_status": 200},
                                            group_lag=read_group_lag(GROUP_LAG_METRICS)))
    for name in ("extract", "extract-1"):
        monitor.history[name].append(Scrape(at=1.0, reachable=False, error="ConnectionRefused",
                                            health={"status": "unreachable"}))
    status = {s["name"]: s for s in monitor.status()["services"]}
    assert status["extract"]["lag"] == {"news.detected": 42.0} and status["extract"]["lag_from"] == "broker"
    assert status["extract-1"]["lag"] == {"news.detected": 42.0}
    assert status["ingest"]["lag"] is None, "ingest consumes nothing"
