"""The index service against raw `helpers.bulk` of the same documents into the same server.

    python -m bench.index_vs_bulk [--stories 4000] [--out bench/results/index_vs_bulk.json]

Starts noida-db on free ports. The stories (Reuters-21578 when present, else the bundled
samples, repeated with unique ids) are enriched once, in this process, with the extract
stage's own Enricher, so both sides index the same documents with entities. Then:

- raw: `elasticsearch.helpers.bulk` of `story_document(story)` into a fresh index made
  from our template, in bulks of `bulk_max_docs`, as fast as the client goes;
- service: the same stories produced to news.enriched beforehand, then the real index
  service started (as the embedded stack runs it: a supervised process, its own
  consumer group) on the same stories, produced to its topic while it was stopped, timed
  from its first batch taken until its metrics say it wrote them all into another fresh
  index. Its start-up (Python, joining the group) is not counted.

Rounds alternate raw and service, each into a new index, and the best of each counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch, helpers  # noqa: E402
from kafka import KafkaProducer  # noqa: E402

from bench.chaos import story_texts  # noqa: E402
from services import stack  # noqa: E402
from services.extract.nlp import Enricher  # noqa: E402
from services.index.documents import story_document  # noqa: E402
from shared.contract import Story, utcnow  # noqa: E402
from shared.elastic import story_mappings  # noqa: E402
from shared.kafka_io import ensure_topics  # noqa: E402
from shared.messages import encode_story  # noqa: E402
from shared.settings import IndexSettings  # noqa: E402
from tests.integration.conftest import _free_port_block, _ports_outside_block  # noqa: E402

BULK = IndexSettings().bulk_max_docs


def enriched_stories(n: int) -> list[Story]:
    texts = story_texts()
    base = [Story(id=f"base-{i}", headline=h, body=b, language="en") for i, (h, b) in enumerate(texts[:400])]
    enriched = Enricher(learn=False).enrich(base)
    return [s.model_copy(update={"id": f"ivb-{i}", "guid": f"ivb-{i}"}) for i, s in
            ((i, enriched[i % len(enriched)]) for i in range(n))]


def fresh_index(es: Elasticsearch, name: str) -> None:
    es.indices.create(index=name, settings={"number_of_shards": 1, "number_of_replicas": 0},
                      mappings=story_mappings())


def raw_bulk(es: Elasticsearch, stories: list[Story], index: str) -> float:
    fresh_index(es, index)
    now = utcnow()
    actions = ({"_index": index, "_id": s.id, "version": s.version, "version_type": "external_gte",
                "_source": story_document(s, now)} for s in stories)
    started = time.perf_counter()
    helpers.bulk(es, actions, chunk_size=BULK)
    return time.perf_counter() - started


def metric(url: str, name: str) -> float:
    """The sum of the index service's samples of `name` (a metric without labels other than service)."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + '{service="index"}'))


def written(url: str) -> float:
    return metric(url, "wirestream_messages_out_total")


def service(config: stack.StackConfig, stories: list[Story], round_no: int) -> float:
    env_topic = f"news.enriched.ivb{round_no}"
    alias = f"ivb{round_no}"  # a fresh alias, template and first generation each round
    config.extra_env.update({"WIRESTREAM_TOPIC_ENRICHED": env_topic, "WIRESTREAM_INDEX_NAME": f"{alias}-000001",
                             "WIRESTREAM_INDEX_ALIAS": alias, "WIRESTREAM_INDEX_WRITE_ALIAS": f"{alias}-write",
                             "WIRESTREAM_INDEX_REENRICH_ALIAS": f"{alias}-reenrich",
                             "WIRESTREAM_CONSUMER_GROUP": f"ivb-{round_no}"})
    settings = IndexSettings(**{k.removeprefix("WIRESTREAM_").lower(): v for k, v in config.env.items()})
    ensure_topics(settings)
    url = stack.health_urls(config)["index"].replace("/healthz", "/metrics")
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{config.kafka_port}", acks="all",
                             compression_type="gzip", linger_ms=20, max_request_size=8 * 1024 * 1024)
    # A warm-up story makes the group and its committed offset; the service then stops, the
    # stories are produced while nothing reads them (so the server's Kafka side is idle during
    # the timing, as Kafka is a separate server in production), and the service starts again.
    warmup = encode_story(stories[0].model_copy(update={"id": "ivb-warmup", "guid": "ivb-warmup"}))
    producer.send(env_topic, key=warmup.key, value=warmup.value, headers=warmup.headers)
    producer.flush()
    stack.start_services(config, only={"index"})
    try:
        stack.wait_healthy(config, names={"index"})
        while written(url) < 1:
            time.sleep(0.02)
    finally:
        stack.stop_services(config)
    for story in stories:
        record = encode_story(story)
        producer.send(env_topic, key=record.key, value=record.value, headers=record.headers)
    producer.flush()
    producer.close()
    # Timed from the service's first batch taken (its messages_in moves) until its metrics say
    # every story is written: fetch, decode, plan, bulk, refresh when due, commit, the next fetch.
    stack.start_services(config, only={"index"})
    try:
        stack.wait_healthy(config, names={"index"})
        while metric(url, "wirestream_messages_in_total") == 0:
            time.sleep(0.005)
        started = time.perf_counter()
        while written(url) < len(stories):
            time.sleep(0.02)
        # The batches' own time (take to confirmed) can exceed the wall clock above, which
        # starts only when a /metrics answer shows the first take: the larger one counts.
        took = time.perf_counter() - started
        batches = metric(url, "wirestream_batch_size_count")
        in_batches = metric(url, "wirestream_batch_processing_seconds_sum")
        return max(took, in_batches), {"wall_clock_seconds": round(took, 3), "batches": int(batches), "mean_batch": round(len(stories) / max(batches, 1), 1),
                      "seconds_from_take_to_confirmed": round(in_batches, 3)}
    finally:
        stack.stop_services(config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "index_vs_bulk.json"))
    args = parser.parse_args(argv)
    stories = enriched_stories(args.stories)
    base = _free_port_block()
    kafka_port, es_port, http_port = _ports_outside_block(base, 3)
    config = stack.StackConfig(run_dir=Path(tempfile.mkdtemp(prefix="wirestream-ivb-")), kafka_port=kafka_port,
                               elasticsearch_port=es_port, http_port=http_port,
                               metrics_ports={"index": base + 3}, extra_env={"WIRESTREAM_REFRESH_INTERVAL_S": "1"})
    stack.start_noida(config)
    es = Elasticsearch(f"http://127.0.0.1:{es_port}", request_timeout=120)
    raw_s, service_s, breakdown = [], [], []
    try:
        for r in range(args.rounds):
            raw_s.append(raw_bulk(es, stories, f"ivb-raw-{r}"))
            took, parts = service(config, stories, r)
            breakdown.append(parts)
            service_s.append(took)
            print(f"round {r}: raw {raw_s[-1]:.2f}s, service {took:.2f}s {parts}", flush=True)
    finally:
        stack.stop_noida(config)
    best_raw, best_service = min(raw_s), min(service_s)
    result = {
        "stories": len(stories), "bulk_docs": BULK, "rounds": args.rounds,
        "raw_bulk_seconds": [round(x, 3) for x in raw_s], "service_seconds": [round(x, 3) for x in service_s],
        "service_batches": breakdown,
        "raw_stories_per_s": round(len(stories) / best_raw, 1),
        "service_stories_per_s": round(len(stories) / best_service, 1),
        "ratio_service_over_raw": round(best_raw / best_service, 3),
        "note": "best round of each; both into a fresh index from our mapping on the same noida-db; the service "
                "reads the stories from Kafka (gzip batches), decodes, bulk-writes with external versions and "
                "commits; raw is helpers.bulk of the same documents",
    }
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
