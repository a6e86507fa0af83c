"""The index service when Elasticsearch is down or refuses every write, and kills that
must win (issue 9 items 3, 4, 11c), against the real noida-db."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

from services import stack
from tests.integration.conftest import search_ids, stored_document, wait_until, write_index


def _probe(running_stack, path: str) -> tuple[int, dict]:
    url = stack.health_urls(running_stack.config)["index"].replace("/healthz", path)
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _post(running_stack, run: str, n: int, **fields) -> list[str]:
    ids = []
    for i in range(n):
        status, body = running_stack.post("/v1/items", json.dumps(
            {"guid": f"{run}-{i}", "source": "TEST", "headline": f"Downstream {run} {i}",
             "body": "Officials in Oslo said on Monday that the index would catch up.", **fields}).encode())
        assert status == 202, body
        ids.append(body["id"])
    return ids


def test_elasticsearch_down_is_not_ready_but_alive_and_recovers_by_itself(running_stack, es):
    config = running_stack.config
    stack.noida(config, "stop", "elasticsearch")
    try:
        ids = _post(running_stack, f"esdown-{uuid.uuid4().hex[:8]}", 3)
        ready = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(_probe(running_stack, "/readyz")),
                           timeout_s=120, what="index reporting not ready while Elasticsearch is down")
        assert "downstream" in ready[1]["reasons"], ready
        assert _probe(running_stack, "/healthz")[0] == 200, "waiting for Elasticsearch is not being dead"
    finally:
        stack.noida(config, "start", "elasticsearch")
    back = time.monotonic()
    wait_until(lambda: len(search_ids(es, ids)) == 3, timeout_s=120, what="the stories once Elasticsearch is back")
    print(f"searchable {time.monotonic() - back:.1f}s after Elasticsearch came back")
    wait_until(lambda: _probe(running_stack, "/readyz")[0] == 200, timeout_s=30, what="index ready again")


def test_a_write_block_holds_the_stream_instead_of_dead_lettering_it(running_stack, es, deadletters):
    blocked = write_index(es)
    es.indices.put_settings(index=blocked, settings={"index.blocks.write": True})
    try:
        ids = _post(running_stack, f"blocked-{uuid.uuid4().hex[:8]}", 4)
        ready = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(_probe(running_stack, "/readyz")),
                           timeout_s=120, what="index reporting the write block")
        assert "cluster_block_exception" in json.dumps(ready[1]) or "blocked" in json.dumps(ready[1])
    finally:
        es.indices.put_settings(index=blocked, settings={"index.blocks.write": False})
    wait_until(lambda: len(search_ids(es, ids)) == 4, timeout_s=120, what="the held stories once unblocked")
    assert not [d for d in deadletters() if d.get("story_id") in ids], "nothing dead-lettered for a write block"


def test_a_kill_notice_without_a_version_hides_a_later_version(running_stack, es):
    run = f"kill-{uuid.uuid4().hex[:8]}"
    status, body = running_stack.post("/v1/items", json.dumps(
        {"guid": run, "source": "TEST", "version": 3, "headline": f"To be killed {run}",
         "body": "Officials in Lima said on Monday that this story would be withdrawn."}).encode())
    assert status == 202
    story_id = body["id"]
    wait_until(lambda: search_ids(es, [story_id]), timeout_s=120, what="version 3 searchable")
    status, _ = running_stack.post("/v1/items", json.dumps(
        {"guid": run, "source": "TEST", "pub_status": "canceled"}).encode())
    assert status == 202
    wait_until(lambda: not search_ids(es, [story_id]), timeout_s=120, what="the killed story hidden")
    stored = stored_document(es, story_id)
    assert stored["_source"]["pub_status"] == "canceled" and stored["_version"] == 4
    # The provider sends version 3 again: it must not bring the killed text back.
    stale_before = running_stack.metric("index", "wirestream_stale_versions_total")
    status, _ = running_stack.post("/v1/items", json.dumps(
        {"guid": run, "source": "TEST", "version": 3, "headline": f"To be killed {run}",
         "body": "Officials in Lima said on Monday that this story would be withdrawn."}).encode())
    assert status == 202
    wait_until(lambda: running_stack.metric("index", "wirestream_stale_versions_total") > stale_before,
               timeout_s=120, what="the resent version 3 refused as stale")
    assert not search_ids(es, [story_id]), "the kill still wins"
