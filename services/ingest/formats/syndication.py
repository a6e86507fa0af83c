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
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser

from shared.contract import Story
from services.ingest.formats.common import (build_story, html_to_text, json_type, language_tag, object_list,
                                            parse_datetime, string_list, text_field, version_from, web_link)
from services.ingest.formats.errors import InputError, ItemError, ParseResult, check_item_count, unexpected_reason
from services.ingest.formats.xml_safety import reject_entity_declarations


def _struct_time(value) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc) if value else None


def parse_xml_feed(data: bytes) -> ParseResult:
    reject_entity_declarations(data)
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    if not version:
        reason = parsed.get("bozo_exception")
        raise InputError(f"not a readable RSS/Atom feed: {reason or 'unknown format'}")
    if parsed.get("bozo") and not parsed.entries:
        # feedparser reads what it can of an ill-formed feed; when that is nothing, the
        # feed is broken (truncated, junk), not empty, and its parser says why.
        raise InputError(f"ill-formed feed, no entry readable: {parsed.get('bozo_exception')}")
    fmt = "atom" if version.startswith("atom") else "rss"
    feed = parsed.get("feed", {})
    source = feed.get("title") or feed.get("link") or "unknown"
    feed_language = language_tag(feed.get("language"))
    # A relative entry link means something only against the feed's own address.
    base = next((web_link(link.get("href")) for link in feed.get("links", []) if link.get("rel") == "self"), None)
    return _read_items(fmt, parsed.entries,
                       lambda entry: _xml_entry_story(entry, data, fmt, source, feed_language, base))


def _xml_entry_story(entry, data: bytes, fmt: str, source: str, feed_language: str | None,
                     base: str | None) -> Story:
    # The raw strings keep fractions of seconds and formats feedparser's own parser misses.
    published = parse_datetime(entry.get("published")) or _struct_time(entry.get("published_parsed"))
    updated = parse_datetime(entry.get("updated")) or _struct_time(entry.get("updated_parsed"))
    title = html_to_text(entry.get("title", "")) if entry.get("title_detail", {}).get("type") == "text/html" \
        else " ".join((entry.get("title") or "").split())
    contents = entry.get("content") or []
    body = html_to_text(contents[0].get("value") if contents else entry.get("summary", ""))
    if not title and not body:
        raise InputError("entry has neither title nor content")
    link = _entry_link(entry, data, base)
    return build_story(
        source=source, guid=entry.get("id") or link, headline=title, body=body, fmt=fmt, link=link,
        byline=entry.get("author"), published_at=published, updated_at=updated,
        version=version_from(None, updated or published),
        subjects=[tag.get("term") for tag in entry.get("tags", []) if tag.get("term")],
        declared_language=language_tag(entry.get("language")) or feed_language,
    )


def _entry_link(entry, data: bytes, base: str | None) -> str | None:
    """The entry's own alternate link, made absolute against the feed's self link. feedparser
    also fills it from a permalink guid or an Atom id, which identifies the entry but is not
    a link the feed gave: keep such a value only when the document really has it as a link."""
    for link in entry.get("links", []):
        href = link.get("href")
        if link.get("rel", "alternate") != "alternate" or not href:
            continue
        if href == entry.get("id"):
            # Once in the document: only as the id. Twice or more: also as a link.
            escaped = href.replace("&", "&amp;").encode()
            if max(data.count(escaped), data.count(href.encode())) < 2:
                continue
        return web_link(urljoin(base, href) if base else href)
    return None


def parse_json_feed(document: dict) -> ParseResult:
    source = text_field(document, "title") or text_field(document, "home_page_url") or "unknown"
    feed_language = text_field(document, "language")
    items = document.get("items")
    if not isinstance(items, list):
        raise InputError("JSON Feed without an 'items' list")
    return _read_items("jsonfeed", items, lambda item: _json_feed_story(item, source, feed_language))


def _json_feed_story(item: object, source: str, feed_language: str) -> Story:
    if not isinstance(item, dict):
        raise InputError(f"item is {json_type(item)}, not an object")
    title = " ".join(text_field(item, "title").split())
    body = html_to_text(text_field(item, "content_html")) or \
        html_to_text(text_field(item, "content_text") or text_field(item, "summary"))
    if not title and not body:
        raise InputError("item has neither title nor content")
    published, updated = parse_datetime(item.get("date_published")), parse_datetime(item.get("date_modified"))
    authors = object_list(item, "authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    identifier = item.get("id")  # JSON Feed 1.0 allowed numbers; 1.1 wants strings
    url = text_field(item, "url")  # the item's permalink (external_url points elsewhere)
    return build_story(
        source=source, guid=str(identifier) if isinstance(identifier, (str, int)) and identifier != "" else url or None,
        headline=title, body=body, fmt="jsonfeed", link=web_link(url), published_at=published, updated_at=updated,
        version=version_from(None, updated or published),
        byline=", ".join(a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)) or None,
        subjects=string_list(item, "tags"),
        declared_language=language_tag(text_field(item, "language") or feed_language),
    )


def _read_items(fmt: str, items: Iterable, read: Callable[[object], Story]) -> ParseResult:
    """Every entry of a feed is a story or an ItemError saying why not: a feed is a batch."""
    items = list(items)
    check_item_count(len(items))
    result = ParseResult(format=fmt)
    for index, item in enumerate(items):
        try:
            result.stories.append(read(item))
        except InputError as exc:
            result.errors.append(ItemError(index, exc.reason))
        except Exception as exc:  # noqa: BLE001 - one unreadable entry must not sink the feed
            result.errors.append(ItemError(index, f"unreadable entry: {unexpected_reason(exc)}"))
    return result
