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
