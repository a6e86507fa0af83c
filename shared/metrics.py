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
READY = Gauge(
    "wirestream_ready",
    "1 when the service can do its work now (its /readyz answers 200), 0 when it waits for something "
    "outside itself (Elasticsearch or Kafka unavailable, a systemic failure); the reason is on /readyz.",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "wirestream_consumer_lag",
    "Records in a partition the service's consumer group has not committed yet "
    "(log-end offset minus committed offset).",
    ["service", "topic", "partition"],
)
SYSTEMIC_FAILURES = Counter(
    "wirestream_systemic_failures_total",
    "Batches held back uncommitted because every record failed the same way (a bug, a write block, a "
    "missing index, a schema newer than this reader): never dead-lettered, retried, then the service exits.",
    ["service", "reason"],
)
INVALID_RATIO = Gauge(
    "wirestream_invalid_ratio",
    "Share of undecodable records among the last `invalid_window` a consumer read; above "
    "`max_invalid_ratio` the service alerts (the records are still dead-lettered, once each).",
    ["service"],
)
GROUP_LAG = Gauge(
    "wirestream_group_lag",
    "Records of a topic a pipeline consumer group has not committed yet, summed over partitions, as the "
    "broker reports it. Exported by ingest for every stage's group, so the lag of a stage whose replicas "
    "are all stopped still shows (and grows).",
    ["group", "topic"],
)
WORKER_REPLACEMENTS = Counter(
    "wirestream_worker_replacements_total",
    "Times a stage's worker process was killed and replaced because it hung on a batch past its "
    "deadline or died; the batch is processed again (one story at a time after a hang).",
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
