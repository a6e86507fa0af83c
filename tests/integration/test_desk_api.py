"""The desk's API and `wirestream search` on the running stack (real noida-db, real services)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

from tests.integration.conftest import wait_until
from tests.integration.desk_fixtures import get_json, ingest_seeds

REPO = Path(__file__).resolve().parents[2]


def api(running_stack, path: str, **params) -> tuple[int, dict]:
    query = urlencode([(k, v) for k, values in params.items() for v in (values if isinstance(values, list) else [values])])
    return get_json(f"{running_stack.desk}{path}?{query}")


def test_seeds_are_found_by_query_by_entity_and_counted_once_across_languages(running_stack, es, seeds_dir):
    ids = ingest_seeds(running_stack, es, seeds_dir)
    status, body = api(running_stack, "/api/search", q='"Jun Seki"')
    assert status == 200
    assert ids["en"] in {hit["id"] for hit in body["hits"]}
    # One canonical key for Nissan in English and French stories: one facet entry, one filter.
    status, body = api(running_stack, "/api/search", entity="ORG:Nissan", q="Mitsubishi OR Seki", size=100)
    assert {ids["en"], ids["fr"]} <= {hit["id"] for hit in body["hits"]}
    status, facets = api(running_stack, "/api/facets", q="Mitsubishi OR Seki")
    nissan = [v for v in facets["facets"]["ORG"] if v["value"] == "nissan"]
    assert len(nissan) == 1 and nissan[0]["count"] >= 2 and nissan[0]["name"] == "Nissan"
    languages = {v["value"] for v in facets["facets"]["lang"]}
    assert {"en", "fr"} <= languages


def test_stories_without_a_headline_get_a_derived_title_everywhere(running_stack, es, seeds_dir):
    ids = ingest_seeds(running_stack, es, seeds_dir)
    status, story = get_json(f"{running_stack.desk}/api/story/{ids['en']}")
    assert status == 200
    assert story["headline"] == "" and story["title_derived"] is True
    assert story["title"].startswith("New coup at Nissan: Jun Seki")
    people = {e["text"] for e in story["entities"] if e["label"] == "PERSON"}
    assert "Jun Seki" in people
    status, body = api(running_stack, "/api/search", q='"Jun Seki"')
    hit = next(h for h in body["hits"] if h["id"] == ids["en"])
    assert hit["title_derived"] is True and hit["title"] == story["title"]
    # The CLI asks the same API and marks the derived title.
    result = subprocess.run([sys.executable, "-m", "services.cli", "search", '"Jun Seki"', "--desk", running_stack.desk],
                            capture_output=True, text=True, timeout=60, cwd=REPO, env=os.environ)
    assert result.returncode == 0, result.stderr
    assert ids["en"] in result.stdout and "~ New coup at Nissan" in result.stdout
    json_result = subprocess.run([sys.executable, "-m", "services.cli", "search", "Seki", "--lang", "en", "--json",
                                  "--desk", running_stack.desk], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert '"title_derived": true' in json_result.stdout
    refused = subprocess.run([sys.executable, "-m", "services.cli", "search", "nope:x", "--desk", running_stack.desk],
                             capture_output=True, text=True, timeout=60, cwd=REPO)
    assert refused.returncode == 1 and "unknown field 'nope'" in refused.stderr


def test_histogram_splits_by_language_and_params_are_validated(running_stack, es, seeds_dir):
    ingest_seeds(running_stack, es, seeds_dir)
    status, body = api(running_stack, "/api/histogram", q="Renault", split="lang")
    assert status == 200 and body["interval"] in ("hour", "day", "week", "month")
    assert sum(b["count"] for b in body["buckets"]) == body["total"] >= 2
    assert {"en", "fr"} <= set(body["languages"])
    for params, name in (({"size": 101}, "size"), ({"offset": 20000}, "offset"), ({"unknown": 1}, "unknown")):
        status, body = api(running_stack, "/api/search", **params)
        assert status == 400 and body["error"]["param"] == name


def test_pipeline_status_reports_every_service_and_the_count(running_stack, es, seeds_dir):
    ingest_seeds(running_stack, es, seeds_dir)

    def all_healthy_with_rates():
        status, body = get_json(f"{running_stack.desk}/api/pipeline")
        services = {s["name"]: s for s in body["services"]}
        ready = all(s["health"] == "ok" and s["rates"] is not None for s in services.values())
        # A scrape after the index service wrote the seeds (the desk reads every few seconds).
        counted = (services.get("index", {}).get("totals") or {}).get("out", 0) >= 2
        return body if ready and counted and {"ingest", "langdetect", "extract", "index"} <= set(services) else None

    body = wait_until(all_healthy_with_rates, timeout_s=90, what="every service healthy with rates on the desk")
    assert body["stories_indexed"] >= 2 and body["elasticsearch"]["error"] is None
    index = next(s for s in body["services"] if s["name"] == "index")
    assert index["totals"]["out"] >= 2  # the index service counted the stories it wrote
    assert index["latency"] is not None and index["latency"]["p50_s"] is not None
    assert sum(point["count"] for point in body["indexed_per_minute"]) >= 1
    status, letters = get_json(f"{running_stack.desk}/api/deadletters")
    assert status == 200 and letters["error"] is None and isinstance(letters["records"], list)
