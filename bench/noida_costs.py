"""What searches, refreshes and gets cost noida-db as the index grows.

    python -m bench.noida_costs [--sizes 500,1500,3000] [--out bench/results/noida_costs.json]

Starts the stack as bench/e2e.py does, fills the index through the pipeline (so
the documents are what the index service writes: enriched Reuters-21578 stories)
up to each size, and then, with nothing else arriving, calls each request every
0.1 s for --seconds and records noida-db's CPU per call (from /proc):

  refresh_nothing_new   POST news-v1/_refresh with no new document
  refresh_35_new        one _refresh after 35 new stories were indexed (about 1 s of half load)
  search_match_none     a search that matches nothing, size 0 (the cheapest search)
  search_ids_alias      an ids search for 20 stories on the alias `news`
  mget_realtime_false   a get of 20 ids with realtime=false (sees what searches see)

Why it matters: bench/e2e.py polls with gets, not searches, because of these
figures, and a refresh policy for the index stage (refresh on a bulk) pays
refresh_* per bulk. Asserts nothing; the machine's other load is in `machine`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import e2e, procstat  # noqa: E402


def noida_cpu(snapshot: procstat.Snapshot) -> float:
    return sum(r.cpu_s for r in snapshot.procs.values() if r.name == "noida-db")


def cost_per_call(sampler: procstat.Sampler, call, seconds: float) -> dict:
    first, calls = sampler.snapshot(), 0
    while calls == 0 or time.monotonic() - first.t < seconds:
        call()
        calls += 1
        time.sleep(0.1)
    last = sampler.snapshot()
    cpu = noida_cpu(last) - noida_cpu(first)
    return {"calls": calls, "noida_cpu_ms_per_call": 1000 * cpu / calls,
            "other_cores": procstat.usage(first, last, sampler.series)["machine"]["other_cores"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500,1500,3000")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "noida_costs.json"))
    args = parser.parse_args()
    _, base = e2e.base_stories()
    result: dict = {"sizes": {}}
    with e2e.fresh_stack() as config:
        e2e.warm_up(config, base)
        sampler = procstat.Sampler(e2e.stack_processes(config)).start()
        es, ingest, index = e2e.Search(config).es, e2e.Ingest(config), e2e.INDEX.index_name
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                have = es.count(index=index)["count"]
                if size > have:
                    e2e.throughput(config, sampler, e2e.envelopes(base, size - have, f"COST-{size}"), 100)
                time.sleep(2)
                ids = [hit["_id"] for hit in es.search(index=index, size=20, source=False)["hits"]["hits"]]
                figures = {
                    "stories_in_index": es.count(index=index)["count"],
                    "refresh_nothing_new": cost_per_call(sampler, lambda: es.indices.refresh(index=index),
                                                         args.seconds),
                    "search_match_none": cost_per_call(sampler, lambda: es.search(
                        index=index, query={"match_none": {}}, size=0, track_total_hits=False), args.seconds),
                    "search_ids_alias": cost_per_call(sampler, lambda: es.search(
                        index=e2e.INDEX.index_alias, query={"ids": {"values": ids}}, size=20, source=False),
                        args.seconds),
                    "mget_realtime_false": cost_per_call(sampler, lambda: es.mget(
                        index=index, ids=ids, realtime=False, source=False), args.seconds),
                }
                written = e2e.indexed_counter(config)
                target = written() + 35
                ingest.post(e2e.envelopes(base, 35, f"NEW-{size}"))
                while written() < target:
                    time.sleep(0.2)
                figures["refresh_35_new"] = cost_per_call(sampler, lambda: es.indices.refresh(index=index), 0)
                result["sizes"][str(size)] = figures
                print(json.dumps({size: {k: v if not isinstance(v, dict) else round(v["noida_cpu_ms_per_call"], 1)
                                         for k, v in figures.items()}}), flush=True)
        finally:
            sampler.stop()
    out = Path(args.out)
    out.write_text(json.dumps(e2e.rounded(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
