"""The extract *service* end to end over Kafka vs raw spaCy on the same stories.

    python bench/extract_service_throughput.py [--stories 200] [--replicas 1]

Starts noida-db and the extract service (N replicas, one per core) on free
ports, produces the stories to news.detected, and times from the first send
until every enriched story is back on news.enriched. In the same run it times
raw spaCy (`nlp.pipe` on the same texts, same model, same batch size) in this
process. Writes bench/results/extract_service.json. The stories are the same
set bench/extract_throughput.py uses (seed, Reuters-21578, CoNLL documents).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from bench.extract_throughput import load_stories  # noqa: E402
from services import stack  # noqa: E402
from services.extract.nlp import load_ner  # noqa: E402
from shared.messages import encode_story  # noqa: E402
from tests.integration.conftest import _free_port_block, _ports_outside_block  # noqa: E402


def _metric(url: str, name: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def raw_spacy_seconds(texts: list[str], batch_size: int) -> float:
    nlp = load_ner("en")
    list(nlp.pipe(texts[:8], batch_size=batch_size))  # warm up
    started = time.perf_counter()
    list(nlp.pipe(texts, batch_size=batch_size))
    return time.perf_counter() - started


def service_seconds(stories, replicas: int) -> float:
    base = _free_port_block()
    kafka_port, es_port, http_port = _ports_outside_block(base, 3)
    config = stack.StackConfig(
        run_dir=Path(tempfile.mkdtemp(prefix="wirestream-bench-")), kafka_port=kafka_port,
        elasticsearch_port=es_port, http_port=http_port, extract_replicas=replicas,
        metrics_ports={"ingest": base, "langdetect": base + 1, "extract": base + 2, "index": base + 3},
    )
    stack.start_noida(config)
    try:
        processes = {}
        for replica in range(replicas):
            name = "extract" if replica == 0 else f"extract-{replica}"
            processes[name] = stack.start_service(config, "extract", replica)
        urls = {k: v for k, v in stack.health_urls(config).items() if k.startswith("extract")}
        deadline = time.monotonic() + 180
        while not all(stack.is_healthy(u) for u in urls.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("extract not healthy")
            time.sleep(0.5)
        bootstrap = f"127.0.0.1:{kafka_port}"
        consumer = KafkaConsumer("news.enriched", bootstrap_servers=bootstrap, group_id=None,
                                 auto_offset_reset="latest", enable_auto_commit=False)
        consumer.poll(1000)  # assignment before we produce
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024)
        wanted = {s.id for s in stories}
        started = time.perf_counter()
        for story in stories:
            record = encode_story(story)
            producer.send("news.detected", key=record.key, value=record.value, headers=record.headers)
        producer.flush()
        seen: set[str] = set()
        while seen < wanted and time.perf_counter() - started < 900:
            polled = consumer.poll(50)
            for records in polled.values():
                seen.update(r.key.decode() for r in records)
            if not polled:
                time.sleep(0.1)  # noida answers empty fetches at once: don't let the harness spin a core
        elapsed = time.perf_counter() - started
        busy = sum(_metric(url.replace("/healthz", "/metrics"), "wirestream_batch_processing_seconds_sum")
                   for url in urls.values())
        batches = sum(_metric(url.replace("/healthz", "/metrics"), "wirestream_batch_processing_seconds_count")
                      for url in urls.values())
        print(f"extract busy {busy:.2f}s in {batches:.0f} batches of {elapsed:.2f}s wall", flush=True)
        consumer.close()
        producer.close()
        if seen < wanted:
            raise RuntimeError(f"only {len(seen & wanted)} of {len(wanted)} stories came back")
        return elapsed
    finally:
        stack.down(config)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stories", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "extract_service.json"))
    args = parser.parse_args()
    stories = [s.model_copy(update={"id": f"bench-{i}"}) for i, s in enumerate(load_stories(args.stories))]
    if not stories:
        print("no shared data: skipped")
        return 0
    texts = [s.text for s in stories]
    raw = raw_spacy_seconds(texts, args.batch_size)
    service = service_seconds(stories, args.replicas)
    result = {
        "stories": len(stories),
        "extract_replicas": args.replicas,
        "raw_spacy_seconds": round(raw, 3),
        "service_seconds": round(service, 3),
        "raw_spacy_stories_per_s": round(len(stories) / raw, 1),
        "service_stories_per_s": round(len(stories) / service, 1),
        "ratio_service_over_raw": round(raw / service, 3),
        "note": "service time includes Kafka produce/consume through noida-db, decode/encode and the "
                "full Enricher; raw is nlp.pipe alone in one process",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
