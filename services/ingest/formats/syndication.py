"""RSS 0.9x/1.0/2.0 and Atom (with feedparser) and JSON Feed (by hand: feedparser 6 does not read it).

feedparser is only ever given a byte stream, never a string, so it cannot
mistake an input for a URL and fetch it; DOCTYPE entity declarations are
refused before it sees the bytes. Every entry becomes a story: guid = the
entry's id (else its link), headline = title, body = content (else summary)
as text, source = the feed's title.
"""

from __future__ import annotations

import calendar
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import feedparser

from shared.contract import Story
from services.ingest.formats.common import (build_story, html_to_text, json_type, language_tag, object_list,
                                            parse_datetime, string_list, text_field, version_from)
from services.ingest.formats.errors import InputError, ItemError, ParseResult
from services.ingest.formats.xml_safety import reject_entity_declarations


@dataclass
class FeedEntry:
    title: str
    link: str | None
    published: datetime | None
    updated: datetime | None
    story: Story | None
    error: str | None = None


def _struct_time(value) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc) if value else None


def _xml_feed_entries(data: bytes) -> tuple[str, list[FeedEntry]]:
    reject_entity_declarations(data)
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    if not version:
        reason = parsed.get("bozo_exception")
        raise InputError(f"not a readable RSS/Atom feed: {reason or 'unknown format'}")
    fmt = "atom" if version.startswith("atom") else "rss"
    feed = parsed.get("feed", {})
    source = feed.get("title") or feed.get("link") or "unknown"
    feed_language = language_tag(feed.get("language"))
    entries = []
    for entry in parsed.entries:
        # The raw strings keep fractions of seconds and formats feedparser's own parser misses.
        published = parse_datetime(entry.get("published")) or _struct_time(entry.get("published_parsed"))
        updated = parse_datetime(entry.get("updated")) or _struct_time(entry.get("updated_parsed"))
        title = html_to_text(entry.get("title", "")) if entry.get("title_detail", {}).get("type") == "text/html" \
            else " ".join((entry.get("title") or "").split())
        contents = entry.get("content") or []
        body_markup = contents[0].get("value") if contents else entry.get("summary", "")
        body = html_to_text(body_markup)
        guid = entry.get("id") or entry.get("link")
        story, error = None, None
        if title or body:
            story = build_story(
                source=source, guid=guid, headline=title, body=body, fmt=fmt,
                byline=entry.get("author"), published_at=published, updated_at=updated,
                version=version_from(None, updated or published),
                subjects=[tag.get("term") for tag in entry.get("tags", []) if tag.get("term")],
                declared_language=language_tag(entry.get("language")) or feed_language,
            )
        else:
            error = "entry has neither title nor content"
        entries.append(FeedEntry(title, _entry_link(entry, data), published, updated, story, error))
    return fmt, entries


def _entry_link(entry, data: bytes) -> str | None:
    """The entry's own alternate link. feedparser also fills it from a permalink guid or an
    Atom id, which identifies the entry but is not a link the feed gave: keep such a value
    only when the document really has it as a link."""
    for link in entry.get("links", []):
        href = link.get("href")
        if link.get("rel", "alternate") != "alternate" or not href:
            continue
        if href == entry.get("id"):
            # Once in the document: only as the id. Twice or more: also as a link.
            escaped = href.replace("&", "&amp;").encode()
            if max(data.count(escaped), data.count(href.encode())) < 2:
                continue
        return href
    return None


def _json_feed_entries(document: dict) -> list[FeedEntry]:
    source = text_field(document, "title") or text_field(document, "home_page_url") or "unknown"
    feed_language = text_field(document, "language")
    items = document.get("items")
    if not isinstance(items, list):
        raise InputError("JSON Feed without an 'items' list")
    entries = []
    for item in items:
        try:
            entries.append(_json_feed_entry(item, source, feed_language))
        except InputError as exc:  # one bad item is that item's error, the others go through
            entries.append(FeedEntry("", None, None, None, None, exc.reason))
    return entries


def _json_feed_entry(item: object, source: str, feed_language: str) -> FeedEntry:
    if not isinstance(item, dict):
        raise InputError(f"item is {json_type(item)}, not an object")
    title = " ".join(text_field(item, "title").split())
    body = html_to_text(text_field(item, "content_html")) or \
        html_to_text(text_field(item, "content_text") or text_field(item, "summary"))
    published, updated = parse_datetime(item.get("date_published")), parse_datetime(item.get("date_modified"))
    authors = object_list(item, "authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    if not title and not body:
        return FeedEntry(title, None, published, updated, None, "item has neither title nor content")
    identifier = item.get("id")  # JSON Feed 1.0 allowed numbers; 1.1 wants strings
    story = build_story(
        source=source, guid=str(identifier) if isinstance(identifier, (str, int)) and identifier != "" else
        text_field(item, "url") or None, headline=title,
        body=body, fmt="jsonfeed", published_at=published, updated_at=updated,
        version=version_from(None, updated or published),
        byline=", ".join(a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)) or None,
        subjects=string_list(item, "tags"),
        declared_language=language_tag(text_field(item, "language") or feed_language),
    )
    return FeedEntry(title, text_field(item, "url") or None, published, updated, story)


def parse_feed_entries(data: bytes) -> list[FeedEntry]:
    """Entries with their link and dates (for checks against other feed readers)."""
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        return _json_feed_entries(json.loads(data))
    return _xml_feed_entries(data)[1]


def _result(fmt: str, entries: list[FeedEntry]) -> ParseResult:
    result = ParseResult(format=fmt)
    for index, entry in enumerate(entries):
        if entry.story is not None:
            result.stories.append(entry.story)
        else:
            result.errors.append(ItemError(index, entry.error or "unusable entry"))
    return result


def parse_xml_feed(data: bytes) -> ParseResult:
    return _result(*_xml_feed_entries(data))


def parse_json_feed(document: dict) -> ParseResult:
    return _result("jsonfeed", _json_feed_entries(document))
