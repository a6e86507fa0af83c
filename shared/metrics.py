"""Every Prometheus metric wirestream exports, declared in one place.

Each service process serves these on its own metrics port (see
shared/observability.py); the `service` label says which stage counted. The
Grafana dashboard in deploy/grafana/ uses exactly these names (a test checks
that every metric it queries is declared here).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
_BATCH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MESSAGES_IN = Counter(
    "wirestream_messages_in_total", "Messages (or HTTP items) a service received.", ["service"]
)
MESSAGES_OUT = Counter(
    "wirestream_messages_out_total",
    "Stories a service handed on downstream (a topic, or for index: Elasticsearch).",
    ["service"],
)
FAILURES = Counter(
    "wirestream_failures_total",
    "Items a service could not process, by reason class (each is also dead-lettered or answered 4xx).",
    ["service", "reason"],
)
DEADLETTERED = Counter(
    "wirestream_deadlettered_total", "Records written to the dead-letter topic.", ["service", "reason"]
)
BATCH_SECONDS = Histogram(
    "wirestream_batch_processing_seconds",
    "Time from taking a batch to its downstream write being confirmed, before the offset commit "
    "(for transforms this includes waiting behind the batch in flight before it).",
    ["service"],
    buckets=_BATCH_BUCKETS,
)
BATCH_SIZE = Histogram(
    "wirestream_batch_size",
    "Stories per processed batch.",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
END_TO_END_SECONDS = Histogram(
    "wirestream_end_to_end_latency_seconds",
    "From a story's received_at (ingest) to its bulk write being confirmed by Elasticsearch.",
    buckets=_LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "wirestream_http_requests_total", "Ingest HTTP requests by response status.", ["status"]
)
STALE_VERSIONS = Counter(
    "wirestream_stale_versions_total",
    "Story versions Elasticsearch refused because a newer version was already indexed.",
)
PAUSED_PARTITIONS = Gauge(
    "wirestream_paused_partitions",
    "Partitions a consumer has paused for backpressure (downstream unavailable).",
    ["service"],
)
DOWNSTREAM_RETRIES = Counter(
    "wirestream_downstream_retries_total",
    "Retries of a downstream write (Elasticsearch bulk, Kafka produce) after a transient failure.",
    ["service"],
)
DESK_REQUESTS = Counter(
    "wirestream_desk_requests_total",
    "Desk HTTP requests (pages and /api/) by route and response status.",
    ["route", "status"],
)
DESK_REQUEST_SECONDS = Histogram(
    "wirestream_desk_request_seconds",
    "Time the desk took to answer a request, Elasticsearch included.",
    ["route"],
    buckets=_BATCH_BUCKETS,
)
