"""`make screenshots`: the desk's search, story and pipeline pages as PNGs in docs/img/.

Starts its own stack on free ports (never the default ones) in a temporary folder,
ingests the bundled samples and the seed stories (../shared/data/seeds, when present),
waits until they are searchable and the pipeline page has rates, takes the pictures
in headless Chromium and stops everything it started.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from elasticsearch import Elasticsearch

from services import stack
from services.ingest.files import ingest_paths
from services.ingest.publisher import StoryPublisher
from services.search_report import wait_for_ids
from shared.settings import IngestSettings
from tests.integration.conftest import _free_port_block, _ports_outside_block
from tools.chromium import launch, missing_reason

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "img"
SAMPLES = REPO / "services" / "ingest" / "samples"
VIEWPORT = {"width": 1280, "height": 940}


def shared_seeds() -> Path | None:
    seeds = Path(os.environ.get("WIRESTREAM_SHARED_DATA", REPO.parent / "shared" / "data")) / "seeds"
    return seeds if seeds.is_dir() else None


def start_stack() -> stack.StackConfig:
    base = _free_port_block()
    kafka_port, es_port, http_port, desk_port = _ports_outside_block(base, 4)
    config = stack.StackConfig(
        run_dir=Path(tempfile.mkdtemp(prefix="wirestream-screenshots-")), kafka_port=kafka_port,
        elasticsearch_port=es_port, http_port=http_port, desk_port=desk_port, extract_replicas=1,
        metrics_ports={"ingest": base, "langdetect": base + 1, "extract": base + 2, "index": base + 3, "desk": base + 4},
        extra_env={"WIRESTREAM_DESK_POLL_S": "2"},
    )
    print(f"starting a stack in {config.run_dir} (desk on :{desk_port})", flush=True)
    stack.up(config)
    return config


def ingest(config: stack.StackConfig) -> tuple[set[str], str | None]:
    paths = [SAMPLES] + ([shared_seeds()] if shared_seeds() else [])
    settings = IngestSettings(kafka_bootstrap=f"127.0.0.1:{config.kafka_port}")
    publisher = StoryPublisher(settings, client_id="wirestream-screenshots")
    try:
        summary = ingest_paths(paths, publisher, settings.max_item_bytes, show_progress=False)
    finally:
        publisher.close()
    print("\n".join(summary.lines()), flush=True)
    es = Elasticsearch(f"http://127.0.0.1:{config.elasticsearch_port}")
    found = wait_for_ids(es, "news", summary.visible_ids, timeout_s=300)
    print(f"{found} of {len(summary.visible_ids)} stories searchable", flush=True)
    seed = None
    if shared_seeds():
        hits = es.search(index="news", query={"match_phrase": {"body": "Jun Seki"}}, size=1)["hits"]["hits"]
        seed = hits[0]["_id"] if hits else None
    return summary.visible_ids, seed


def wait_for_rates(desk: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{desk}/api/pipeline", timeout=10) as response:
            services = json.load(response)["services"]
        if services and all(s["health"] == "ok" and s["rates"] is not None for s in services):
            return
        time.sleep(1)


def shoot(desk: str, story_id: str | None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    shots = [("desk-search.png", "/?q=Nissan+OR+Renault+OR+Bundestag+OR+dpa&split=lang", '#attention[data-drawn="1"]'),
             ("desk-pipeline.png", "/pipeline", '#indexed-chart[data-drawn="1"]')]
    if story_id:
        shots.insert(1, ("desk-story.png", f"/story/{story_id}", None))
    written = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        for name, path, ready in shots:
            page.goto(desk + path, wait_until="networkidle")
            if ready:
                page.wait_for_selector(ready, timeout=30_000)
            page.screenshot(path=str(OUT / name))
            written.append(OUT / name)
        browser.close()
    return written


def main() -> int:
    reason = missing_reason()
    if reason:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 2
    config = start_stack()
    try:
        _, seed = ingest(config)
        desk = f"http://127.0.0.1:{config.desk_port}"
        wait_for_rates(desk)
        for path in shoot(desk, seed):
            print(f"wrote {path.relative_to(REPO)}")
        if seed is None:
            print("no seed stories (../shared/data/seeds): the story page was not taken", file=sys.stderr)
    finally:
        stack.down(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
