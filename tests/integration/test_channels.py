"""Ingest channels besides HTTP: the drop folder, the bearer token, batches."""

from __future__ import annotations

import json
import uuid

from tests.integration.conftest import search_ids, wait_until


def test_drop_folder_ingests_good_files_and_explains_bad_ones(running_stack, es):
    drop = running_stack.drop_dir
    name = f"story-{uuid.uuid4().hex[:8]}"
    good = {"guid": f"urn:test:drop:{name}", "source": "TEST", "headline": "Dropped story",
            "body": "Filed through the drop folder."}
    (drop / f"{name}.json.tmp").write_text(json.dumps(good))
    (drop / f"{name}.json.tmp").rename(drop / f"{name}.json")
    (drop / f"{name}-bad.json").write_text('{"headline": ')

    wait_until(lambda: (drop / "done" / f"{name}.json").exists(), timeout_s=30, what="good file moved to done/")
    wait_until(lambda: (drop / "failed" / f"{name}-bad.json").exists(), timeout_s=30, what="bad file in failed/")
    reason = (drop / "failed" / f"{name}-bad.json.reason.txt").read_text()
    assert "malformed JSON" in reason
    es.indices.refresh(index="news")
    wait_until(lambda: es.count(index="news", query={"term": {"guid": good["guid"]}})["count"] == 1,
               timeout_s=60, what="the dropped story searchable")


def test_batch_post_accepts_good_items_and_names_bad_ones(running_stack, es):
    run = uuid.uuid4().hex[:8]
    batch = [{"guid": f"urn:test:batch:{run}:1", "source": "TEST", "headline": "One", "body": "First."},
             {"guid": f"urn:test:batch:{run}:2", "headline": 42},
             {"guid": f"urn:test:batch:{run}:3", "source": "TEST", "headline": "Three", "body": "Third."}]
    status, body = running_stack.post("/v1/items", json.dumps(batch).encode())
    assert status == 202
    assert len(body["accepted"]) == 2
    assert body["rejected"][0]["index"] == 1 and "headline" in body["rejected"][0]["reason"]
    ids = [item["id"] for item in body["accepted"]]
    wait_until(lambda: len(search_ids(es, ids)) == 2, timeout_s=60, what="both good batch items")


def test_oversized_and_binary_items_are_refused(running_stack):
    status, body = running_stack.post("/v1/items", b"\x00\x01\x02\x03" * 100, content_type="application/octet-stream")
    assert status == 415 and "binary" in body["error"]["reason"]
    status, body = running_stack.post("/v1/items", b"x" * 6_000_000, content_type="text/plain")
    assert status == 413
