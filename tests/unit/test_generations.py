"""Index generations (issue 11 item 4): names, alias state, template, ILM policy, swap,
and the index writer's routing, against an in-memory stand-in for the Elasticsearch
client. The real server (noida-db) runs them in tests/integration/test_lifecycle.py;
ILM only here, because noida-db has no ILM."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from elasticsearch import ApiError

from shared import generations as g
from shared.contract import Story
from shared.elastic import VISIBLE_NOW
from shared.runner import TransientWriteError
from shared.settings import IndexSettings
from services.index.generations import GenerationRouter, lookup_docs, mirror_lines, read_lookup
from services.index.writer import ElasticsearchWriter

S = IndexSettings()


class _Meta:
    def __init__(self, status):
        self.status = status


def api_error(status: int, body: dict | None = None) -> ApiError:
    return ApiError(str(status), _Meta(status), body or {"error": {"type": "x", "reason": str(status)}})


class _Response(SimpleNamespace):
    def __getitem__(self, key):
        return self.body[key]


class FakeIndices:
    def __init__(self, es: "FakeES"):
        self.es = es

    def put_index_template(self, name, **body):
        self.es.templates[name] = body

    def get_alias(self, name=None, index=None):
        if index is not None:
            prefix = index.rstrip("*")
            return _Response(body={i: {"aliases": a} for i, a in self.es.aliases.items() if i.startswith(prefix)},
                             meta=_Meta(200))
        wanted = set(name)
        body = {i: {"aliases": {n: d for n, d in a.items() if n in wanted}}
                for i, a in self.es.aliases.items() if wanted & set(a)}
        return _Response(body=body, meta=_Meta(200))

    def create(self, index, aliases=None):
        if index in self.es.aliases:
            raise api_error(400, {"error": {"type": "resource_already_exists_exception"}})
        template_aliases = self.es.templates.get(S.index_alias, {}).get("template", {}).get("aliases", {})
        self.es.aliases[index] = {**json.loads(json.dumps(template_aliases)), **(aliases or {})}
        self.es.created.append(index)

    def update_aliases(self, actions):
        self.es.alias_calls.append(actions)
        for action in actions:
            (kind, body), = action.items()
            if kind == "add":
                definition = {k: v for k, v in body.items() if k not in ("index", "alias")}
                self.es.aliases[body["index"]][body["alias"]] = definition
            else:
                self.es.aliases[body["index"]].pop(body["alias"], None)

    def rollover(self, alias, new_index, conditions=None, dry_run=False):
        self.es.rollovers.append((alias, new_index, conditions))
        old = next(i for i, a in self.es.aliases.items() if a.get(alias, {}).get("is_write_index"))
        self.es.aliases[old][alias] = {"is_write_index": False}
        self.create(new_index, {alias: {"is_write_index": True}})
        return {"rolled_over": True, "old_index": old, "new_index": new_index, "conditions": {}}

    def put_mapping(self, index, properties):
        pass

    def get_settings(self, index, name):
        return {i: {"settings": {"index": {"number_of_replicas": "0"}}} for i in index.split(",")}

    def put_settings(self, index, settings):
        self.es.settings_calls.append((index, settings))

    def delete_alias(self, index, name):
        self.es.aliases[index].pop(name, None)

    def add_block(self, index, block):
        self.es.blocks.append(index)


class FakeES:
    """Alias state, templates, ILM policies and documents in memory (Elasticsearch's shapes)."""

    def __init__(self, ilm: bool = False):
        self.ilm = ilm
        self.aliases: dict[str, dict] = {}  # index -> {alias: definition}
        self.templates: dict = {}
        self.policies: dict = {}
        self.docs: dict[tuple[str, str], int] = {}  # (index, id) -> version
        self.created, self.rollovers, self.alias_calls, self.settings_calls, self.blocks = [], [], [], [], []
        self.bulks: list[list[dict]] = []
        self.mgets: list[list[dict]] = []
        self.indices = FakeIndices(self)

    def info(self):
        return {}

    def options(self, **_):
        return self

    def perform_request(self, method, path, body=None, headers=None):
        if path == "/_ilm/status":
            if not self.ilm:
                raise api_error(400)
            return _Response(body={}, meta=_Meta(200))
        name = path.rsplit("/", 1)[1]
        if method == "GET":
            found = name in self.policies
            return _Response(body=self.policies.get(name, {}), meta=_Meta(200 if found else 404))
        self.policies[name] = body
        return _Response(body={}, meta=_Meta(200))

    def mget(self, docs=None, source=False, index=None, ids=None):
        docs = docs if docs is not None else [{"_index": index, "_id": i} for i in ids]
        self.mgets.append(docs)
        out = []
        for doc in docs:
            key = (doc["_index"], doc["_id"])
            out.append({"_index": doc["_index"], "_id": doc["_id"], "found": key in self.docs,
                        **({"_version": self.docs[key]} if key in self.docs else {})})
        return {"docs": out}

    def bulk(self, operations):
        lines = [json.loads(line) for line in operations.splitlines()]
        self.bulks.append(lines)
        items = []
        for action in lines[0::2]:
            body = action["index"]
            self.docs[(body["_index"], body["_id"])] = body["version"]
            items.append({"index": {"_id": body["_id"], "status": 201}})
        return {"items": items}


def _story(story_id: str, version: int = 1, **extra) -> Story:
    return Story(id=story_id, version=version, headline="H", body="B", **extra)


# -- names and state ---------------------------------------------------------------------

def test_generation_names_count_on_from_the_highest_including_a_legacy_name():
    assert g.generation_number("news-000007") == 7
    assert g.generation_number("news-v1") == 1
    assert g.next_generation_name("news", ["news-v1"]) == "news-000002"
    assert g.next_generation_name("news", ["news-000001", "news-000009", "news-000003"]) == "news-000010"
    assert g.next_generation_name("news", []) == "news-000001"


def test_alias_state_reads_a_partial_404_answer():
    body = {
        "error": "alias [news-reenrich] missing", "status": 404,
        "news-v1": {"aliases": {"news": {"filter": VISIBLE_NOW}, "news-write": {"is_write_index": False}}},
        "news-000002": {"aliases": {"news": {"filter": VISIBLE_NOW}, "news-write": {"is_write_index": True}}},
        "news-000003": {"aliases": {"news": {"filter": g.PARKED}, "news-reenrich": {}}},
    }
    state = g.parse_alias_state(body, S)
    assert state.write_index == "news-000002"
    assert state.reenrich == "news-000003"
    assert state.live == ["news-v1", "news-000002"]  # the parked generation is not searched
    assert not state.swapping


def test_a_write_alias_on_one_index_is_its_write_index_without_the_flag():
    state = g.parse_alias_state({"news-v1": {"aliases": {"news-write": {}}}}, S)
    assert state.write_index == "news-v1"


def test_template_gives_every_generation_the_read_alias_with_the_visibility_filter():
    body = g.index_template(IndexSettings(index_replicas=1, index_shards=2), ilm=False)
    assert body["index_patterns"] == ["news-*"]
    assert body["template"]["aliases"] == {"news": {"filter": VISIBLE_NOW}}
    assert body["template"]["settings"] == {"number_of_shards": 2, "number_of_replicas": 1}
    assert "_source" in body["template"]["mappings"]


def test_template_sets_the_servers_refresh_interval_only_when_configured():
    """The embedded stack sets -1 (only the index service refreshes); production leaves the
    server's default."""
    settings = g.index_template(IndexSettings(index_refresh_interval="-1"), ilm=False)["template"]["settings"]
    assert settings["refresh_interval"] == "-1"
    assert "refresh_interval" not in g.index_template(IndexSettings(), ilm=False)["template"]["settings"]


def test_the_embedded_stack_refreshes_only_through_the_index_service_and_keeps_generations_small(tmp_path):
    from services.stack import StackConfig

    env = StackConfig(run_dir=tmp_path).env
    settings = IndexSettings(**{k.removeprefix("WIRESTREAM_").lower(): v for k, v in env.items()
                                if k in ("WIRESTREAM_INDEX_REFRESH_INTERVAL", "WIRESTREAM_ROLLOVER_MAX_DOCS")})
    assert settings.index_refresh_interval == "-1"
    assert g.rollover_conditions(settings)["max_docs"] <= 5000


def test_template_names_the_ilm_policy_and_rollover_alias_only_with_ilm():
    settings = g.index_template(S, ilm=True)["template"]["settings"]
    assert settings["index.lifecycle.name"] == "wirestream-news"
    assert settings["index.lifecycle.rollover_alias"] == "news-write"


def test_ilm_policy_rolls_over_on_the_settings_conditions_and_deletes_only_with_a_retention():
    policy = g.ilm_policy(IndexSettings(rollover_max_docs=1000))
    assert policy["phases"]["hot"]["actions"]["rollover"] == {
        "max_age": "30d", "max_primary_shard_size": "50gb", "max_docs": 1000}
    assert "delete" not in policy["phases"]
    policy = g.ilm_policy(IndexSettings(index_delete_after="365d"))
    assert policy["phases"]["delete"] == {"min_age": "365d", "actions": {"delete": {}}}
    with pytest.raises(ValueError, match="rollover condition"):
        g.ilm_policy(IndexSettings(rollover_max_age=None, rollover_max_primary_shard_size=None))


def test_swap_moves_both_aliases_in_one_call_and_drops_the_marker():
    state = g.parse_alias_state({
        "news-v1": {"aliases": {"news": {}, "news-write": {"is_write_index": False}}},
        "news-000002": {"aliases": {"news": {}, "news-write": {"is_write_index": True}}},
        "news-000003": {"aliases": {"news": {"filter": g.PARKED}, "news-reenrich": {}}},
    }, S)
    actions = g.swap_actions(S, state, "news-000003")
    assert {"remove": {"index": "news-v1", "alias": "news"}} in actions
    assert {"remove": {"index": "news-000002", "alias": "news-write"}} in actions
    assert {"add": {"index": "news-000003", "alias": "news", "filter": VISIBLE_NOW}} in actions
    assert {"add": {"index": "news-000003", "alias": "news-write", "is_write_index": True}} in actions
    assert actions[-1] == {"remove": {"index": "news-000003", "alias": "news-reenrich"}}
    assert not any(a.get("remove", {}).get("index") == "news-000003" and a["remove"]["alias"] == "news"
                   for a in actions)


# -- ensure_generations -------------------------------------------------------------------

def test_a_fresh_deployment_gets_the_first_generation_with_the_write_alias():
    es = FakeES()
    assert g.ensure_generations(es, S) == "news-000001"
    assert es.aliases["news-000001"] == {"news": {"filter": VISIBLE_NOW}, "news-write": {"is_write_index": True}}
    assert es.policies == {}  # no ILM on this server


def test_an_existing_news_v1_is_adopted_as_the_first_generation():
    es = FakeES()
    es.aliases["news-v1"] = {"news": {"filter": VISIBLE_NOW}}
    assert g.ensure_generations(es, S) == "news-v1"
    assert es.created == []  # nothing new: the old index goes on taking stories
    assert es.aliases["news-v1"]["news-write"] == {"is_write_index": True}
    assert g.ensure_generations(es, S) == "news-v1"  # idempotent


def test_with_ilm_the_policy_is_created_once_and_a_legacy_index_is_rolled_over_to_a_countable_name():
    es = FakeES(ilm=True)
    es.aliases["news-v1"] = {"news": {"filter": VISIBLE_NOW}}
    assert g.ensure_generations(es, S) == "news-000002"
    assert es.policies["wirestream-news"]["policy"]["phases"]["hot"]["actions"]["rollover"]["max_age"] == "30d"
    assert es.rollovers == [("news-write", "news-000002", None)]
    assert ("news-v1", {"index.lifecycle.indexing_complete": True}) in es.settings_calls
    assert es.templates["news"]["template"]["settings"]["index.lifecycle.rollover_alias"] == "news-write"
    es.policies["wirestream-news"] = {"policy": "edited by an operator"}
    g.ensure_generations(es, S)
    assert es.policies["wirestream-news"] == {"policy": "edited by an operator"}


def test_ilm_refuses_a_first_generation_name_it_cannot_count_from():
    with pytest.raises(ValueError, match="must end in -<number>"):
        g.ensure_generations(FakeES(ilm=True), IndexSettings(index_name="news-v1"))


def test_rollover_off_or_service_never_touches_ilm():
    es = FakeES(ilm=True)
    g.ensure_generations(es, IndexSettings(rollover="service"))
    assert es.policies == {} and "index.lifecycle.name" not in es.templates["news"]["template"]["settings"]


# -- the writer's routing ---------------------------------------------------------------------

def _two_generations() -> FakeES:
    es = FakeES()
    es.aliases["news-v1"] = {"news": {"filter": VISIBLE_NOW}, "news-write": {"is_write_index": False}}
    es.aliases["news-000002"] = {"news": {"filter": VISIBLE_NOW}, "news-write": {"is_write_index": True}}
    es.docs[("news-v1", "old")] = 4
    es.docs[("news-000002", "new")] = 2
    return es


def test_a_story_already_in_an_older_generation_is_written_there_not_into_the_new_one():
    es = _two_generations()
    writer = ElasticsearchWriter(es, "unused", generations=GenerationRouter(es, S))
    writer.write([_story("old", 5), _story("fresh", 1)])
    targets = {line["index"]["_id"]: line["index"]["_index"] for line in es.bulks[0][0::2]}
    assert targets == {"old": "news-v1", "fresh": "news-000002"}
    assert es.mgets[0] == [{"_index": "news-v1", "_id": "fresh"}, {"_index": "news-v1", "_id": "old"}]


def test_one_generation_costs_no_lookup_for_ordinary_stories():
    es = FakeES()
    g.ensure_generations(es, S)
    ElasticsearchWriter(es, "unused", generations=GenerationRouter(es, S)).write([_story("a"), _story("b")])
    assert es.mgets == []


def test_a_kill_goes_one_above_the_highest_version_stored_in_any_generation():
    es = _two_generations()
    ElasticsearchWriter(es, "unused", generations=GenerationRouter(es, S)).write(
        [_story("old", 1, pub_status="canceled"), _story("new", 0, pub_status="withheld")])
    actions = {line["index"]["_id"]: line["index"] for line in es.bulks[0][0::2]}
    assert actions["old"]["version"] == 5 and actions["old"]["_index"] == "news-v1"
    assert actions["new"]["version"] == 3 and actions["new"]["_index"] == "news-000002"


def test_read_lookup_prefers_the_newest_older_generation_when_an_id_is_in_two():
    found = [{"_index": "news-v1", "_id": "x", "found": True, "_version": 3},
             {"_index": "news-v2", "_id": "x", "found": True, "_version": 5},
             {"_index": "gone", "_id": "y", "error": {"type": "index_not_found_exception"}}]
    location, versions = read_lookup(found, ["news-v1", "news-v2"])
    assert location == {"x": "news-v2"} and versions == {"x": 5}


def test_lookup_asks_kills_in_the_write_and_parked_generations_too():
    docs = lookup_docs(["a", "k"], {"k"}, ["news-v1"], "news-000002", "news-000003")
    assert docs == [{"_index": "news-v1", "_id": "a"}, {"_index": "news-v1", "_id": "k"},
                    {"_index": "news-000002", "_id": "k"}, {"_index": "news-000003", "_id": "k"}]


def test_while_a_reenrich_runs_what_was_written_is_mirrored_with_the_same_document_and_version():
    es = _two_generations()
    es.aliases["news-000003"] = {"news": {"filter": g.PARKED}, "news-reenrich": {}}
    router = GenerationRouter(es, S)
    ElasticsearchWriter(es, "unused", generations=router).write(
        [_story("old", 5), _story("fresh", 1), _story("new", 1, pub_status="canceled")])
    primary, mirror = es.bulks
    assert [line["index"]["_index"] for line in mirror[0::2]] == ["news-000003"] * 3
    assert [line["index"]["version_type"] for line in mirror[0::2]] == ["external", "external", "external_gte"]
    assert mirror[1::2] == primary[1::2]  # identical documents, indexed_at included
    assert [a["index"]["version"] for a in mirror[0::2]] == [a["index"]["version"] for a in primary[0::2]]
    assert router.mirrored == 3


def test_mirror_lines_retarget_only_the_given_positions():
    lines = [json.dumps({"index": {"_index": "w", "_id": str(i), "version": 1, "version_type": "external_gte"}})
             .encode() + b"\n{}\n" for i in range(3)]
    out = [json.loads(line.split(b"\n")[0]) for line in mirror_lines(lines, [0, 2], "p", kills={2})]
    assert out == [{"index": {"_index": "p", "_id": "0", "version": 1, "version_type": "external"}},
                   {"index": {"_index": "p", "_id": "2", "version": 1, "version_type": "external_gte"}}]


def test_the_swap_hold_makes_the_batch_wait_instead_of_writing():
    es = _two_generations()
    es.aliases["news-000003"] = {"news": {"filter": g.PARKED}, "news-reenrich": {}, "news-reenrich-swapping": {}}
    with pytest.raises(TransientWriteError, match="swap in progress"):
        ElasticsearchWriter(es, "unused", generations=GenerationRouter(es, S)).write([_story("a")])
    assert es.bulks == []


def test_reenrich_fill_never_rewrites_an_equal_version_but_a_kill_still_wins():
    es = FakeES()
    writer = ElasticsearchWriter(es, "news-000003", overwrite_equal=False)
    writer.write([_story("a", 3), _story("b", 2, pub_status="canceled")])
    assert [line["index"]["version_type"] for line in es.bulks[0][0::2]] == ["external", "external_gte"]


def test_the_service_checks_the_rollover_conditions_when_due(monkeypatch):
    es = FakeES()
    g.ensure_generations(es, S)
    clock = [1000.0]
    monkeypatch.setattr("services.index.generations.time.monotonic", lambda: clock[0])
    router = GenerationRouter(es, IndexSettings(rollover_check_s=60, rollover_max_docs=10), rollover_enabled=True)
    router.plan([_story("a")])
    assert es.rollovers == []  # not due yet
    clock[0] += 61
    router.plan([_story("a")])
    assert es.rollovers == [("news-write", "news-000002",
                             {"max_age": "30d", "max_primary_shard_size": "50gb", "max_docs": 10})]


def test_a_failing_rollover_check_never_fails_the_write(monkeypatch):
    es = FakeES()
    g.ensure_generations(es, S)
    monkeypatch.setattr(es.indices, "rollover", lambda **_: (_ for _ in ()).throw(api_error(500)))
    router = GenerationRouter(es, IndexSettings(rollover_check_s=1), rollover_enabled=True)
    router._next_rollover_check = 0
    assert router.plan([_story("a")]).write_index == "news-000001"


def test_an_interrupted_swap_is_released_whether_it_died_before_or_after_the_aliases_moved():
    """A reenrich killed while holding writes must not hold the index service for ever."""
    for parked_aliases, live in (
        # died before the `_aliases` call: marker on the parked generation
        ({"news": {"filter": g.PARKED}, "news-reenrich": {}, "news-reenrich-swapping": {}}, ["news-000001"]),
        # died after it: the parked one is live now and still carries the hold marker
        ({"news": {"filter": VISIBLE_NOW}, "news-write": {"is_write_index": True}, "news-reenrich-swapping": {}},
         ["news-000002"]),
    ):
        es = FakeES()
        es.aliases["news-000001"] = {"news": {"filter": VISIBLE_NOW}, "news-write": {"is_write_index": True}} \
            if live == ["news-000001"] else {}
        es.aliases["news-000002"] = parked_aliases
        state = g.read_state(es, S)
        assert state.swapping
        assert g.release_interrupted_swap(es, S, state)
        assert not g.read_state(es, S).swapping
        unblocked = {index for index, settings in es.settings_calls if settings == {"index.blocks.write": False}}
        assert set(live) <= unblocked
