"""Turning stories into Kafka records and back: key, value and headers.

A record's key is the story id (so every version of a story lands on the same
partition, in order), its value the envelope's JSON, and its headers say which
schema version wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from shared.contract import SCHEMA_VERSION, SCHEMA_VERSION_HEADER, Story

Headers = list[tuple[str, bytes]]

CONTENT_TYPE_HEADER = "content-type"


@dataclass(frozen=True)
class OutRecord:
    key: bytes
    value: bytes
    headers: Headers


class DecodeError(ValueError):
    """A record that is not a story of a schema version we read."""


class SchemaAhead(DecodeError):
    """A record written with a newer schema version than this reader knows: not a bad
    record but an old reader (see shared/runner/failures.py, systemic)."""


def encode_story(story: Story) -> OutRecord:
    return OutRecord(
        key=story.id.encode("utf-8"),
        value=story.to_json(),
        headers=[
            (SCHEMA_VERSION_HEADER, str(SCHEMA_VERSION).encode()),
            (CONTENT_TYPE_HEADER, b"application/json"),
        ],
    )


def header_value(headers: Headers | None, name: str) -> bytes | None:
    for key, value in headers or []:
        if key == name:
            return value
    return None


def decode_story(value: bytes | None, headers: Headers | None = None) -> Story:
    """Parse and validate one record; DecodeError says why it is not a story."""
    version = header_value(headers, SCHEMA_VERSION_HEADER)
    if version is not None and version != str(SCHEMA_VERSION).encode():
        text = version.decode(errors="replace")
        if text.isdigit() and int(text) > SCHEMA_VERSION:
            raise SchemaAhead(f"schema-version {text} is newer than this reader's {SCHEMA_VERSION}")
        raise DecodeError(f"unsupported schema-version {text!r}")
    if not value:
        raise DecodeError("empty record value")
    try:
        return Story.from_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "record"
        raise DecodeError(f"invalid story: {where}: {first.get('msg')}") from exc
