"""What the shape of the entity fields costs noida-db: nested objects against flat fields.

    python -m bench.entity_shape [--stories 20000] [--out bench/results/entity_shape.json]

Writes the same enriched stories (400 Reuters-21578 stories enriched once with the
extract stage's Enricher, repeated with unique ids; the bundled samples without
../shared/data) into a fresh noida-db per shape, as the embedded stack's index service
does under a steady load: bulks of 50 every 0.2 s (250 stories/s), a generation of
2,500 stories at a time, index.refresh_interval -1 and a refresh of the written
generation when the last one is a second old. Two shapes:

- `nested`: the document before decision 16, an `entities` list of objects mapped
  `nested` (text, label, key, count, offsets, method, value);
- `flat`: the document the index service writes now (services/index/documents.py):
  `entity_keys.<LABEL>`, `entity_names.<LABEL>` and the list as one JSON string.

For every 2,500 stories it records noida-db's CPU per story, its RSS and the bytes it
wrote, and at the end the mean JSON size of a document. Asserts nothing; the
machine's other load is in `machine`.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch  # noqa: E402

from bench import e2e, procstat  # noqa: E402
from bench.index_vs_bulk import enriched_stories  # noqa: E402
from bench.noida_refresh import BULK, EVERY_S, STEP, noida_reading  # noqa: E402
from services import stack  # noqa: E402
from services.index.documents import story_document  # noqa: E402
from shared.contract import Story, utcnow  # noqa: E402
from shared.elastic import story_mappings  # noqa: E402
from tests.integration.conftest import _free_port_block, _ports_outside_block  # noqa: E402

GENERATION = 2500

# The entity mapping before decision 16, kept here only to measure against.
NESTED_ENTITIES = {
    "type": "nested",
    "properties": {
        "text": {"type": "keyword", "ignore_above": 1024},
        "label": {"type": "keyword"},
        "key": {"type": "keyword", "ignore_above": 1024},
        "count": {"type": "integer"},
        "method": {"type": "keyword"},
        "value": {"type": "keyword", "ignore_above": 1024},
        "offsets": {"type": "integer", "index": False},
    },
}


def nested_mappings() -> dict:
    mappings = copy.deepcopy(story_mappings())
    for field in ("entity_keys", "entity_names"):
        del mappings["properties"][field]
    mappings["properties"]["entities"] = NESTED_ENTITIES
    return mappings


def nested_document(story: Story, indexed_at) -> dict:
    """The document as the index service wrote it before decision 16."""
    doc = {k: v for k, v in story_document(story, indexed_at).items()
           if k not in ("entity_keys", "entity_names", "entity_list")}
    doc["entities"] = [{**e.model_dump(mode="json"), "offsets": [v for pair in e.offsets for v in pair]}
                       for e in story.entities]
    return doc


SHAPES = {"nested": (nested_mappings, nested_document), "flat": (story_mappings, story_document)}


def run_shape(name: str, documents: list[dict], mappings: dict, ids: list[str]) -> dict:
    base = _free_port_block()
    kafka_port, es_port = _ports_outside_block(base, 2)
    config = stack.StackConfig(run_dir=Path(tempfile.mkdtemp(prefix="wirestream-es-")), kafka_port=kafka_port,
                               elasticsearch_port=es_port, metrics_ports={})
    stack.start_noida(config)
    es = Elasticsearch(f"http://127.0.0.1:{es_port}", request_timeout=120)
    sampler = procstat.Sampler(discover=e2e.stack_processes(config), interval_s=1.0).start()
    steps, created, last_refresh = [], set(), float("-inf")
    try:
        first_snapshot = sampler.snapshot()
        before = noida_reading(first_snapshot)
        started = time.monotonic()
        for first in range(0, len(ids), BULK):
            index = f"es-{first // GENERATION:06d}"
            if index not in created:
                es.indices.create(index=index, mappings=mappings, settings={
                    "number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"})
                created.add(index)
            operations = []
            for i in range(first, min(first + BULK, len(ids))):
                operations.append({"index": {"_index": index, "_id": ids[i]}})
                operations.append(documents[i % len(documents)])
            refresh = time.monotonic() - last_refresh >= 1.0
            response = es.bulk(operations=operations, refresh="true" if refresh else "false")
            if response["errors"]:
                raise RuntimeError(f"bulk refused documents: {response['items'][:1]}")
            if refresh:
                last_refresh = time.monotonic()
            time.sleep(EVERY_S)
            done = first + BULK
            if done % STEP == 0:
                now = noida_reading(sampler.snapshot())
                steps.append({"stories": done, "noida_cpu_ms_per_story": round(1000 * (now[0] - before[0]) / STEP, 3),
                              "noida_rss_mb": round(now[1], 1), "noida_written_mb_total": round(now[2], 1)})
                print(name, steps[-1], flush=True)
                before = now
        seconds = round(time.monotonic() - started, 1)
        machine = procstat.usage(first_snapshot, sampler.snapshot(), sampler.series)["machine"]
        sampler.stop()
    finally:
        stack.stop_noida(config)
    total_cpu_ms = sum(step["noida_cpu_ms_per_story"] * STEP for step in steps)
    return {"steps": steps, "noida_cpu_ms_per_story_mean": round(total_cpu_ms / len(ids), 3),
            "document_json_bytes_mean": round(sum(len(json.dumps(d)) for d in documents) / len(documents)),
            "generations": len(created), "seconds": seconds, "machine": machine}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=20000)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "entity_shape.json"))
    args = parser.parse_args(argv)
    stories = enriched_stories(400)
    now = utcnow()
    ids = [f"es-{i}" for i in range(args.stories - args.stories % STEP)]
    result = {"stories": len(ids), "bulk_docs": BULK, "bulk_every_s": EVERY_S, "generation_size": GENERATION,
              "entities_per_story_mean": round(sum(len(s.entities) for s in stories) / len(stories), 1),
              "shapes": {}}
    for name, (mappings, document) in SHAPES.items():
        result["shapes"][name] = run_shape(name, [document(s, now) for s in stories], mappings(), ids)
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
