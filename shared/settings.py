"""Typed settings, read once from environment variables (prefix WIRESTREAM_).

Every service has one settings class: the common part (brokers, topics,
metrics) plus what only that service needs. Each field's description is the
documentation: `wirestream config` prints them all, and docs/configuration.md
is generated from the same classes (a test keeps the two in step).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
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
        description="Alarm threshold: when more than this share of the last `invalid_window` records "
        "were undecodable, the service reports it (log, /readyz, wirestream_invalid_ratio): a sign of a "
        "wrong topic or producer. The records are still dead-lettered once each; the stream never stops "
        "for them.",
    )
    invalid_window: int = Field(200, ge=10, description="Window size for max_invalid_ratio.")
    empty_fetch_backoff_ms: int = Field(
        0,
        ge=0,
        description="Client-side wait after an empty fetch, for brokers that answer empty fetches at "
        "once instead of holding them (noida-db). 0 for real Kafka; the embedded stack sets 200.",
    )
    kafka_compression: Literal["none", "gzip"] = Field(
        "gzip",
        description="Compression of the record batches our producers write (gzip needs nothing beyond "
        "Python). Stories are text: gzip makes noida-db's state 2.6x smaller (it rewrites that state as it "
        "changes) and saves Kafka disk and network; size limits are checked on the uncompressed record.",
    )
    retry_backoff_max_s: float = Field(
        10.0, gt=0, description="Longest pause between retries while a downstream (Elasticsearch, Kafka) is "
        "unavailable or failing systemically; retries start at 0.2 s and double."
    )
    downstream_give_up_s: float = Field(
        600.0, gt=0,
        description="A service whose downstream stays unavailable, or that fails systemically, this long "
        "exits (crash-only, nothing committed past the last confirmed write) and its supervisor restarts it.",
    )
    systemic_after_failures: int = Field(
        20, ge=2,
        description="This many stories in a row failing in a stage (an exception) or refused by the sink, "
        "with none succeeding between, is a systemic failure: the batch is held uncommitted and retried, "
        "never dead-lettered.",
    )
    max_item_attempts: int = Field(
        8, ge=1,
        description="Tries for one record that keeps failing transiently (429 on one document) while the "
        "rest of its batch succeeds; then it is dead-lettered as transient_exhausted.",
    )
    stall_after_s: float = Field(
        120.0, gt=0,
        description="A held partition with lag whose committed offset has not moved for this long (and not "
        "because the downstream is down) makes the service exit so its supervisor restarts it. Any partition "
        "of the service's topic that no member of its group has committed on for twice this long, with lag, "
        "does the same: the restart rejoins the group and the partitions are handed out again.",
    )
    stage_deadline_s: float = Field(
        120.0, gt=0,
        description="Longest time a stage's worker process may take for one batch; past it the service "
        "exits (crash-only) and is restarted, the batch uncommitted.",
    )
    shutdown_grace_s: float = Field(
        10.0, gt=0,
        description="On SIGTERM a service finishes and commits the batches in flight for at most this long, "
        "then exits.",
    )
    instance_id: str | None = Field(
        None,
        description="Static consumer-group membership id, unique per replica (e.g. the pod name). A "
        "restarted consumer with the same id takes its partitions back at once instead of waiting for "
        "the group to expire the dead member. Unset: dynamic membership.",
    )
    topic_deadletter_retention_ms: int = Field(
        90 * 24 * 3600 * 1000,
        ge=-1,
        description="retention.ms of the dead-letter topic, set when a service creates it (default 90 "
        "days, -1 keeps them for ever). Stories on the other topics keep the broker's retention "
        "(7 days in docker-compose.yml): dead letters are kept far longer, to be read and replayed.",
    )
    topic_raw_cleanup_policy: Literal["compact", "delete"] = Field(
        "compact",
        description="cleanup.policy of the raw topic, set when a service creates it. `compact` (default): "
        "Kafka keeps the latest record of every story id for ever, so news.raw is the archive `wirestream "
        "reenrich` rebuilds the index from (records must be keyed, which every wirestream producer does). "
        "`delete`: the broker's time retention, like the other topics. An existing topic keeps its policy: "
        "deploy/README.md, \"Re-enrich\", shows how to change it.",
    )
    # Connection security: shared/connection_security.py turns these into the keyword
    # arguments of kafka-python, faust/aiokafka and elasticsearch-py.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How clients talk to Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism when the protocol is SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name (required with SASL_*).")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (required with SASL_*).")
    kafka_ssl_cafile: str | None = Field(
        None, description="PEM file of the CA that signed the brokers' certificates (SSL, SASL_SSL). "
        "Unset: the system's trusted CAs."
    )
    kafka_ssl_certfile: str | None = Field(
        None, description="PEM client certificate, for brokers that require mutual TLS."
    )
    kafka_ssl_keyfile: str | None = Field(None, description="PEM private key of kafka_ssl_certfile.")
    kafka_ssl_check_hostname: bool = Field(
        True, description="Check that the broker's certificate names the host connected to."
    )
    elasticsearch_username: str | None = Field(
        None, description="Elasticsearch user (basic authentication); needs elasticsearch_password."
    )
    elasticsearch_password: SecretStr | None = Field(None, description="Password of elasticsearch_username.")
    elasticsearch_api_key: SecretStr | None = Field(
        None, description="Elasticsearch API key (the base64 `encoded` value); instead of a user and password."
    )
    elasticsearch_ca_certs: str | None = Field(
        None, description="PEM file of the CA that signed Elasticsearch's HTTP certificate (https URLs). "
        "Unset: the system's trusted CAs."
    )
    elasticsearch_verify_certs: bool = Field(
        True, description="Verify Elasticsearch's certificate. Turn off only for a throwaway test cluster."
    )

    @model_validator(mode="after")
    def _credentials_are_complete(self):
        # A half-configured credential fails at start-up naming the variable, not at the first connection.
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"WIRESTREAM_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "WIRESTREAM_KAFKA_SASL_USERNAME and WIRESTREAM_KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("WIRESTREAM_KAFKA_SSL_CERTFILE and WIRESTREAM_KAFKA_SSL_KEYFILE go together")
        if bool(self.elasticsearch_username) != bool(self.elasticsearch_password):
            raise ValueError("WIRESTREAM_ELASTICSEARCH_USERNAME and WIRESTREAM_ELASTICSEARCH_PASSWORD go together")
        if self.elasticsearch_username and self.elasticsearch_api_key:
            raise ValueError(
                "set WIRESTREAM_ELASTICSEARCH_API_KEY or WIRESTREAM_ELASTICSEARCH_USERNAME/PASSWORD, not both"
            )
        return self


class IngestSettings(CommonSettings):
    metrics_port: int = Field(9101, description="Port of ingest's /metrics and /healthz.")
    trim_consumed_topics: bool = Field(
        False,
        description="Delete (Kafka DeleteRecords) what the only reader of news.detected (extract) and of "
        "news.enriched (index) has committed, every 10 s; news.raw (the archive) and dead letters are never "
        "trimmed. The embedded stack turns it on: noida-db rewrites its whole Kafka state as it changes, so "
        "a smaller state is less CPU and disk. Off: Kafka's retention decides.",
    )
    http_host: str = Field("127.0.0.1", description="Address the ingest HTTP API binds to.")
    http_port: int = Field(8080, description="Port of the ingest HTTP API.")
    max_item_bytes: int = Field(
        5_000_000, ge=1024,
        description="Largest request body or file accepted (413 above). Each story in it must also fit the "
        "broker's record limit less the enrichment reserve (about 900 KB encoded with Kafka's default "
        "1 MiB; read from the broker at start-up, see docs/decisions/0008-ingest-limits.md).",
    )
    max_items_per_request: int = Field(
        1000, ge=1,
        description="Most items (stories, feed entries, batch elements) one HTTP request may carry (413 "
        "above, before any item is read). Files from `wirestream ingest` and the drop folder are not capped.",
    )
    max_concurrent_requests: int = Field(
        8, ge=1,
        description="POST /v1/items handled at once (reading, parsing, publishing); more wait for a slot "
        "up to request_read_timeout_s, then get 503 with Retry-After.",
    )
    request_read_timeout_s: float = Field(
        30.0, gt=0,
        description="Longest time to receive one request body (408 after it): a client sending slowly "
        "cannot hold a slot for longer.",
    )
    api_token: str | None = Field(
        None, description="When set, POST /v1/items requires 'Authorization: Bearer <token>'; this token "
        "may publish any source (same as 'token=*' in api_tokens)."
    )
    api_tokens: str | None = Field(
        None,
        description="Bearer tokens bound to the sources they may publish: 'tokenA=AFP,Reuters;tokenB=*' "
        "(';' between tokens, ',' between sources, '*' any source; a token may contain '=', the last one "
        "splits). A story whose source (compared case-insensitively, as in story ids) is not bound to the "
        "token is refused with 403 naming the source. Combined with api_token when both are set.",
    )
    drop_dir: str | None = Field(
        None,
        description="Folder watched for wire files: each is ingested and moved to done/ or failed/ "
        "(with a .reason.txt). Write files as *.tmp (or dotfiles) and rename when complete. Symbolic "
        "links, non-regular files and files over max_item_bytes go to failed/ unread.",
    )
    drop_scan_s: float = Field(2.0, gt=0, description="How often the drop folder is scanned.")
    feeds: str | None = Field(
        None,
        description="RSS/Atom/JSON feeds to poll, comma-separated, each '[name=]URL[|seconds]': the name "
        "is the provider of its stories (part of their ids; default the URL's host), seconds its own "
        "interval.",
    )
    feed_interval_s: float = Field(300.0, gt=0, description="Default interval between polls of one feed.")
    feed_fetch_timeout_s: float = Field(
        30.0, gt=0,
        description="Deadline for one feed fetch as a whole (connect, headers, body): a server that "
        "answers slowly is given up on after it, whatever it still sends.",
    )
    feed_concurrency: int = Field(4, ge=1, description="Feeds fetched at the same time at most.")
    state_dir: str = Field(
        ".run/state", description="Where the feed poller remembers ETags and items already sent, and the "
        "drop folder the files it published but could not yet move to done/."
    )


class LangdetectSettings(CommonSettings):
    metrics_port: int = Field(9102, description="Port of langdetect's /metrics and /healthz.")
    consumer_group: str = Field("wirestream-langdetect", description="Kafka consumer group.")
    batch_size: int = Field(64, ge=1, description="Stories taken from the stream per batch.")
    batch_wait_s: float = Field(
        0.02, gt=0,
        description="How long the first story of a batch waits for more to join it (nothing waits while the "
        "stream is idle). Short, so a quiet stream forwards each story at once; under load batches still "
        "fill to their size, because the records are already fetched (shared/runner/adaptive_take.py).",
    )
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
    batch_wait_s: float = Field(
        0.02, gt=0,
        description="How long the first story of a batch waits for more to join it (nothing waits while the "
        "stream is idle). Short, so a quiet stream forwards each story at once; under load batches still "
        "fill to their size, because the records are already fetched (shared/runner/adaptive_take.py).",
    )
    extra_names: str | None = Field(
        None,
        description="A TSV file of extra names (`LABEL<TAB>name` per line, LABEL one of PERSON, ORG, LOC, ...) "
        "matched like the shipped lists in services/extract/data/ (languages without an NER model). Your own "
        "house list; also how the reenrich test changes a rule. Read at start-up by extract, `wirestream "
        "enrich` and `wirestream reenrich`.",
    )
    preload_models: str = Field(
        "en",
        description="Languages whose NER model each extract worker loads when it starts (comma-separated, "
        "of en, fr; empty for none). Any other model loads when the first story in its language arrives, "
        "which holds that worker's batch for the load (a few seconds on a busy core) but spares the memory "
        "(about 59 MB per worker for fr) where the language never comes. Preload what your feeds carry.",
    )

    @model_validator(mode="after")
    def _known_preload_models(self) -> "ExtractSettings":
        from services.extract.nlp import MODELS

        unknown = sorted(set(self.preload_languages()) - set(MODELS))
        if unknown:
            raise ValueError(f"WIRESTREAM_PRELOAD_MODELS: no NER model for {', '.join(unknown)} "
                             f"(models exist for {', '.join(sorted(MODELS))})")
        return self

    def preload_languages(self) -> list[str]:
        return [lang.strip() for lang in self.preload_models.split(",") if lang.strip()]


class IndexSettings(CommonSettings):
    metrics_port: int = Field(9104, description="Port of index's /metrics and /healthz.")
    consumer_group: str = Field("wirestream-index", description="Kafka consumer group.")
    index_alias: str = Field(
        "news",
        description="Read alias: searches use it. It covers every index generation, each with the visibility "
        "filter (docs/decisions/0005).",
    )
    index_write_alias: str = Field(
        "news-write",
        description="Write alias: points at the current generation (is_write_index), the one new stories go "
        "to and the one rollover replaces.",
    )
    index_reenrich_alias: str = Field(
        "news-reenrich",
        description="Marker alias on the generation `wirestream reenrich` is building; while it exists the "
        "index service writes every story there too (docs/decisions/*-index-generations.md).",
    )
    index_name: str = Field(
        "news-000001",
        description="The first generation, created when there is none. Later ones are named "
        "`<index_alias>-<number>` (6 digits) by rollover and reenrich. An existing deployment's index behind "
        "the read alias without a write alias (e.g. `news-v1`) is adopted as the first generation instead.",
    )
    index_shards: int = Field(1, ge=1, description="number_of_shards of each new generation.")
    index_replicas: int = Field(
        0,
        ge=0,
        description="number_of_replicas of each new generation (and set on existing ones at start): 0 on one "
        "node (the embedded default, docker compose), where a replica can never be placed; 1 or more on a "
        "cluster (Kubernetes sets 1), so losing a node loses no data.",
    )
    index_refresh_interval: str | None = Field(
        None,
        description="index.refresh_interval of every generation (the template, and set on existing ones at "
        "start): how often the server refreshes on its own. Unset: the server's default (1s). `-1`: only the "
        "index service refreshes (refresh_interval_s, only the generations it wrote to), which the embedded "
        "stack sets, because noida-db's refresh costs in proportion to the stories in a generation and it "
        "would otherwise refresh every generation whenever someone searches (docs/decisions/0015).",
    )
    rollover: Literal["auto", "ilm", "service", "off"] = Field(
        "auto",
        description="Who rolls the write alias over to a new generation: `ilm` (an ILM policy on the server), "
        "`service` (the index service calls the rollover API every rollover_check_s with the conditions "
        "below), `off` (only `wirestream rollover`), `auto` (ilm when the server has ILM, else service).",
    )
    rollover_max_age: str | None = Field(
        "30d", description="Roll over when the current generation is older than this (Elasticsearch time "
        "units: 30d, 12h). Unset: no age condition."
    )
    rollover_max_primary_shard_size: str | None = Field(
        "50gb", description="Roll over when the current generation's largest primary shard is larger "
        "(Elasticsearch byte units: 50gb). Unset: no size condition."
    )
    rollover_max_docs: int | None = Field(
        None, ge=1, description="Roll over when the current generation holds more stories than this. Unset: "
        "no count condition."
    )
    rollover_check_s: float = Field(
        300.0, gt=0, description="With rollover=service: how often the index service checks the conditions."
    )
    ilm_policy: str = Field(
        "wirestream-news", description="Name of the ILM policy `wirestream setup` creates (when the server has "
        "ILM and rollover is ilm or auto); an existing policy of that name is left as it is."
    )
    index_delete_after: str | None = Field(
        None,
        description="Retention: with ILM, generations are deleted this long after they rolled over (e.g. "
        "365d). Unset (default): stories are kept for ever. Without ILM nothing is deleted automatically "
        "(`wirestream generations` lists them; deploy/README.md).",
    )
    snapshot_repository: str = Field(
        "wirestream-backups", description="Snapshot repository `wirestream snapshot` uses (registered on "
        "first use when missing)."
    )
    snapshot_location: str = Field(
        "/usr/share/elasticsearch/snapshots",
        description="Filesystem location of the snapshot repository on the Elasticsearch nodes; must be "
        "listed in their `path.repo` (docker-compose.yml mounts the es-snapshots volume there).",
    )
    bulk_max_docs: int = Field(500, ge=1, description="Most stories per Elasticsearch bulk request.")
    poll_timeout_ms: int = Field(
        100, ge=10, description="Longest wait for records per poll (also how often the loop does its own "
        "upkeep: a trailing refresh, lag)."
    )
    refresh_interval_s: float = Field(
        1.0, ge=0,
        description="A bulk asks Elasticsearch to refresh (make its stories searchable at once) when the last "
        "refresh is at least this old; otherwise a refresh follows within this time. Quiet: every story is "
        "searchable as soon as it is written. Busy: at most one refresh per interval. 0: never ask.",
    )
    bulk_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024,
        description="Most bytes per Elasticsearch bulk request (below http.max_content_length, 100 MB by "
        "default); a batch is split into several bulks above it.",
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
