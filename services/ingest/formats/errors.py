"""What a parser says when it cannot use an input."""

from __future__ import annotations

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
