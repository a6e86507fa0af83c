"""Keeping an enriched story within the limits every later stage has.

Two limits, both from shared/limits.py:

* ``cap_entities``: at most MAX_ENTITIES_PER_STORY entities (a 73 KB story of
  percentages gives 12,000, more than any reader uses and a large document for
  every search to carry) and MAX_OFFSETS_PER_ENTITY offsets each (the first ones; the
  entity's ``count`` stays the number of mentions);
* ``fit_record``: the encoded record no larger than the broker takes. Number-heavy
  text grows about 6.4x when enriched; a record the broker refuses makes the
  send fail, and the stage would crash-loop on it. Entities are dropped until it
  fits; a story too large even without entities is rejected (dead-lettered).

Which entities survive: names (people, organisations, places, other names)
before values (dates, money, percentages, quantities), more mentions first,
then the earlier first mention. Both set ``entities_truncated``. Pure functions.
"""

from __future__ import annotations

from shared.contract import Entity, Story
from shared.limits import MAX_ENTITIES_PER_STORY, MAX_OFFSETS_PER_ENTITY
from shared.messages import encode_story
from shared.runner.stage import Rejected

from .labels import NAME_LABELS

RECORD_TOO_LARGE = "record_too_large"


def _first_offset(entity: Entity) -> tuple[int, int]:
    return tuple(entity.offsets[0]) if entity.offsets else (0, 0)


def survival_rank(entity: Entity) -> tuple:
    """Sort key: the entities to keep first come first."""
    return (entity.label not in NAME_LABELS, -entity.count, _first_offset(entity))


def _in_story_order(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=_first_offset)


def cap_entities(entities: list[Entity], max_entities: int = MAX_ENTITIES_PER_STORY,
                 max_offsets: int = MAX_OFFSETS_PER_ENTITY) -> tuple[list[Entity], bool]:
    """(entities within the caps, in story order; whether anything was left out)."""
    truncated = False
    if len(entities) > max_entities:
        entities = _in_story_order(sorted(entities, key=survival_rank)[:max_entities])
        truncated = True
    out = []
    for entity in entities:
        if len(entity.offsets) > max_offsets:
            # The first mentions (headline, lead) are the ones a reader looks at; count stays exact.
            entity = entity.model_copy(update={"offsets": entity.offsets[:max_offsets]})
            truncated = True
        out.append(entity)
    return out, truncated


def _encoded_size(story: Story) -> int:
    return len(encode_story(story).value)


def fit_record(story: Story, max_value_bytes: int) -> Story | Rejected:
    """The story as it may be produced: itself when its record fits, else with the
    entities that fit (``entities_truncated``), else Rejected(record_too_large)."""
    size = _encoded_size(story)
    if size <= max_value_bytes:
        return story
    bare = story.model_copy(update={"entities": [], "entities_truncated": True})
    bare_size = _encoded_size(bare)
    if bare_size > max_value_bytes:
        return Rejected(
            RECORD_TOO_LARGE,
            f"enriched story is {size} bytes encoded ({bare_size} without any entity); "
            f"the record limit is {max_value_bytes} bytes",
        )
    ranked = sorted(story.entities, key=survival_rank)
    room = max_value_bytes - bare_size
    keep = used = 0
    for entity in ranked:
        cost = len(entity.model_dump_json().encode("utf-8")) + 1  # its JSON and a comma
        if used + cost > room:
            break
        used += cost
        keep += 1
    while True:  # the estimate is exact for pydantic's compact JSON; checked anyway
        fitted = story.model_copy(update={"entities": _in_story_order(ranked[:keep]), "entities_truncated": True})
        if keep == 0 or _encoded_size(fitted) <= max_value_bytes:
            return fitted
        keep -= max(1, keep // 16)
