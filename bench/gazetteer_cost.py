"""Learned-names matcher cost against the number of names it holds.

    python bench/gazetteer_cost.py [--sizes 1000 10000 50000] [--story-tokens 5000]

The worst case for a matcher keyed by first token: every name shares one first
token ("Saint Name123 Place"), and the story is that token over and over, each
followed by a word that completes no name. For each size N the benchmark learns
N such names into an empty Gazetteer (the shipped lists left out, so N is the
whole size) and then matches one story against them. It records the cost per
learned name, the cost per story token, and the matcher's own count of trie
steps per token (``Gazetteer.last_find_steps``, when the implementation has it).
Flat figures across sizes mean the cost does not grow with the number of names.
One run per size; wall time on a shared machine, so read the ratios, not the
microseconds. Writes bench/results/gazetteer.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # appended: PYTHONPATH may point at another checkout to compare

from services.extract.nlp import gazetteer  # noqa: E402


def names(count: int) -> list[str]:
    return [f"Saint Name{i} Place{i % 97}" for i in range(count)]


def worst_story(tokens: int) -> str:
    # Each "Saint" starts a walk (or a bucket scan) that no name completes.
    return " ".join("Saint Nobody" for _ in range(tokens // 2))


def measure(size: int, story_tokens: int) -> dict:
    g = gazetteer.Gazetteer(data_dir=None)
    to_learn = names(size)
    started = time.perf_counter()
    for name in to_learn:
        g.learn(name, "PERSON")
    learn_s = time.perf_counter() - started
    story = worst_story(story_tokens)
    started = time.perf_counter()
    found = g.find(story, 0)
    find_s = time.perf_counter() - started
    steps = getattr(g, "last_find_steps", None)
    return {
        "names": len(g),
        "learn_seconds": round(learn_s, 4),
        "learn_us_per_name": round(learn_s / size * 1e6, 2),
        "story_tokens": story_tokens,
        "match_seconds": round(find_s, 4),
        "match_us_per_token": round(find_s / story_tokens * 1e6, 3),
        "trie_steps_per_token": round(steps / story_tokens, 3) if steps is not None else None,
        "mentions_found": len(found),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--story-tokens", type=int, default=5000)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "gazetteer.json"))
    args = ap.parse_args()
    if max(args.sizes) > gazetteer.MAX_LEARNED:
        ap.error(f"sizes above MAX_LEARNED ({gazetteer.MAX_LEARNED}) would not be learned")
    runs = {}
    for size in args.sizes:
        runs[str(size)] = measure(size, args.story_tokens)
        print(f"{size:>6} names: learn {runs[str(size)]['learn_us_per_name']:8.2f} us/name, "
              f"match {runs[str(size)]['match_us_per_token']:9.3f} us/token, "
              f"steps/token {runs[str(size)]['trie_steps_per_token']}", flush=True)
    first, last = runs[str(args.sizes[0])], runs[str(args.sizes[-1])]
    result = {
        "case": "every name shares its first token; the story repeats that token, completing no name",
        "runs": runs,
        "ratio_learn_largest_over_smallest": round(last["learn_us_per_name"] / first["learn_us_per_name"], 2),
        "ratio_match_largest_over_smallest": round(last["match_us_per_token"] / first["match_us_per_token"], 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"implementation {gazetteer.__file__}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
