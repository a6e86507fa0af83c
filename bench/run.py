"""`make bench`: every benchmark in one run, figures written to bench/results/*.json.

Benchmarks never assert timings (the machines are shared and noisy); they
record figures, and ratios are measured within one run so the noise cancels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = [
    ("parse", ["parse_throughput.py"]),
    ("extract", ["extract_throughput.py"]),
    # Learned-names matcher: learn and match cost against the number of names (worst case).
    ("gazetteer", ["gazetteer_cost.py"]),
    # The service as deployed (one extract process per core) and a single process, each vs raw spaCy.
    ("extract_service_1_replica", ["extract_service_throughput.py", "--replicas", "1", "--stories", "400",
                                   "--out", "bench/results/extract_service_1_replica.json"]),
    ("extract_service_2_replicas", ["extract_service_throughput.py", "--replicas", "2", "--stories", "400",
                                    "--out", "bench/results/extract_service_2_replicas.json"]),
    ("ingest_hostile_batch", ["ingest_hostile_batch.py"]),
    # The desk's search API vs the same query straight to Elasticsearch (1k and 5k stories), page weight.
    ("desk", ["desk_overhead.py", "--out", "bench/results/desk.json"]),
    # The index service against raw helpers.bulk of the same enriched documents into the same server.
    ("index_vs_bulk", ["index_vs_bulk.py"]),
    # The whole pipeline as `make run` starts it: stories/s into `news`, latency, CPU and memory per process.
    ("e2e", ["e2e.py"]),
    # What noida-db's searches, refreshes and gets cost as the index grows (why e2e polls with gets).
    ("noida_costs", ["noida_costs.py"]),
    # noida-db's refresh cost as the archive grows: one index against generations of 5,000 (decision 15).
    ("noida_refresh", ["noida_refresh.py"]),
    # noida-db's cost of nested entity objects against the flat entity fields (decision 16).
    ("entity_shape", ["entity_shape.py"]),
    # The index writer's per-bulk lookup that keeps each story in one generation, by generation count.
    ("generations_lookup", ["generations_lookup.py"]),
]


def main() -> int:
    failed = []
    for name, command in SCRIPTS:
        script = BENCH / command[0]
        if not script.exists():
            print(f"== {name}: {script.name} not present, skipped")
            continue
        print(f"== {name}: {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, str(script), *command[1:]], cwd=BENCH.parent).returncode != 0:
            failed.append(name)
    summary = {}
    for result in sorted((BENCH / "results").glob("*.json")):
        summary[result.stem] = json.loads(result.read_text())
    (BENCH / "results" / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"figures in {BENCH / 'results'}; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
