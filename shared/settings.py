"""Typed settings, read once from environment variables (prefix WIRESTREAM_).

Every service has one settings class: the common part (brokers, topics,
metrics) plus what only that service needs. Each field's description is the
documentation: `wirestream config` prints them all, and docs/configuration.md
is generated from the same classes (a test keeps the two in step).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WIRESTREAM_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated.")
    elasticsearch_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch base URL.")
    topic_raw: str = Field("news.raw", description="Topic ingest writes parsed stories to.")
    topic_detected: str = Field("news.detected", description="Topic langdetect writes to.")
    topic_enriched: str = Field("news.enriched", description="Topic extract writes to.")
    topic_deadletter: str = Field("news.deadletter", description="Topic for items that failed, with the reason.")
    topic_partitions: int = Field(4, ge=1, description="Partitions per topic when a service creates them.")
    topic_replication: int = Field(1, ge=1, description="Replication factor when a service creates topics.")
    metrics_host: str = Field("127.0.0.1", description="Address the metrics/health server binds to.")
    log_level: str = Field("INFO", description="Python logging level.")
    session_timeout_ms: int = Field(
        10000, ge=6000, description="Consumer group session timeout (noida and tansu reject < 6000)."
    )
    heartbeat_interval_ms: int = Field(3000, ge=100, description="Consumer heartbeat interval.")
    max_poll_interval_ms: int = Field(
        300000, ge=10000, description="Longest gap between polls before the group evicts a consumer."
    )
    max_invalid_ratio: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="A consumer stops (crashes loudly) when more than this share of the last "
        "`invalid_window` messages were invalid: a sign of a wrong topic or producer, not bad items.",
    )
    invalid_window: int = Field(200, ge=10, description="Window size for max_invalid_ratio.")
    empty_fetch_backoff_ms: int = Field(
        0,
        ge=0,
        description="Client-side wait after an empty fetch, for brokers that answer empty fetches at "
        "once instead of holding them (noida-db). 0 for real Kafka; the embedded stack sets 200.",
    )
    instance_id: str | None = Field(
        None,
        description="Static consumer-group membership id, unique per replica (e.g. the pod name). A "
        "restarted consumer with the same id takes its partitions back at once instead of waiting for "
        "the group to expire the dead member. Unset: dynamic membership.",
    )


class IngestSettings(CommonSettings):
    metrics_port: int = Field(9101, description="Port of ingest's /metrics and /healthz.")
    http_host: str = Field("127.0.0.1", description="Address the ingest HTTP API binds to.")
    http_port: int = Field(8080, description="Port of the ingest HTTP API.")
    max_item_bytes: int = Field(5_000_000, ge=1024, description="Largest request body accepted (413 above).")
    api_token: str | None = Field(
        None, description="When set, POST /v1/items requires 'Authorization: Bearer <token>'."
    )
    drop_dir: str | None = Field(
        None,
        description="Folder watched for wire files: each is ingested and moved to done/ or failed/ "
        "(with a .reason.txt). Write files as *.tmp (or dotfiles) and rename when complete.",
    )
    drop_scan_s: float = Field(2.0, gt=0, description="How often the drop folder is scanned.")
    feeds: str | None = Field(
        None,
        description="RSS/Atom/JSON feeds to poll, comma-separated, each 'URL' or 'URL|seconds' for its "
        "own interval.",
    )
    feed_interval_s: float = Field(300.0, gt=0, description="Default interval between polls of one feed.")
    state_dir: str = Field(
        ".run/state", description="Where the feed poller remembers ETags and items already sent."
    )


class LangdetectSettings(CommonSettings):
    metrics_port: int = Field(9102, description="Port of langdetect's /metrics and /healthz.")
    consumer_group: str = Field("wirestream-langdetect", description="Kafka consumer group.")
    batch_size: int = Field(64, ge=1, description="Stories taken from the stream per batch.")
    batch_wait_s: float = Field(0.2, gt=0, description="Longest wait to fill a batch.")
    und_threshold: float = Field(
        0.08, ge=0.0, le=1.0,
        description="Below this confidence (the model's probability for its answer) the language is "
        "'und'. 0.08: on the eval sets 2 of 208 answers below it were right (eval/README.md).",
    )


class ExtractSettings(CommonSettings):
    metrics_port: int = Field(9103, description="Port of extract's /metrics and /healthz.")
    consumer_group: str = Field("wirestream-extract", description="Kafka consumer group.")
    batch_size: int = Field(16, ge=1, description="Stories per spaCy nlp.pipe batch (16-32 is fastest).")
    stream_batch_size: int = Field(
        64, ge=1, description="Stories taken from Kafka per round trip to the NER worker process "
        "(several nlp.pipe batches; fewer hand-overs and acknowledgement waits)."
    )
    batch_wait_s: float = Field(0.2, gt=0, description="Longest wait to fill a batch.")


class IndexSettings(CommonSettings):
    metrics_port: int = Field(9104, description="Port of index's /metrics and /healthz.")
    consumer_group: str = Field("wirestream-index", description="Kafka consumer group.")
    index_alias: str = Field("news", description="Alias searches use; points at the current index.")
    index_name: str = Field("news-v1", description="Concrete index created behind the alias.")
    bulk_max_docs: int = Field(500, ge=1, description="Most stories per Elasticsearch bulk request.")
    poll_timeout_ms: int = Field(500, ge=10, description="Longest wait for records per poll.")
    retry_backoff_max_s: float = Field(
        30.0, gt=0, description="Longest pause between retries while Elasticsearch is unavailable."
    )


class DeskSettings(CommonSettings):
    metrics_port: int = Field(9105, description="Port of the desk's /metrics and /healthz.")
    desk_host: str = Field("127.0.0.1", description="Address the desk's web pages and /api/ bind to.")
    desk_port: int = Field(8000, description="Port of the desk's web pages and /api/.")
    index_alias: str = Field(
        "news", description="Alias the desk searches (the same alias as index; its filter hides killed "
        "and embargoed stories)."
    )
    desk_services: str = Field(
        "",
        description="Services the pipeline page watches, comma-separated 'name=base URL' of each one's "
        "metrics port, e.g. 'ingest=http://127.0.0.1:9101,index=http://127.0.0.1:9104'; the desk reads "
        "/metrics, /healthz and /readyz there. The embedded stack sets it.",
    )
    desk_poll_s: float = Field(5.0, gt=0, description="How often the desk reads every service's /metrics and /healthz.")
    desk_rate_window_s: float = Field(
        60.0, gt=0, description="Rates and latency quantiles on the pipeline page cover this many seconds."
    )
    desk_deadletter_tail: int = Field(
        20, ge=1, le=500, description="Latest dead letters the pipeline page shows (read from the topic's end)."
    )
    desk_search_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for Elasticsearch on one desk request before answering 503 "
        "(noida-db takes seconds per search once it holds thousands of stories)."
    )


SERVICE_SETTINGS: dict[str, type[CommonSettings]] = {
    "ingest": IngestSettings,
    "langdetect": LangdetectSettings,
    "extract": ExtractSettings,
    "index": IndexSettings,
    "desk": DeskSettings,
}
