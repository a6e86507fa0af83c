"""What noida-db's refreshes cost as the archive grows, and what the embedded stack does about it.

    python -m bench.noida_refresh [--stories 20000] [--out bench/results/noida_refresh.json]

Writes the same enriched stories (400 Reuters-21578 stories enriched once with the
extract stage's Enricher, repeated with unique ids; the bundled samples without
../shared/data) into a fresh noida-db per variant, as the index service does under
a steady load: bulks of 50 every 0.2 s (250 stories/s), a bulk asking for a refresh
when the last one is a second old. Three variants:

- `one_index_server_refresh`: one index, the server's own refresh on (its default
  1s): how the stack ran before decision 15's refresh section;
- `one_index_service_refresh_only`: one index, index.refresh_interval -1, so only the
  writer's refreshes happen;
- `generations_of_5000`: as the embedded stack runs now: refresh_interval -1, a new
  index every 5,000 stories, and a refresh names only the index written to.

For every 2,500 stories it records noida-db's CPU per story (from /proc), its RSS
and the bytes it wrote. Asserts nothing; the machine's other load is in `machine`.
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

from elasticsearch import Elasticsearch  # noqa: E402

from bench import e2e, procstat  # noqa: E402
from bench.index_vs_bulk import enriched_stories  # noqa: E402
from services import stack  # noqa: E402
from services.index.documents import story_document  # noqa: E402
from shared.contract import utcnow  # noqa: E402
from shared.elastic import story_mappings  # noqa: E402
from tests.integration.conftest import _free_port_block, _ports_outside_block  # noqa: E402

BULK, EVERY_S, STEP = 50, 0.2, 2500
VARIANTS = {
    "one_index_server_refresh": {"server_refresh": None, "generation_size": None},
    "one_index_service_refresh_only": {"server_refresh": "-1", "generation_size": None},
    "generations_of_5000": {"server_refresh": "-1", "generation_size": 5000},
}


def noida_reading(snapshot: procstat.Snapshot) -> tuple[float, float, float]:
    """(cpu seconds, rss MB, written MB) of noida-db at a snapshot."""
    readings = [r for r in snapshot.procs.values() if r.name == "noida-db"]
    return (sum(r.cpu_s for r in readings), sum(r.rss_kb for r in readings) / 1024,
            sum(r.write_bytes for r in readings) / 1e6)


def run_variant(name: str, server_refresh: str | None, generation_size: int | None, documents: list[dict],
                ids: list[str]) -> dict:
    base = _free_port_block()
    kafka_port, es_port = _ports_outside_block(base, 2)
    config = stack.StackConfig(run_dir=Path(tempfile.mkdtemp(prefix="wirestream-nr-")), kafka_port=kafka_port,
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
            index = f"nr-{first // generation_size:06d}" if generation_size else "nr-000000"
            if index not in created:
                settings = {"number_of_shards": 1, "number_of_replicas": 0}
                if server_refresh:
                    settings["refresh_interval"] = server_refresh
                es.indices.create(index=index, settings=settings, mappings=story_mappings())
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
        machine = procstat.usage(first_snapshot, sampler.snapshot(), sampler.series)["machine"]
        sampler.stop()
    finally:
        stack.stop_noida(config)
    return {"steps": steps, "indices": sorted(created), "seconds": round(time.monotonic() - started, 1),
            "machine": machine}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=20000)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "noida_refresh.json"))
    args = parser.parse_args(argv)
    stories = enriched_stories(400)
    now = utcnow()
    documents = [story_document(s, now) for s in stories]
    ids = [f"nr-{i}" for i in range(args.stories - args.stories % STEP)]
    result = {"stories": len(ids), "bulk_docs": BULK, "bulk_every_s": EVERY_S, "variants": {}}
    for name, variant in VARIANTS.items():
        result["variants"][name] = run_variant(name, variant["server_refresh"], variant["generation_size"],
                                               documents, ids)
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
