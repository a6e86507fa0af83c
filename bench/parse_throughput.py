"""Wire-format parsing: throughput on Reuters-21578 and how many shared samples parse per format.

    python bench/parse_throughput.py [--repeat 3]

Writes bench/results/parse.json. Skips (exit 0) when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.ingest.formats import InputError, detect_format, parse_bytes  # noqa: E402

DATA = Path(os.environ.get("WIRESTREAM_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE_SETS = ["wire_agency_samples", "newsml-g2_iptc_examples", "ninjs_iptc_examples",
               "dpa_digitalwires_json_and_newsmlg2", "rss_atom_feeds_feed-rs", "reuters21578"]
NOT_SAMPLES = {"PROVENANCE.txt", "MANIFEST.tsv", "README.txt", "lewis.dtd"}


def sample_files() -> list[Path]:
    files = []
    for name in SAMPLE_SETS:
        for path in sorted((DATA / name).rglob("*")):
            if path.is_file() and path.name not in NOT_SAMPLES and not path.name.startswith("_") \
                    and "expected_parse" not in path.parts and path.suffix not in (".md", ".toml"):
                files.append(path)
    return files


def per_format_counts() -> dict[str, dict[str, int]]:
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for path in sample_files():
        data = path.read_bytes()
        fmt = detect_format(data)
        try:
            result = parse_bytes(data, max_bytes=20_000_000)
            ok = any(s.headline or s.body for s in result.stories)
            counts[fmt]["files_with_stories" if ok else "files_without_text"] += 1
            counts[fmt]["stories"] += len(result.stories)
        except InputError:
            counts[fmt]["files_refused_with_reason"] += 1
        counts[fmt]["files"] += 1
    return {fmt: dict(counter) for fmt, counter in sorted(counts.items())}


def reuters_throughput(repeat: int) -> dict[str, float]:
    data = (DATA / "reuters21578" / "reut2-000.sgm").read_bytes()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = parse_bytes(data, max_bytes=20_000_000)
        times.append(time.perf_counter() - started)
    best = min(times)
    return {"stories": len(result.stories), "best_seconds": round(best, 4),
            "stories_per_s": round(len(result.stories) / best, 1), "all_seconds": [round(t, 4) for t in times]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "parse.json"))
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"no shared data at {DATA}: skipped")
        return 0
    result = {"reut2_000": reuters_throughput(args.repeat), "per_format": per_format_counts()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
