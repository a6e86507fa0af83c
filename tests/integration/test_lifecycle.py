"""Index lifecycle end to end on the embedded default (issue 11 items 4-6): adopting a
pre-generations `news-v1`, rollover with every story kept in one generation, the
index service's own rollover check, reenrich with a changed rule while stories keep
arriving and searches keep running, and snapshots.

This module runs its own stack (noida-db + the four services on free ports), so its
rollovers and swaps never move the session stack's aliases under other tests. The
tests build on each other in file order, as an operator's day would. Only German
stories: the changed rule is a name list (WIRESTREAM_EXTRA_NAMES), which extract
matches in languages without an NER model, and no spaCy model has to load.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from services import stack
from services.index.generations import GenerationRouter
from services.stack import StackConfig
from shared.contract import Story, story_id
from shared.elastic import VISIBLE_NOW, stored_entities, story_mappings
from shared.generations import all_generations, read_state
from shared.settings import IndexSettings
from tests.integration.conftest import Stack, _dump_logs, _free_port_block, _ports_outside_block, wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NEW_NAME = "Quorvex Holding"  # in no shipped list: only the reenrich's extra list knows it
SETTINGS = IndexSettings()


@pytest.fixture(scope="module")
def life(tmp_path_factory) -> Stack:
    base = _free_port_block()
    kafka_port, es_port, http_port = _ports_outside_block(base, 3)
    run_dir = tmp_path_factory.mktemp("lifecycle")
    config = StackConfig(
        run_dir=run_dir, kafka_port=kafka_port, elasticsearch_port=es_port, http_port=http_port,
        metrics_ports={"ingest": base, "langdetect": base + 1, "extract": base + 2, "index": base + 3},
        # Rollovers here happen when a test asks for them; the service's own check is tested in-process.
        extra_env={"WIRESTREAM_LOG_LEVEL": "INFO", "WIRESTREAM_ROLLOVER": "off", "WIRESTREAM_BULK_MAX_DOCS": "50"},
    )
    try:
        stack.start_servers(config)
        _create_legacy_index(Elasticsearch(f"http://127.0.0.1:{es_port}"))
        stack.start_services(config)
        stack.wait_healthy(config)
    except Exception:
        _dump_logs(run_dir)
        stack.down(config)
        raise
    yield Stack(config)
    stack.down(config)


LEGACY_GUID = "urn:test:legacy:1"


def _create_legacy_index(es: Elasticsearch) -> None:
    """What a deployment from before generations has: the template, `news-v1` and the read
    alias, no write alias, and a story written the way the old index service wrote it."""
    es.indices.put_index_template(name="news", index_patterns=["news-*"], priority=100,
                                  template={"settings": {"number_of_shards": 1}, "mappings": story_mappings()})
    es.indices.create(index="news-v1")
    es.indices.put_alias(index="news-v1", name="news", filter=VISIBLE_NOW)
    legacy = Story(id=story_id("LEGACY", LEGACY_GUID), guid=LEGACY_GUID, source="LEGACY", version=1,
                   headline="Alte Meldung aus Bremen", body="Der Hafen in Bremen meldet mehr Umschlag.", language="de")
    es.index(index="news-v1", id=legacy.id, version=1, version_type="external_gte",
             document=legacy.model_dump(mode="json", exclude={"schema_version"}), refresh=True)


# -- helpers ---------------------------------------------------------------------------------

def _es(life: Stack) -> Elasticsearch:
    return Elasticsearch(life.es_url)


def _cli(life: Stack, *args: str, extra_env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, **life.config.env, **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _german(marker: str) -> dict:
    return {"headline": f"{NEW_NAME} baut neues Werk in Sachsen ({marker})",
            "body": f"Die {NEW_NAME} hat am Montag angekündigt, ein neues Werk in der Nähe von Leipzig zu "
                    "errichten. Der Vorstand rechnet mit mehreren hundert Arbeitsplätzen, die Bauarbeiten "
                    f"sollen im Frühjahr beginnen. Kennung {marker}."}


def _post(life: Stack, guid: str, source: str = "TEST", **fields) -> str:
    status, body = life.post("/v1/items", json.dumps({"guid": guid, "source": source, **fields}).encode())
    assert status == 202, body
    return body["id"]


def _hits(es: Elasticsearch, ids: list[str], index: str = "news") -> list[dict]:
    return es.search(index=index, query={"ids": {"values": ids}}, size=max(10, 2 * len(ids)),
                     version=True)["hits"]["hits"]


def _visible(es: Elasticsearch, ids: list[str]) -> dict[str, dict]:
    es.indices.refresh(index="news")
    return {hit["_id"]: hit for hit in _hits(es, ids)}


def _where(es: Elasticsearch, story: str) -> dict[str, int]:
    """{generation: stored version} of every copy of a story, hidden or not."""
    docs = [{"_index": index, "_id": story} for index in all_generations(es, SETTINGS)]
    return {doc["_index"]: doc["_version"] for doc in es.mget(docs=docs)["docs"] if doc.get("found")}


def _entity_texts(hit: dict) -> set[str]:
    return {entity["text"] for entity in stored_entities(hit["_source"])}


# -- item 4: generations ---------------------------------------------------------------------

def test_an_existing_news_v1_is_adopted_and_keeps_taking_stories(life):
    es = _es(life)
    state = read_state(es, SETTINGS)
    assert state.write_index == "news-v1" and state.live == ["news-v1"]
    assert all_generations(es, SETTINGS) == ["news-v1"], "no new index beside the adopted one"
    legacy = _post(life, LEGACY_GUID, source="LEGACY", version=2, **_german("legacy v2"))
    assert legacy == story_id("LEGACY", LEGACY_GUID)
    wait_until(lambda: _visible(es, [legacy]).get(legacy, {}).get("_version") == 2, timeout_s=120,
               what="the legacy story's v2 through the read alias")
    fresh = _post(life, f"urn:test:adopt:{uuid.uuid4()}", **_german("nach dem Upgrade"))
    wait_until(lambda: fresh in _visible(es, [fresh]), timeout_s=120, what="a new story after the upgrade")
    assert _where(es, legacy) == {"news-v1": 2} and _where(es, fresh) == {"news-v1": 1}


def test_after_a_rollover_each_story_stays_in_the_generation_that_holds_it(life):
    es = _es(life)
    rolled = _cli(life, "rollover", "--now")
    assert rolled.returncode == 0, rolled.stderr
    assert "news-v1 -> news-000002" in rolled.stdout
    assert read_state(es, SETTINGS).live == ["news-v1", "news-000002"]
    legacy = story_id("LEGACY", LEGACY_GUID)

    # A newer version of a story in the old generation lands there, not beside it.
    _post(life, LEGACY_GUID, source="LEGACY", version=3, **_german("legacy v3"))
    new = _post(life, f"urn:test:rollover:{uuid.uuid4()}", **_german("neue Generation"))
    wait_until(lambda: _visible(es, [legacy]).get(legacy, {}).get("_version") == 3 and new in _visible(es, [new]),
               timeout_s=120, what="v3 of the legacy story and a new story")
    assert _where(es, legacy) == {"news-v1": 3}
    assert _where(es, new) == {"news-000002": 1}
    assert [hit["_index"] for hit in _hits(es, [legacy, new])] .count("news-v1") == 1
    assert len(_hits(es, [legacy, new])) == 2, "the read alias shows each story once"

    # A kill without a version finds the story's version in the old generation and hides it there.
    _post(life, LEGACY_GUID, source="LEGACY", pub_status="canceled")
    wait_until(lambda: legacy not in _visible(es, [legacy]), timeout_s=120, what="the killed legacy story hidden")
    assert _where(es, legacy) == {"news-v1": 4}, "there, one above the stored version"
    stored = es.get(index="news-v1", id=legacy)["_source"]
    assert stored["pub_status"] == "canceled"

    listing = _cli(life, "generations")
    assert listing.returncode == 0
    assert "news-v1" in listing.stdout and "news-000002" in listing.stdout and "write + read" in listing.stdout


def test_the_index_services_rollover_check_uses_the_conditions_on_the_real_server(life):
    es = _es(life)
    before = read_state(es, SETTINGS).write_index
    never = GenerationRouter(es, IndexSettings(rollover_max_age=None, rollover_max_primary_shard_size=None,
                                               rollover_max_docs=10_000_000, rollover_check_s=0.001),
                             rollover_enabled=True)
    time.sleep(0.01)
    assert never.plan([Story(id="probe", headline="x", body="y")]).write_index == before
    es.indices.refresh(index=before)
    due = GenerationRouter(es, IndexSettings(rollover_max_age=None, rollover_max_primary_shard_size=None,
                                             rollover_max_docs=1, rollover_check_s=0.001), rollover_enabled=True)
    time.sleep(0.01)
    after = due.plan([Story(id="probe", headline="x", body="y")]).write_index
    assert after != before and after == "news-000003"
    assert read_state(es, SETTINGS).live == ["news-v1", "news-000002", "news-000003"]


# -- item 5: reenrich ------------------------------------------------------------------------

class Poller(threading.Thread):
    """Searches the read alias over and over, as people do (no refresh): records any
    duplicate id and any story that vanished after it had been seen."""

    def __init__(self, es: Elasticsearch, ids: list[str], excluded: set[str]):
        super().__init__(daemon=True)
        self.es, self.ids, self.excluded = es, ids, excluded
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.violations: list[str] = []
        self.polls = 0
        self.stop = threading.Event()

    def add(self, story: str) -> None:
        with self.lock:
            self.ids.append(story)

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                ids = list(self.ids)
            try:
                hits = _hits(self.es, ids)
            except Exception as exc:  # noqa: BLE001 - a failed search is a gap too
                self.violations.append(f"search failed: {exc!r}")
                time.sleep(0.1)
                continue
            counts = collections.Counter(hit["_id"] for hit in hits)
            shown = set(counts)
            for story, count in counts.items():
                if count > 1:
                    self.violations.append(f"poll {self.polls}: {story} shown {count} times "
                                           f"({[h['_index'] for h in hits if h['_id'] == story]})")
            gone = (self.seen - shown) - self.excluded
            if gone:
                self.violations.append(f"poll {self.polls}: {sorted(gone)} vanished after being visible")
            self.seen |= shown
            self.polls += 1
            time.sleep(0.02)


class Poster(threading.Thread):
    """Keeps posting new stories while the reenrich runs."""

    def __init__(self, life: Stack, poller: Poller):
        super().__init__(daemon=True)
        self.life, self.poller = life, poller
        self.posted: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            marker = f"waehrend {uuid.uuid4().hex[:8]}"
            story = _post(self.life, f"urn:test:during:{marker}", **_german(marker))
            self.posted.append(story)
            self.poller.add(story)
            time.sleep(0.3)


def test_reenrich_refuses_to_swap_while_a_visible_story_is_not_in_news_raw(life):
    """A story that never went through news.raw (here written straight into the index, as
    one older than the raw topic's history would be) cannot be rebuilt: no swap."""
    es = _es(life)
    before = read_state(es, SETTINGS)
    orphan = Story(id=f"orphan-{uuid.uuid4().hex}", headline="Nur im Index", body="Nicht im Archiv.", language="de")
    es.index(index=before.write_index, id=orphan.id, version=1, version_type="external_gte", refresh=True,
             document=orphan.model_dump(mode="json", exclude={"schema_version"}))
    try:
        refused = _cli(life, "reenrich", timeout=600)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"1 visible stories missing" in refused.stdout and orphan.id in refused.stdout
        after = read_state(es, SETTINGS)
        assert after.live == before.live and after.write_index == before.write_index, "nothing swapped"
        assert after.reenrich, "the parked generation stays for a look (or --abort)"
        aborted = _cli(life, "reenrich", "--abort")
        assert aborted.returncode == 0 and after.reenrich in aborted.stdout
        assert read_state(es, SETTINGS).reenrich is None and not es.indices.exists(index=after.reenrich)
    finally:
        es.delete(index=before.write_index, id=orphan.id, refresh=True)


def test_reenrich_rebuilds_a_new_generation_with_the_changed_rule_and_swaps_without_gap_or_duplicate(life, tmp_path):
    es = _es(life)
    before = [_post(life, f"urn:test:reenrich:{i}:{uuid.uuid4()}", **_german(f"vorher {i}")) for i in range(30)]
    wait_until(lambda: len(_visible(es, before)) == len(before), timeout_s=180, what="the stories before reenrich")
    assert not any(NEW_NAME in _entity_texts(hit) for hit in _visible(es, before).values()), \
        "the running services do not know the new name yet"
    updated, killed = before[0], before[1]
    guid_of = {hit["_id"]: hit["_source"]["guid"] for hit in _visible(es, [updated, killed]).values()}
    old_generations = read_state(es, SETTINGS).live

    names = tmp_path / "names.tsv"
    names.write_text(f"ORG\t{NEW_NAME}\n", encoding="utf-8")
    reenrich_env = {"WIRESTREAM_EXTRA_NAMES": str(names)}
    poller = Poller(es, list(before), excluded={killed})
    es.indices.refresh(index="news")
    poller.start()
    wait_until(lambda: poller.polls > 0, timeout_s=30, what="the first poll")
    poster = Poster(life, poller)
    poster.start()
    try:
        # 1. Build the new generation and leave it parked: searches still read the old ones.
        built = _cli(life, "reenrich", "--no-swap", extra_env=reenrich_env, timeout=600)
        assert built.returncode == 0, built.stdout + built.stderr
        parked = read_state(es, SETTINGS).reenrich
        assert parked and parked not in old_generations and read_state(es, SETTINGS).live == old_generations

        # 2. While it is parked, the index service mirrors what it writes: new stories, an
        #    update and a kill of stories the reenrich rebuilt.
        _post(life, guid_of[updated], version=2, **_german("vorher 0, zweite Fassung"))
        _post(life, guid_of[killed], pub_status="withheld")
        mirrored_from = len(poster.posted)
        wait_until(lambda: len(poster.posted) >= mirrored_from + 5, timeout_s=60, what="more stories posted")

        def in_parked(ids: list[str]) -> dict[str, dict]:
            docs = es.mget(index=parked, ids=ids)["docs"]
            return {doc["_id"]: doc for doc in docs if doc.get("found")}

        later = poster.posted[mirrored_from:mirrored_from + 5]
        wait_until(lambda: len(in_parked(later)) == 5, timeout_s=120, what="new stories mirrored into the parked one")
        wait_until(lambda: in_parked([updated]).get(updated, {}).get("_version") == 2, timeout_s=120,
                   what="the update mirrored")
        wait_until(lambda: in_parked([killed]).get(killed, {}).get("_source", {}).get("pub_status") == "withheld",
                   timeout_s=120, what="the kill mirrored")

        # 3. Resume: read news.raw again up to its end now, then swap while stories keep arriving.
        swapped = _cli(life, "reenrich", extra_env=reenrich_env, timeout=600)
    finally:
        poster.stop.set()
        poster.join(timeout=60)
    time.sleep(3)  # keep searching a little after the swap
    poller.stop.set()
    poller.join(timeout=30)

    assert swapped.returncode == 0, swapped.stdout + swapped.stderr
    assert f"generation {parked} (resumed)" in swapped.stdout and "swapped" in swapped.stdout
    assert poller.violations == [], poller.violations[:10]
    assert poller.polls >= 20, f"only {poller.polls} searches ran during the reenrich"

    state = read_state(es, SETTINGS)
    assert state.write_index == parked
    assert state.live == [parked] and state.reenrich is None and not state.swapping
    assert set(old_generations) <= set(all_generations(es, SETTINGS)), "old generations kept, retired"

    # The changed rule shows in the rebuilt stories; nothing is lost or doubled.
    expected = [story for story in before if story != killed]
    wait_until(lambda: set(_visible(es, expected + poster.posted)) == set(expected + poster.posted),
               timeout_s=180, what="every story, including those posted during the reenrich, visible")
    hits = _hits(es, expected + poster.posted + [killed])
    assert len(hits) == len(expected) + len(poster.posted), "each story once"
    shown = {hit["_id"]: hit for hit in hits}
    assert killed not in shown, "the kill posted during the reenrich holds after the swap"
    assert shown[updated]["_version"] == 2 and "zweite Fassung" in shown[updated]["_source"]["headline"]
    rebuilt = [story for story in expected if story != updated]
    assert all(NEW_NAME in _entity_texts(shown[story]) for story in rebuilt), \
        [sorted(_entity_texts(shown[story])) for story in rebuilt[:3]]
    entity = next(e for e in stored_entities(shown[rebuilt[0]]["_source"]) if e["text"] == NEW_NAME)
    assert (entity["label"], entity["method"]) == ("ORG", "gazetteer")
    assert all(hit["_index"] == parked for hit in hits)


def test_the_swap_shows_at_once_what_the_old_generation_showed(life):
    """The swap refreshes the new generation while writes are held: a story that became
    visible in the old generation a moment ago is visible in the new one the instant the
    aliases move (noida-db, like Elasticsearch, refreshes by itself only every second).
    Own aliases on the same server, so the module's own stay as they are."""
    from services.reenrich import _swap
    from shared.generations import ensure_generations, park_new_generation

    es = _es(life)
    own = IndexSettings(index_alias="swaptest", index_write_alias="swaptest-write",
                        index_reenrich_alias="swaptest-reenrich", index_name="swaptest-000001")
    old = ensure_generations(es, own)
    parked, _ = park_new_generation(es, own)
    document = Story(id="x", headline="Eben erst sichtbar", body="Text.").model_dump(mode="json")
    # What the index service's bulk and its mirror write for one story, then only the old refreshed.
    es.bulk(operations=[{"index": {"_index": old, "_id": "x", "version": 1, "version_type": "external_gte"}}, document,
                        {"index": {"_index": parked, "_id": "x", "version": 1, "version_type": "external"}}, document])
    es.indices.refresh(index=old)
    assert [hit["_index"] for hit in _hits(es, ["x"], index="swaptest")] == [old]
    _swap(es, own, parked, progress=lambda line: None)
    assert [hit["_index"] for hit in _hits(es, ["x"], index="swaptest")] == [parked]
    assert es.indices.get_settings(index=old)[old]["settings"]["index"]["blocks"]["write"] == "true", \
        "the retired generation stays write-blocked"
    es.index(index="swaptest-write", id="y", document=document)  # the new one takes writes again
    es.indices.delete(index=f"{old},{parked}")


# -- item 6: snapshots -------------------------------------------------------------------------

def test_snapshot_and_restore_replace_the_generations(life):
    es = _es(life)
    created = _cli(life, "snapshot", "create", "before-restore")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "SUCCESS" in created.stdout
    assert "before-restore" in _cli(life, "snapshot", "list").stdout
    kept_generation = read_state(es, SETTINGS).write_index
    es.indices.refresh(index="news")
    kept = {hit["_id"] for hit in es.search(index="news", size=1000, query={"match_all": {}})["hits"]["hits"]}
    assert kept

    later = _post(life, f"urn:test:after-snapshot:{uuid.uuid4()}", **_german("nach dem Snapshot"))
    wait_until(lambda: later in _visible(es, [later]), timeout_s=120, what="a story after the snapshot")

    refused = _cli(life, "snapshot", "restore", "before-restore")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    stack.stop_service(life.config, "index")  # as the runbook says
    try:
        restored = _cli(life, "snapshot", "restore", "before-restore", "--yes")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        state = read_state(es, SETTINGS)
        assert state.write_index == kept_generation and state.live == [kept_generation]
        es.indices.refresh(index="news")
        now = {hit["_id"] for hit in es.search(index="news", size=1000, query={"match_all": {}})["hits"]["hits"]}
        assert now == kept, "exactly what the snapshot held"
    finally:
        stack.start_service(life.config, "index")
        stack.wait_healthy(life.config, names={"index"})

    beside = _cli(life, "snapshot", "restore", "before-restore", "--rename-prefix", "restored-")
    assert beside.returncode == 0, beside.stdout + beside.stderr
    assert es.indices.exists(index=f"restored-{kept_generation}")
    assert not es.indices.get_alias(index=f"restored-{kept_generation}")[f"restored-{kept_generation}"]["aliases"]

    # What came after the snapshot comes back from news.raw.
    rebuilt = _cli(life, "reenrich", timeout=600)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    wait_until(lambda: later in _visible(es, [later]), timeout_s=120, what="the later story back after reenrich")
