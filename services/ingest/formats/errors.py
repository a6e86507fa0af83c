"""What a parser says when it cannot use an input."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from shared.contract import Story


class InputError(Exception):
    """The whole input is rejected: `reason` names the cause, `status` is the HTTP answer."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def unexpected_reason(exc: BaseException) -> str:
    """The reason for an input that made a parser fail in a way it did not foresee.

    Such an input is still bad input (wrong types deep inside, absurd nesting), so it
    gets a 4xx with this reason, not a 500; the exception class and message name the
    problem for the sender and for whoever fixes the parser.
    """
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass
class ItemError:
    """One item of a multi-item input that could not be used."""

    index: int
    reason: str
    status: int = 400  # what the item alone would have been answered (413 too large, 403 forbidden)


@dataclass
class ParseResult:
    format: str
    stories: list[Story] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def parse_items(fmt: str, items: list, read) -> ParseResult:
    """Read each item of a multi-item input; an unusable item becomes an ItemError.

    A single-item input whose item is unusable is refused as a whole (InputError),
    so a caller sending one story gets a 4xx with the reason, not an empty 202.
    """
    check_item_count(len(items))
    result = ParseResult(format=fmt)
    for index, item in enumerate(items):
        try:
            result.stories.append(read(item))
        except InputError as exc:
            result.errors.append(ItemError(index, exc.reason))
        except Exception as exc:  # noqa: BLE001 - one unreadable item must not sink the others
            result.errors.append(ItemError(index, f"unreadable item: {unexpected_reason(exc)}"))
    if len(items) == 1 and not result.stories:
        raise InputError(result.errors[0].reason)
    return result


# The most items one input may carry, set by parse_bytes for the duration of one parse
# (None: no limit). Multi-item parsers check it before they read any item, so a request
# of 265,000 tiny stories is refused before it costs 265,000 Story objects.
_max_items: ContextVar[int | None] = ContextVar("max_items", default=None)


@contextmanager
def item_limit(max_items: int | None) -> Iterator[None]:
    token = _max_items.set(max_items)
    try:
        yield
    finally:
        _max_items.reset(token)


def check_item_count(count: int) -> None:
    """Refuse (413) an input with more items than the current item_limit."""
    limit = _max_items.get()
    if limit is not None and count > limit:
        raise InputError(f"{count} items exceed the limit of {limit} items per request "
                         "(WIRESTREAM_MAX_ITEMS_PER_REQUEST); send them in smaller batches", status=413)
