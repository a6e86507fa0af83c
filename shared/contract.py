"""The story envelope: the one message contract every service reads and writes.

A story travels news.raw -> news.detected -> news.enriched as a JSON object of
this shape, keyed by ``id`` and carrying the header ``schema-version``. Each
service fills in its part (ingest: text and wire metadata; langdetect:
``language``; extract: ``entities``; index: nothing, it lands the envelope).

Changing a field's meaning or removing one is a new SCHEMA_VERSION; adding an
optional field is not (readers ignore what they do not know). See
docs/decisions/0003-envelope-and-id-rule.md.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
SCHEMA_VERSION_HEADER = "schema-version"

PubStatus = Literal["usable", "withheld", "canceled"]
LINK_MAX_CHARS = 2048
# Elasticsearch keeps external versions as a Java long: a larger one is refused at index
# time, long after ingest said 202. Refuse it at the door, naming the field.
MAX_VERSION = 2**63 - 1
# IPTC urgency: 1 (most urgent) .. 9. Elasticsearch maps it as `integer`, so a larger
# number was accepted and then refused at index time; every real sample uses 1..5.
URGENCY_MIN, URGENCY_MAX = 1, 9
# BCP 47 tags that matter are far shorter; 35 is RFC 5646's minimum buffer for one.
# `declared_language` is a keyword without ignore_above: Lucene refuses a term over
# 32,766 bytes, so an unbounded value would fail at index time.
DECLARED_LANGUAGE_MAX_CHARS = 35
# How far ahead of the ingest clock a version may be (see max_version_now).
VERSION_CLOCK_SKEW = timedelta(days=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Dateline(BaseModel):
    """Where and by whom a story was filed, as the wire's dateline says it."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(default="", description="The dateline as it stood, e.g. 'Tokyo (AFP) -'.")
    place: str | None = Field(default=None, description="Place name, e.g. 'Tokyo'.")
    agency: str | None = Field(default=None, description="Agency named in the dateline, e.g. 'AFP'.")
    date: str | None = Field(default=None, description="Date as written in the dateline, if any.")


# Every entity label, in the order a person reads them (people first). The extract
# stage maps each model's labels onto these; the index keeps one field per label.
ENTITY_LABELS = ("PERSON", "ORG", "LOC", "MISC", "DATE", "MONEY", "PERCENT", "QUANTITY")


class Entity(BaseModel):
    """One distinct entity of a story, with every place it is mentioned."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(description="Canonical surface form (the fullest name seen in the story).")
    label: str = Field(description="PERSON, ORG, LOC, MISC, DATE, MONEY, PERCENT or QUANTITY.")
    key: str = Field(default="", description="Case- and accent-folded key to match across stories.")
    count: int = Field(default=1, ge=1, description="Number of mentions in the story.")
    offsets: list[tuple[int, int]] = Field(
        default_factory=list,
        description="[start, end) character offsets of each mention into headline + '\\n\\n' + body "
        "(the first MAX_OFFSETS_PER_ENTITY of shared/limits.py when there are more; count stays exact).",
    )
    method: str = Field(
        default="model",
        description="What found it: model, rule, gazetteer (a shipped name list) or learned (a name a model "
        "found in an earlier story).",
    )
    value: str | None = Field(default=None, description="Normalised value for DATE/MONEY/PERCENT/QUANTITY.")


class Story(BaseModel):
    """The versioned envelope of one news story."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = Field(default=SCHEMA_VERSION)
    id: str = Field(description="Deterministic id: see story_id().")
    guid: str | None = Field(default=None, description="The provider's own identifier, if it gave one.")
    version: int = Field(default=1, ge=0, le=MAX_VERSION, description="Revision number from the wire (higher wins).")
    source: str = Field(default="unknown", description="Provider, e.g. 'AFP', 'dpa'.")
    format: str = Field(default="json", description="Input format the story was parsed from.")
    headline: str = Field(default="")
    body: str = Field(default="", description="Plain text, paragraphs separated by blank lines.")
    byline: str | None = None
    dateline: Dateline | None = None
    link: str | None = Field(
        default=None, max_length=LINK_MAX_CHARS,
        description="The story's web page as the wire gave it: an absolute http(s) URL.",
    )
    pub_status: PubStatus = Field(default="usable", description="usable, withheld or canceled.")
    urgency: int | None = Field(default=None, ge=URGENCY_MIN, le=URGENCY_MAX,
                                description="IPTC urgency 1 (flash) .. 9.")
    subjects: list[str] = Field(default_factory=list)
    declared_language: str | None = Field(default=None, max_length=DECLARED_LANGUAGE_MAX_CHARS,
                                          description="Language the feed declared.")
    embargo_until: datetime | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    received_at: datetime = Field(default_factory=utcnow)
    language: str | None = Field(default=None, description="ISO 639-1 code (639-3 if none), 'und' if unsure.")
    language_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    entities: list[Entity] = Field(default_factory=list)
    entities_truncated: bool = Field(
        default=False,
        description="True when extract left entities or offsets out to keep within the limits of "
        "shared/limits.py (entities per story, offsets per entity, the Kafka record size): the names "
        "with most mentions are kept first; an entity's count stays exact when its offsets are cut.",
    )
    ner_model: str | None = Field(
        default=None, description="spaCy model that ran, or 'none' when no model covers the language."
    )

    @field_validator("headline", "body")
    @classmethod
    def _strip_controls(cls, value: str) -> str:
        return strip_control_chars(value)

    @field_validator("link")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not is_web_url(value.strip()):
            raise ValueError("expected an absolute http(s) URL")
        return value.strip()

    @property
    def text(self) -> str:
        """The text that language detection and NER read; entity offsets point into it."""
        return story_text(self.headline, self.body)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Story":
        return cls.model_validate_json(raw)


def story_text(headline: str, body: str) -> str:
    if headline and body:
        return f"{headline}\n\n{body}"
    return headline or body


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL without whitespace: something a reader can open, never a
    javascript: or file: URL, nor a relative path that means nothing outside its feed."""
    if not value or any(char.isspace() for char in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_control_chars(value: str) -> str:
    """Drop C0 controls except tab/newline/CR: they break XML, JSON consumers and analyzers."""
    return _CONTROL.sub("", value)


def _norm(value: str) -> str:
    value = unicodedata.normalize("NFKC", value).strip().lower()
    return re.sub(r"\s+", " ", value)


def story_id(source: str | None, guid: str | None, headline: str = "", body: str = "") -> str:
    """Deterministic story id.

    With a guid: hash of provider + guid, so every version of a wire story shares
    one id (and one Elasticsearch document). Without one: hash of the normalised
    text, so the same text sent twice is the same story.
    """
    if guid and guid.strip():
        basis = f"guid\x1f{_norm(source or 'unknown')}\x1f{guid.strip()}"
    else:
        basis = f"text\x1f{_norm(headline)}\x1f{_norm(body)}"
    return hashlib.blake2b(basis.encode("utf-8"), digest_size=16).hexdigest()


def max_version_now(now: datetime | None = None) -> int:
    """The highest version ingest accepts now: the time `VERSION_CLOCK_SKEW` from now as
    YYYYMMDDHHMMSS.

    Versions are either revision numbers (1, 2, 3...) or update times written as
    YYYYMMDDHHMMSS (what ingest derives when a wire gives only a time). Anything above
    "tomorrow" as such a timestamp is neither: it would win over every later real
    version of the story forever (a kill at 2**63-1 could never be replaced), so it
    is refused at the door rather than clamped (a clamped version would change from
    one poll to the next)."""
    moment = (now or utcnow()) + VERSION_CLOCK_SKEW
    return int(moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S"))


def provider_key(source: str | None) -> str:
    """The provider as story_id() sees it (case-, width- and space-folded): two spellings
    with one key give the same ids, so they are one provider for authorisation too."""
    return _norm(source or "unknown")
