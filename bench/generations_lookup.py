"""What keeping each story in one generation costs per bulk (issue 11 item 4).

    python bench/generations_lookup.py [--bulks 20] [--docs 500] [--out bench/results/generations_lookup.json]

noida-db (Elasticsearch protocol only) on a free port with a temporary data folder.
For 1, 2, 4 and 12 generations, stories are spread over the older ones, then bulks of
`--docs` stories (half updates of stored stories, half new ones) are written
(a) by the index writer with the generations router (one GET _alias and one realtime
mget of every id in every older generation, then the bulk) and (b) by the writer as it
was, straight into one index without lookup. Reported: median and p90 milliseconds per
bulk for each, the lookup's share, and the mget size. A benchmark, never asserted.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch  # noqa: E402

from services.index.generations import GenerationRouter  # noqa: E402
from services.index.writer import ElasticsearchWriter  # noqa: E402
from services.stack import noida_binary  # noqa: E402
from shared.contract import Story  # noqa: E402
from shared.generations import ensure_generations, rollover  # noqa: E402
from shared.settings import IndexSettings  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _story(story_id: str, version: int) -> Story:
    return Story(id=story_id, version=version, headline=f"Headline {story_id}",
                 body="Paragraph one of a wire story about markets and politics. " * 8, language="en")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def scenario(es: Elasticsearch, generations: int, bulks: int, docs: int) -> dict:
    alias = f"bench{generations}g{uuid.uuid4().hex[:6]}"
    settings = IndexSettings(index_alias=alias, index_write_alias=f"{alias}-write",
                             index_reenrich_alias=f"{alias}-reenrich", index_name=f"{alias}-000001",
                             rollover="off")
    ensure_generations(es, settings)
    stored: list[str] = []
    plain_writer = ElasticsearchWriter(es, f"{alias}-plain")
    es.indices.create(index=f"{alias}-plain")
    for _ in range(generations):
        batch = [f"s{len(stored) + i}" for i in range(docs)]
        ElasticsearchWriter(es, "unused", generations=GenerationRouter(es, settings)).write(
            [_story(i, 1) for i in batch])
        plain_writer.write([_story(i, 1) for i in batch])
        stored += batch
        rollover(es, settings, conditions=None)  # the stories now sit in older generations
    router = GenerationRouter(es, settings)
    routed_writer = ElasticsearchWriter(es, "unused", generations=router)
    routed, plain, plans, mget_docs = [], [], [], 0
    for number in range(bulks):
        updates = [_story(stored[(number * docs // 2 + i) % len(stored)], 2 + number) for i in range(docs // 2)]
        fresh = [_story(f"n{number}-{i}", 1) for i in range(docs - docs // 2)]
        batch = updates + fresh
        started = time.perf_counter()
        plan = router.plan(batch)
        plans.append(time.perf_counter() - started)
        mget_docs = len({s.id for s in batch}) * generations  # every id in every older generation
        started = time.perf_counter()
        report = routed_writer.write(batch)
        routed.append(time.perf_counter() - started)
        assert not report.rejected, report.rejected
        assert all(plan.target(s.id) != plan.write_index for s in updates)
        started = time.perf_counter()
        plain_writer.write(batch)
        plain.append(time.perf_counter() - started)
    ms = lambda seconds: round(seconds * 1000, 1)  # noqa: E731
    return {
        "generations_before_the_write_index": generations,
        "docs_per_bulk": docs,
        "bulks": bulks,
        "mget_docs_per_bulk": mget_docs,
        "routed_bulk_ms_median": ms(statistics.median(routed)),
        "routed_bulk_ms_p90": ms(_percentile(routed, 0.9)),
        "plain_bulk_ms_median": ms(statistics.median(plain)),
        "plain_bulk_ms_p90": ms(_percentile(plain, 0.9)),
        "lookup_ms_median": ms(statistics.median(plans)),
        "lookup_share_of_routed_median": round(statistics.median(plans) / statistics.median(routed), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bulks", type=int, default=20)
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--generations", default="1,2,4,12")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "generations_lookup.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        port = _free_port()
        up = subprocess.run([noida_binary(), "up", "--only", "elasticsearch", "--elasticsearch-port", str(port),
                             "--data-dir", data_dir], capture_output=True, text=True, timeout=120)
        if up.returncode != 0:
            print(up.stdout, up.stderr, file=sys.stderr)
            return 1
        try:
            es = Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=120)
            for _ in range(100):
                try:
                    es.info()
                    break
                except Exception:  # noqa: BLE001 - starting up
                    time.sleep(0.3)
            results = [scenario(es, int(n), args.bulks, args.docs) for n in args.generations.split(",")]
        finally:
            subprocess.run([noida_binary(), "down", "--data-dir", data_dir], capture_output=True, timeout=120)
    out = {"server": "noida-db (embedded default), one process, 2 shared cores",
           "note": "routed = GET _alias + mget of every id in every older generation + bulk; plain = bulk only",
           "scenarios": results}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
