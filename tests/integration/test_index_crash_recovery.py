"""SIGKILL the index service in the middle of a few hundred stories: each is indexed exactly once."""

from __future__ import annotations

import json
import signal
import uuid

from tests.integration.conftest import stored_indices, uncommitted, wait_until

STORIES = 300


def test_index_killed_mid_stream_indexes_every_story_exactly_once(running_stack, es, producer):
    def send(run: str) -> list[str]:
        ids = [f"crash-{run}-{i:04d}" for i in range(STORIES)]
        # Straight onto news.enriched: this test is about the index service, not NLP.
        for story_id in ids:
            envelope = {"id": story_id, "guid": story_id, "source": "TEST", "headline": f"Crash test {run}",
                        "body": f"Story {story_id}.", "language": "en"}
            producer.send("news.enriched", key=story_id.encode(), value=json.dumps(envelope).encode(),
                          headers=[("schema-version", b"1")])
        producer.flush()
        return ids

    def indexed() -> int:
        es.indices.refresh(index=stored_indices(es))
        return es.count(index=stored_indices(es), query={"term": {"headline.keyword": f"Crash test {run}"}})["count"]

    # Kill as soon as the first bulk writes landed, before all of them did. Bulks of 25 (the
    # test stack's WIRESTREAM_BULK_MAX_DOCS): a kill after the first ones leaves work undone,
    # else this test would not test a crash at all. An index service that wrote all of them
    # between two looks is killed anyway and the test sends a new run.
    for attempt in range(3):
        run = uuid.uuid4().hex[:8]
        ids = send(run)
        wait_until(lambda: indexed() > 0, timeout_s=60, interval_s=0.05, what="first stories indexed")
        old_pid = running_stack.kill("index", signal.SIGKILL)
        partial = indexed()
        if partial < STORIES:
            break
        running_stack.wait_restarted("index", old_pid)
    assert 0 < partial < STORIES, f"killed with {partial} of {STORIES} indexed, three times: not mid-stream"

    running_stack.wait_restarted("index", old_pid)  # the supervisor restarts it
    wait_until(lambda: indexed() >= STORIES, timeout_s=120, what=f"all {STORIES} stories indexed")

    es.indices.refresh(index=stored_indices(es))
    response = es.search(index=stored_indices(es), size=0, query={"term": {"headline.keyword": f"Crash test {run}"}},
                         aggs={"ids": {"cardinality": {"field": "id"}}})
    assert response["hits"]["total"]["value"] == STORIES
    assert response["aggregations"]["ids"]["value"] == STORIES
    found = {hit["_id"] for hit in es.search(index=stored_indices(es), size=STORIES,
                                             query={"term": {"headline.keyword": f"Crash test {run}"}})["hits"]["hits"]}
    assert found == set(ids)
    # Exactly-once in the index comes from the deterministic _id; this checks the other
    # half: the restarted consumer committed what it wrote (a sink that never
    # committed would also index everything, by replaying it on every start).
    wait_until(lambda: uncommitted(running_stack, "wirestream-index", "news.enriched") == 0,
               timeout_s=60, what="index's offsets committed up to the end of news.enriched")
    print(f"indexed before SIGKILL: {partial} of {STORIES}")
