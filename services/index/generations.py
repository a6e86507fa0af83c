"""Which generation each story of a bulk is written to (the index service's side of
shared/generations.py).

Per write, one plan: one GET _alias (write index, live generations, a parked
reenrich generation, the swap hold) and, when there is more than one generation
or a kill notice in the batch, one realtime mget:

- a story whose id already lives in an older generation is written there, so it
  stays in exactly one generation (no duplicates behind the read alias) and
  external versioning compares with its stored version; every other story goes
  to the write index;
- a kill notice's version is raised to the highest version stored anywhere
  (services/index/writer.py), the parked generation included;
- while a reenrich runs (marker alias present), every story written is mirrored to
  the parked generation in a second bulk with the same document and version;
- while the swap holds writes, the batch waits (TransientWriteError: the runner
  retries it shortly, re-planned against the new aliases).

With `rollover=service` the router also calls the rollover API every
`rollover_check_s` with the conditions from settings.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from elasticsearch import ApiError, Elasticsearch, TransportError

from shared.contract import Story
from shared.generations import read_state, rollover, rollover_conditions
from shared.runner import TransientWriteError, WriteReport
from shared.runner.stage import SystemicWriteError
from shared.settings import IndexSettings

log = logging.getLogger(__name__)

KILL_STATUSES = {"canceled", "withheld"}
_TRANSIENT = {429, 500, 502, 503, 504}
_SYSTEMIC = {401, 403, 404}


@dataclass
class Plan:
    write_index: str
    parked: str | None = None  # the generation a reenrich builds: mirror every write there
    location: dict[str, str] = field(default_factory=dict)  # id -> older generation holding it
    versions: dict[str, int] = field(default_factory=dict)  # id -> highest stored version (ids looked up)

    def target(self, story_id: str) -> str:
        return self.location.get(story_id, self.write_index)

    def stored_versions(self, ids: set[str]) -> dict[str, int]:
        return {i: self.versions[i] for i in ids if i in self.versions}


def lookup_docs(ids: list[str], kill_ids: set[str], older: list[str], write_index: str,
                parked: str | None) -> list[dict]:
    """The mget body: every id in every older generation (where it might live), and kill
    notices also in the write index and the parked generation (for their version). Pure."""
    docs = [{"_index": index, "_id": i} for i in ids for index in older]
    for i in sorted(kill_ids):
        docs.append({"_index": write_index, "_id": i})
        if parked:
            docs.append({"_index": parked, "_id": i})
    return docs


def read_lookup(found_docs: list[dict], older: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """mget answer -> (location in older generations, highest version per id). When an id is
    in several older generations (a deployment from before generations), the newest
    wins, as the write alias would have sent it there last. Pure."""
    rank = {index: position for position, index in enumerate(older)}
    location: dict[str, str] = {}
    versions: dict[str, int] = {}
    for doc in found_docs:
        if not doc.get("found"):
            continue  # also a generation deleted since the alias was read: its doc has an error
        story_id, index = doc["_id"], doc["_index"]
        versions[story_id] = max(versions.get(story_id, -1), doc["_version"])
        if index in rank and rank[index] >= rank.get(location.get(story_id, ""), -1):
            location[story_id] = index
    return location, versions


def mirror_lines(lines: list[bytes], positions: list[int], parked: str, kills: set[int]) -> list[bytes]:
    """The primary bulk's lines for `positions`, retargeted to the parked generation. The
    same document and version; `external` (strictly newer) except for kill notices
    (`external_gte`), so a story never overwrites a tombstone of its own version that the
    reenrich wrote from news.raw, while a kill always wins. Pure."""
    out = []
    for position in positions:
        action_line, document_line = lines[position].split(b"\n", 1)
        action = json.loads(action_line)
        body = next(iter(action.values()))
        body["_index"] = parked
        body["version_type"] = "external_gte" if position in kills else "external"
        out.append(json.dumps({"index": body}).encode() + b"\n" + document_line)
    return out


class GenerationRouter:
    def __init__(self, es: Elasticsearch, settings: IndexSettings, rollover_enabled: bool = False) -> None:
        self.es = es
        self.settings = settings
        self.rollover_enabled = rollover_enabled and bool(rollover_conditions(settings))
        self._next_rollover_check = time.monotonic() + settings.rollover_check_s
        self.mirrored = 0  # documents mirrored to a parked generation (tests, logs)

    # -- planning ---------------------------------------------------------------
    def plan(self, stories: list[Story]) -> Plan:
        self._maybe_rollover()
        state = self._call(lambda: read_state(self.es, self.settings), "reading the index aliases")
        if state.swapping:
            raise TransientWriteError("generation swap in progress (wirestream reenrich): holding writes")
        if not state.write_index:
            raise SystemicWriteError("no_write_index", f"no index behind the write alias "
                                     f"{self.settings.index_write_alias}: run `wirestream setup`")
        plan = Plan(write_index=state.write_index, parked=state.reenrich)
        older = [index for index in state.generations if index != state.write_index]
        ids = sorted({story.id for story in stories})
        kill_ids = {story.id for story in stories if story.pub_status in KILL_STATUSES}
        docs = lookup_docs(ids, kill_ids, older, state.write_index, state.reenrich)
        if docs:
            found = self._call(lambda: self.es.mget(docs=docs, source=False)["docs"], "looking up stored stories")
            plan.location, plan.versions = read_lookup(found, older)
        return plan

    # -- mirroring to a parked generation -----------------------------------------
    def mirror(self, plan: Plan, lines: list[bytes], stories: list[Story], report: WriteReport) -> None:
        """Write what the primary bulk stored to the parked generation too."""
        if plan.parked is None:
            return
        positions = [p for p in range(len(stories))
                     if p not in report.rejected and p not in report.stale and p not in report.retry]
        if not positions:
            return
        kills = {p for p in positions if stories[p].pub_status in KILL_STATUSES}
        body = b"".join(mirror_lines(lines, positions, plan.parked, kills))
        response = self._call(lambda: self.es.bulk(operations=body), f"mirroring to {plan.parked}")
        for position, item in zip(positions, response["items"]):
            result = next(iter(item.values()))
            status = result.get("status", 500)
            error = result.get("error") or {}
            error_type = error.get("type", "") if isinstance(error, dict) else ""
            if status < 300 or status == 409:
                continue  # 409: the parked generation already has this version or a newer one
            if error_type == "index_not_found_exception":
                log.info("parked generation %s is gone (reenrich aborted or swapped)", plan.parked)
                return
            if status in _TRANSIENT or error_type == "cluster_block_exception":
                # Overloaded, or the swap blocked writes a moment after this batch was planned:
                # the whole batch again (idempotent), re-planned.
                raise TransientWriteError(f"mirroring to {plan.parked} refused ({status} {error_type})")
            log.warning("the parked generation %s refused story %s (%s %s); reenrich will report it missing",
                        plan.parked, stories[position].id, status, error)
        self.mirrored += len(positions)

    # -- rollover --------------------------------------------------------------------
    def _maybe_rollover(self) -> None:
        if not self.rollover_enabled or time.monotonic() < self._next_rollover_check:
            return
        self._next_rollover_check = time.monotonic() + self.settings.rollover_check_s
        try:
            rollover(self.es, self.settings, rollover_conditions(self.settings))
        except (ApiError, TransportError, RuntimeError) as exc:
            # Never fails a write: the next check tries again.
            log.warning("rollover check failed: %s", exc)

    @staticmethod
    def _call(request, what: str):
        try:
            return request()
        except (TransportError, ConnectionError) as exc:
            raise TransientWriteError(f"{what} failed: {exc}") from exc
        except ApiError as exc:
            if exc.meta.status in _TRANSIENT:
                raise TransientWriteError(f"{what}: Elasticsearch answered {exc.meta.status}") from exc
            if exc.meta.status in _SYSTEMIC:
                raise SystemicWriteError(f"elasticsearch_{exc.meta.status}", f"{what}: {exc}") from exc
            raise
