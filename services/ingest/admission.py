"""What ingest lets through after parsing: the limits later stages would enforce.

Parsers decide whether an input is a story; admission decides whether that story
can travel the whole pipeline, so that "accepted" means "will be searchable". It
runs on every channel (HTTP, `wirestream ingest`, drop folder, feed poller), on
each story of an input, after parsing:

- the encoded record (exactly what would be sent) fits the broker's limit less
  the room enrichment needs downstream (413, shared/limits.py);
- the version is not far in the future (400, shared.contract.max_version_now);
- the story's provider is one the sender may publish (403, token -> sources).

Field limits that need no context (urgency 1..9, link length, declared language)
live in the contract itself and are refused while parsing. See
docs/decisions/0008-ingest-limits.md.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from shared.contract import Story, max_version_now, provider_key
from shared.limits import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, describe_story_limit, max_raw_story_bytes
from shared.messages import encode_story
from services.ingest.formats.errors import InputError, ItemError, ParseResult


@dataclass(frozen=True)
class StoryLimits:
    """The record-size limit, derived from the broker's (read once at start-up)."""

    broker_max_message_bytes: int = KAFKA_DEFAULT_MAX_MESSAGE_BYTES

    @property
    def max_story_bytes(self) -> int:
        return max_raw_story_bytes(self.broker_max_message_bytes)

    def too_large(self, story: Story) -> str | None:
        """The reason `story` cannot be published, measured on its encoded record, else None."""
        size = len(encode_story(story).value)
        if size <= self.max_story_bytes:
            return None
        return (f"story of {size} bytes encoded exceeds the limit of "
                f"{describe_story_limit(self.broker_max_message_bytes)}; shorten its body")


def version_too_high(story: Story, now: datetime | None = None) -> str | None:
    ceiling = max_version_now(now)
    if story.version <= ceiling:
        return None
    return (f"invalid field 'version': {story.version} is above the highest version accepted now, {ceiling} "
            "(versions are revision numbers or update times as YYYYMMDDHHMMSS, at most one day ahead)")


def forbidden_source(story: Story, allowed: Collection[str] | None) -> str | None:
    """`allowed`: provider keys the sender may publish, None for any."""
    if allowed is None or provider_key(story.source) in allowed:
        return None
    return (f"invalid field 'source': this token may not publish source '{story.source[:100]}' "
            f"(allowed: {', '.join(sorted(allowed)) or 'none'})")


@dataclass
class Admitted:
    format: str
    stories: list[Story] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)  # parse errors and refusals, by input index

    def only_status(self) -> int:
        """The status every refusal shares (413 if each item was too large), else 400."""
        statuses = {error.status for error in self.errors}
        return statuses.pop() if len(statuses) == 1 else 400


def admit(result: ParseResult, limits: StoryLimits, allowed_sources: Collection[str] | None = None,
          now: datetime | None = None, single_item_raises: bool = True) -> Admitted:
    """Sort parsed stories into publishable ones and refusals (with the input index and a
    status). A single-item input whose one story is refused raises InputError with that
    status, so one story gets one clear answer (413, 403 or 400), like a parse error;
    `single_item_raises=False` keeps it an item error (a feed is a batch, however short)."""
    positions = _story_positions(result)
    admitted = Admitted(format=result.format, errors=list(result.errors))
    for position, story in zip(positions, result.stories):
        for status, reason in ((403, forbidden_source(story, allowed_sources)),
                               (400, version_too_high(story, now)),
                               (413, limits.too_large(story))):
            if reason:
                admitted.errors.append(ItemError(position, reason, status))
                break
        else:
            admitted.stories.append(story)
    admitted.errors.sort(key=lambda error: error.index)
    single = len(result.stories) + len(result.errors) == 1
    if single_item_raises and single and not admitted.stories and admitted.errors:
        raise InputError(admitted.errors[0].reason, status=admitted.errors[0].status)
    return admitted


def _story_positions(result: ParseResult) -> list[int]:
    """The input index of each story. Every multi-item parser turns item i into either
    one story or one ItemError(i), in order, so the stories fill the indices the errors
    leave free."""
    taken = {error.index for error in result.errors}
    free = (index for index in range(len(result.stories) + len(result.errors)) if index not in taken)
    positions = [next(free, -1) for _ in result.stories]
    if -1 in positions:  # a parser that broke the rule: number the stories themselves
        return list(range(len(result.stories)))
    return positions
