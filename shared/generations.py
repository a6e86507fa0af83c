"""Index generations: the write alias, the read alias, rollover and the reenrich swap.

Stories live in a series of concrete indices, the generations (`news-000001`,
`news-000002`, ...; an existing deployment's `news-v1` is adopted as the first):

- the write alias (`news-write`, is_write_index) points at the current generation,
  where new stories go; rollover (ILM in production, the rollover API on the
  embedded default) starts a new one;
- the read alias (`news`) covers every generation, each with the visibility filter
  (shared.elastic.VISIBLE_NOW). New generations get it from the index template;
- a story stays in exactly one generation: the index service writes a story whose
  id already lives in an older generation there (services/index/generations.py),
  so the read alias never shows two copies and external versioning compares
  versions within one index;
- `wirestream reenrich` builds a new generation from news.raw while it is *parked*:
  behind the read alias with a filter that matches nothing (an alias given at index
  creation replaces the template's alias of the same name), and marked by the
  reenrich alias, which makes the index service write every story there too. The
  swap is one `_aliases` call. See docs/decisions/*-index-generations.md.

Everything here is idempotent and safe to run from every replica at start.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from elasticsearch import ApiError, Elasticsearch

from shared.elastic import VISIBLE_NOW, story_mappings, wait_for_elasticsearch
from shared.settings import IndexSettings

log = logging.getLogger(__name__)

# The read-alias filter of a parked generation: behind the alias, shows nothing.
PARKED = {"bool": {"must_not": [{"match_all": {}}]}}
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_ROLLOVER_NAME = re.compile(r"^.*-\d+$")  # what ILM can compute a successor name from


# -- names ----------------------------------------------------------------------

def generation_number(index: str) -> int:
    """The number a generation's name ends in (`news-000007` -> 7, `news-v1` -> 1), 0 if none."""
    found = _TRAILING_NUMBER.search(index)
    return int(found.group(1)) if found else 0


def generation_name(alias: str, number: int) -> str:
    return f"{alias}-{number:06d}"


def next_generation_name(alias: str, existing: list[str]) -> str:
    """One past the highest generation number among `existing` (every `<alias>-*` index,
    retired ones included, so a name is never reused)."""
    return generation_name(alias, max((generation_number(name) for name in existing), default=0) + 1)


def swap_alias(settings: IndexSettings) -> str:
    """Marker alias: present on the parked generation while the swap holds writes."""
    return f"{settings.index_reenrich_alias}-swapping"


# -- state --------------------------------------------------------------------------

@dataclass
class AliasState:
    """Which index holds which of our aliases, as one GET _alias answered."""

    read: dict[str, dict] = field(default_factory=dict)  # index -> the read alias's definition there
    write: dict[str, bool] = field(default_factory=dict)  # index -> is_write_index
    reenrich: str | None = None  # the parked generation, while a reenrich runs
    swapping_on: str | None = None  # the index carrying the swap's hold marker

    @property
    def swapping(self) -> bool:
        """The swap is holding writes."""
        return self.swapping_on is not None

    @property
    def write_index(self) -> str | None:
        flagged = [index for index, is_write in self.write.items() if is_write]
        if flagged:
            return flagged[0]
        # An alias on a single index is its write index even without the flag.
        return next(iter(self.write)) if len(self.write) == 1 else None

    @property
    def live(self) -> list[str]:
        """The generations searches read: behind the read alias, not parked."""
        return sorted((index for index in self.read if index != self.reenrich), key=_generation_order)

    @property
    def generations(self) -> list[str]:
        """Where a story may be stored: the live generations and every index the write alias
        is on (rollover leaves it on the old one, with is_write_index false)."""
        return sorted((set(self.read) | set(self.write)) - {self.reenrich}, key=_generation_order)


def _generation_order(index: str) -> tuple[int, str]:
    return generation_number(index), index


def parse_alias_state(body: dict, settings: IndexSettings) -> AliasState:
    """GET _alias/<read>,<write>,<reenrich>,<swap> -> AliasState. Pure.

    A name that does not exist makes Elasticsearch answer 404 with the others
    still listed beside `error` and `status`, which are skipped."""
    state = AliasState()
    for index, entry in body.items():
        if not isinstance(entry, dict) or "aliases" not in entry:
            continue
        aliases = entry["aliases"]
        if settings.index_alias in aliases:
            state.read[index] = aliases[settings.index_alias] or {}
        if settings.index_write_alias in aliases:
            state.write[index] = bool((aliases[settings.index_write_alias] or {}).get("is_write_index", False))
        if settings.index_reenrich_alias in aliases:
            state.reenrich = index
        if swap_alias(settings) in aliases:
            state.swapping_on = index
    return state


def read_state(es: Elasticsearch, settings: IndexSettings) -> AliasState:
    names = [settings.index_alias, settings.index_write_alias, settings.index_reenrich_alias, swap_alias(settings)]
    body = es.options(ignore_status=404).indices.get_alias(name=names).body
    return parse_alias_state(body, settings)


def all_generations(es: Elasticsearch, settings: IndexSettings) -> list[str]:
    """Every index named like a generation, with or without aliases (retired ones too)."""
    body = es.options(ignore_status=404).indices.get_alias(index=f"{settings.index_alias}-*").body
    return sorted((name for name, entry in body.items() if isinstance(entry, dict) and "aliases" in entry),
                  key=_generation_order)


# -- template, policy, first generation ----------------------------------------------

def ilm_available(es: Elasticsearch) -> bool:
    """True when the server has index lifecycle management (Elasticsearch does; noida-db
    answers `no handler found for uri [/_ilm/status]`)."""
    try:
        es.perform_request("GET", "/_ilm/status", headers={"accept": "application/json"})
        return True
    except ApiError as exc:
        if exc.meta.status in (400, 404, 405, 501):
            return False
        raise


def uses_ilm(es: Elasticsearch, settings: IndexSettings) -> bool:
    if settings.rollover == "ilm":
        return True
    return settings.rollover == "auto" and ilm_available(es)


def rollover_conditions(settings: IndexSettings) -> dict:
    """The rollover conditions from settings, in the API's (and ILM's) names."""
    conditions = {}
    if settings.rollover_max_age:
        conditions["max_age"] = settings.rollover_max_age
    if settings.rollover_max_primary_shard_size:
        conditions["max_primary_shard_size"] = settings.rollover_max_primary_shard_size
    if settings.rollover_max_docs:
        conditions["max_docs"] = settings.rollover_max_docs
    return conditions


def index_template(settings: IndexSettings, ilm: bool) -> dict:
    """The body of the `<alias>` index template: every generation gets the mappings, the
    shard and replica counts and the read alias with the visibility filter (so a
    generation made by rollover, ours or ILM's, is searchable at once)."""
    index_settings: dict = {"number_of_shards": settings.index_shards, "number_of_replicas": settings.index_replicas}
    if settings.index_refresh_interval:
        index_settings["refresh_interval"] = settings.index_refresh_interval
    if ilm:
        index_settings["index.lifecycle.name"] = settings.ilm_policy
        index_settings["index.lifecycle.rollover_alias"] = settings.index_write_alias
    return {
        "index_patterns": [f"{settings.index_alias}-*"],
        "template": {
            "settings": index_settings,
            "mappings": story_mappings(),
            "aliases": {settings.index_alias: {"filter": VISIBLE_NOW}},
        },
        "priority": 100,
    }


def ilm_policy(settings: IndexSettings) -> dict:
    """Hot phase: roll over on the settings' conditions. Delete phase only when a retention
    is set (index_delete_after, counted from the rollover). No read-only, shrink or
    force-merge step: an older generation still takes updates and kills of its stories."""
    conditions = rollover_conditions(settings)
    if not conditions:
        raise ValueError("ILM needs at least one rollover condition (WIRESTREAM_ROLLOVER_MAX_AGE, "
                         "WIRESTREAM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE or WIRESTREAM_ROLLOVER_MAX_DOCS)")
    phases: dict = {"hot": {"min_age": "0ms", "actions": {"rollover": conditions}}}
    if settings.index_delete_after:
        phases["delete"] = {"min_age": settings.index_delete_after, "actions": {"delete": {}}}
    return {"phases": phases, "_meta": {"managed_by": "wirestream"}}


def ensure_ilm_policy(es: Elasticsearch, settings: IndexSettings) -> bool:
    """Create the policy when missing; returns True when it was created. An existing
    policy is left alone, so an operator's edits in Kibana survive restarts."""
    exists = es.options(ignore_status=404).perform_request(
        "GET", f"/_ilm/policy/{settings.ilm_policy}", headers={"accept": "application/json"})
    if exists.meta.status == 200:
        return False
    es.perform_request("PUT", f"/_ilm/policy/{settings.ilm_policy}", body={"policy": ilm_policy(settings)},
                       headers={"accept": "application/json", "content-type": "application/json"})
    log.info("created ILM policy %s", settings.ilm_policy)
    return True


def ensure_generations(es: Elasticsearch, settings: IndexSettings) -> str:
    """Template (and ILM policy), then a write alias over a generation; returns the write index.

    - write alias present: nothing to do but add new envelope fields to every generation's
      mapping (the one mapping change Elasticsearch allows in place);
    - no write alias but indices behind the read alias (a deployment from before
      generations, `news-v1`): the newest is adopted as the write index;
    - nothing: the first generation `index_name` is created with the write alias."""
    wait_for_elasticsearch(es)
    ilm = uses_ilm(es, settings)
    body = index_template(settings, ilm)
    es.indices.put_index_template(name=settings.index_alias, **body)
    if ilm:
        ensure_ilm_policy(es, settings)
    for _ in range(3):
        state = read_state(es, settings)
        if state.write_index:
            _update_mappings(es, state.live + ([state.reenrich] if state.reenrich else []))
            _apply_replicas(es, settings, state.live)
            _apply_refresh_interval(es, settings, state.live)
            return state.write_index
        if state.live:
            _adopt(es, settings, state, ilm)
            continue
        _create_first(es, settings, ilm)
    raise RuntimeError(f"no write index behind {settings.index_write_alias} after creating {settings.index_name}")


def _adopt(es: Elasticsearch, settings: IndexSettings, state: AliasState, ilm: bool) -> str:
    adopted = state.live[-1]
    if len(state.live) > 1:
        log.warning("the read alias %s covers %s; adopting %s as the write index. Stories may exist in more "
                    "than one of them (searches show duplicates): `wirestream reenrich` rebuilds one "
                    "generation from news.raw", settings.index_alias, state.live, adopted)
    es.indices.update_aliases(actions=[{"add": {"index": adopted, "alias": settings.index_write_alias,
                                                "is_write_index": True}}])
    log.info("adopted %s as the first generation behind %s", adopted, settings.index_write_alias)
    if ilm and not _ROLLOVER_NAME.match(adopted):
        # ILM names a successor from the old name's number; hand it one it can count from.
        rollover(es, settings, conditions=None)
    return adopted


def _create_first(es: Elasticsearch, settings: IndexSettings, ilm: bool) -> None:
    if ilm and not _ROLLOVER_NAME.match(settings.index_name):
        raise ValueError(f"WIRESTREAM_INDEX_NAME={settings.index_name!r} must end in -<number> for ILM rollover "
                         "(e.g. news-000001)")
    try:
        es.indices.create(index=settings.index_name,
                          aliases={settings.index_write_alias: {"is_write_index": True}})
        log.info("created the first generation %s", settings.index_name)
    except ApiError as exc:
        if exc.meta.status != 400:
            raise
        # Another replica created it a moment ago (it then has the write alias); an index of
        # that name behind neither alias is a leftover this must not write into.
        state = read_state(es, settings)
        if settings.index_name not in state.write and settings.index_name not in state.read:
            raise RuntimeError(f"index {settings.index_name} exists but is behind neither {settings.index_alias} "
                               f"nor {settings.index_write_alias}; delete it or set WIRESTREAM_INDEX_NAME") from exc


def _update_mappings(es: Elasticsearch, indices: list[str]) -> None:
    for index in indices:
        try:
            es.indices.put_mapping(index=index, properties=story_mappings()["properties"])
        except ApiError as exc:
            log.warning("could not add new fields to the mapping of %s: %s", index, exc)


def _apply_refresh_interval(es: Elasticsearch, settings: IndexSettings, live: list[str]) -> None:
    """index.refresh_interval on every live generation when it is set, so a generation made
    before the setting (or by an older template) follows it. Unset leaves them as they are."""
    if not live or not settings.index_refresh_interval:
        return
    try:
        es.indices.put_settings(index=",".join(live),
                                settings={"index": {"refresh_interval": settings.index_refresh_interval}})
    except ApiError as exc:
        log.warning("could not set refresh_interval on %s: %s", live, exc)


def _apply_replicas(es: Elasticsearch, settings: IndexSettings, live: list[str]) -> None:
    """number_of_replicas on every live generation (the template only shapes new ones), so
    changing WIRESTREAM_INDEX_REPLICAS takes effect at the next start."""
    if not live:
        return
    try:
        current = es.indices.get_settings(index=",".join(live), name="index.number_of_replicas")
        differ = [index for index, body in current.items()
                  if str(body["settings"]["index"]["number_of_replicas"]) != str(settings.index_replicas)]
        if differ:
            es.indices.put_settings(index=",".join(differ),
                                    settings={"index": {"number_of_replicas": settings.index_replicas}})
            log.info("number_of_replicas of %s set to %d", differ, settings.index_replicas)
    except (ApiError, KeyError) as exc:
        log.warning("could not set number_of_replicas on %s: %s", live, exc)


# -- rollover -----------------------------------------------------------------------------

@dataclass
class RolloverResult:
    rolled_over: bool
    old_index: str | None
    new_index: str | None
    conditions: dict  # condition -> met, as Elasticsearch answered
    reason: str = ""


def rollover(es: Elasticsearch, settings: IndexSettings, conditions: dict | None,
             dry_run: bool = False) -> RolloverResult:
    """Roll the write alias over to the next generation when `conditions` are met (None or
    {}: unconditionally). The new name is ours (one past the highest generation), so a
    legacy `news-v1` rolls over to `news-000002` and two replicas racing ask for the
    same name: the second is refused as existing, which means it is done."""
    state = read_state(es, settings)
    if not state.write_index:
        raise RuntimeError(f"no write index behind {settings.index_write_alias}: run `wirestream setup`")
    if state.reenrich and not dry_run:
        return RolloverResult(False, state.write_index, None, {},
                              f"a reenrich into {state.reenrich} is running; it replaces the write index")
    new_index = next_generation_name(settings.index_alias, all_generations(es, settings))
    try:
        response = es.indices.rollover(alias=settings.index_write_alias, new_index=new_index,
                                       conditions=conditions or None, dry_run=dry_run)
    except ApiError as exc:
        if exc.meta.status == 400 and "already_exists" in str(exc.body):
            return RolloverResult(False, state.write_index, new_index, {}, "another process rolled over first")
        raise
    met = dict(response.get("conditions") or {})
    result = RolloverResult(bool(response.get("rolled_over")), response.get("old_index"), response.get("new_index"),
                            met, "" if response.get("rolled_over") else "conditions not met")
    if result.rolled_over:
        log.info("rolled %s over from %s to %s (%s)", settings.index_write_alias, result.old_index,
                 result.new_index, met or "unconditionally")
        if uses_ilm(es, settings):
            _mark_indexing_complete(es, result.old_index)
    return result


def _mark_indexing_complete(es: Elasticsearch, index: str | None) -> None:
    """Tell ILM a generation we rolled over ourselves is done, or it waits for a rollover
    that can no longer happen instead of moving on to its later phases."""
    if index:
        es.indices.put_settings(index=index, settings={"index.lifecycle.indexing_complete": True})


# -- reenrich: parked generation and swap -----------------------------------------------------

def park_new_generation(es: Elasticsearch, settings: IndexSettings) -> tuple[str, bool]:
    """The generation a reenrich builds: (name, created). Created with the read alias
    filtered to nothing and the reenrich marker, in one request, so it is never
    visible and the index service starts writing to it with its next bulk. A marker
    already present (an interrupted reenrich) is resumed."""
    state = read_state(es, settings)
    if not state.write_index:
        raise RuntimeError(f"no write index behind {settings.index_write_alias}: run `wirestream setup`")
    if state.reenrich:
        return state.reenrich, False
    name = next_generation_name(settings.index_alias, all_generations(es, settings))
    es.indices.create(index=name, aliases={settings.index_alias: {"filter": PARKED},
                                           settings.index_reenrich_alias: {}})
    log.info("parked new generation %s for reenrich", name)
    return name, True


def abort_reenrich(es: Elasticsearch, settings: IndexSettings) -> str | None:
    """Drop the parked generation (and with it the markers); returns its name. A swap
    interrupted while it held writes leaves write blocks on the live generations: lifted."""
    state = read_state(es, settings)
    release_interrupted_swap(es, settings, state)
    if not state.reenrich:
        return None
    es.indices.delete(index=state.reenrich)
    return state.reenrich


def release_interrupted_swap(es: Elasticsearch, settings: IndexSettings, state: AliasState) -> bool:
    """A swap that died while it held writes (before or after its `_aliases` call) leaves the
    hold marker and write blocks: lift them from the live and parked generations (retired
    ones keep theirs). True when there was one."""
    if not state.swapping_on:
        return False
    release_writes(es, settings, state.swapping_on, state.live + ([state.reenrich] if state.reenrich else []))
    log.warning("released the writes an interrupted swap held (marker on %s)", state.swapping_on)
    return True


def hold_writes(es: Elasticsearch, settings: IndexSettings, parked: str) -> list[str]:
    """The swap's first step: the marker makes every index replica hold its batches
    (services/index/generations.py), then a write block on every generation waits for the
    bulks already running to finish (Elasticsearch's add-block API does that), so from
    here nothing changes until release. Returns the live generations blocked."""
    es.indices.update_aliases(actions=[{"add": {"index": parked, "alias": swap_alias(settings)}}])
    state = read_state(es, settings)
    blocked = state.live
    for index in blocked + [parked]:
        es.indices.add_block(index=index, block="write")
    return blocked


def release_writes(es: Elasticsearch, settings: IndexSettings, parked: str, unblock: list[str]) -> None:
    """Lift the write block from `unblock` and drop the hold marker."""
    for index in unblock:
        es.indices.put_settings(index=index, settings={"index.blocks.write": False})
    es.options(ignore_status=404).indices.delete_alias(index=parked, name=swap_alias(settings))


def swap_actions(settings: IndexSettings, state: AliasState, parked: str) -> list[dict]:
    """One atomic `_aliases` body: the parked generation becomes the only one behind the
    read alias (with the visibility filter) and the write index; the marker goes. Pure."""
    actions: list[dict] = []
    for index in state.live:
        actions.append({"remove": {"index": index, "alias": settings.index_alias}})
    for index in state.write:
        actions.append({"remove": {"index": index, "alias": settings.index_write_alias}})
    actions += [
        {"add": {"index": parked, "alias": settings.index_alias, "filter": VISIBLE_NOW}},
        {"add": {"index": parked, "alias": settings.index_write_alias, "is_write_index": True}},
        {"remove": {"index": parked, "alias": settings.index_reenrich_alias}},
    ]
    return actions


def swap(es: Elasticsearch, settings: IndexSettings, parked: str) -> list[str]:
    """Move both aliases to the parked generation in one call; returns the retired
    generations (kept, write-blocked and behind no alias, until deleted)."""
    state = read_state(es, settings)
    es.indices.update_aliases(actions=swap_actions(settings, state, parked))
    retired = sorted(set(state.live) | set(state.write))
    if uses_ilm(es, settings):
        for index in retired:
            _mark_indexing_complete(es, index)
    log.info("swapped %s and %s to %s; retired %s", settings.index_alias, settings.index_write_alias, parked, retired)
    return retired


# -- reading across generations (CLI, tests) ---------------------------------------------------

def live_generations(es: Elasticsearch, settings: IndexSettings) -> list[str]:
    return read_state(es, settings).live


def write_index(es: Elasticsearch, settings: IndexSettings) -> str | None:
    return read_state(es, settings).write_index


def get_stored(es: Elasticsearch, settings: IndexSettings, story_id: str) -> dict | None:
    """The stored document of a story, hidden or not (tombstones included), from whichever
    live generation holds it: {"_index", "_version", "_source"} or None."""
    docs = [{"_index": index, "_id": story_id} for index in live_generations(es, settings)]
    if not docs:
        return None
    found = [doc for doc in es.mget(docs=docs)["docs"] if doc.get("found")]
    return found[0] if found else None
