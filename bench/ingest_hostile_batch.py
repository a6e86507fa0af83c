"""The ingest HTTP API under one huge batch (issue 9 item 11), Kafka replaced by a recorder.

    python bench/ingest_hostile_batch.py [--items 265000] [--out bench/results/ingest_hostile_batch.json]

A JSON array of `--items` tiny stories (265,000 make about 4.5 MB, under the 5 MB body
limit) is POSTed while small stories are POSTed one after the other; reported: the big
request's status and time, how many small requests were started while it was in
progress and the slowest of them, and the growth of the process's peak RSS. Each
scenario runs in a fresh process so peaks do not mix. A benchmark, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def scenario(items: int) -> dict:
    from aiohttp.test_utils import TestClient, TestServer

    from shared.settings import IngestSettings
    from services.ingest.http_api import build_app

    class Recorder:
        try:
            from services.ingest.admission import StoryLimits
            limits = StoryLimits()
        except ImportError:  # the code before the fix had no limits
            limits = None

        def __init__(self):
            self.published = 0

        async def publish_async(self, stories, executor=None):
            self.published += len(stories)

    # As small as a story gets ({"body":"k3f"}, about 16 bytes each): 265,000 fit in 4.5 MB.
    big = json.dumps([{"body": _base36(i)} for i in range(items)], separators=(",", ":")).encode()
    small = json.dumps({"guid": "small", "source": "X", "headline": "Small", "body": "Story."}).encode()
    rss_before = _peak_rss_mb()

    async def run() -> dict:
        async with TestClient(TestServer(build_app(IngestSettings(), Recorder()))) as client:
            await client.post("/v1/items", data=small)  # warm up
            started = time.perf_counter()
            big_task = asyncio.create_task(client.post("/v1/items", data=big))
            small_times = []
            while not big_task.done():  # each small request is started while the big one is in progress
                t0 = time.perf_counter()
                response = await client.post("/v1/items", data=small)
                await response.read()
                small_times.append(time.perf_counter() - t0)
            response = await big_task
            body = await response.json()
            return {"big_status": response.status, "big_seconds": round(time.perf_counter() - started, 3),
                    "big_reason": body.get("error", {}).get("reason", "")[:120],
                    "small_started_meanwhile": len(small_times),
                    "slowest_small_seconds": round(max(small_times), 3) if small_times else None}

    result = asyncio.run(run())
    return {"items": items, "body_bytes": len(big), **result,
            "peak_rss_growth_mb": round(_peak_rss_mb() - rss_before, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=265_000)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "ingest_hostile_batch.json"))
    parser.add_argument("--scenario", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(scenario(args.items)))
        return
    runs = {}
    for name, items in (("hostile_batch", args.items), ("batch_at_item_cap", 1000)):
        out = subprocess.run([sys.executable, __file__, "--scenario", "--items", str(items)], cwd=REPO,
                             capture_output=True, text=True, check=True)
        runs[name] = json.loads(out.stdout.strip().splitlines()[-1])
    result = {"benchmark": "ingest HTTP API under one huge batch (Kafka replaced by a recorder)",
              "command": "python bench/ingest_hostile_batch.py", **runs}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
