"""Helpers every wire parser shares: markup to text, dates, versions, story building."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import lxml.html
from dateutil import parser as dateparser

from shared.contract import Dateline, Story, story_id

_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "section", "article",
               "header", "footer", "table", "tr", "ul", "ol", "hl1", "hl2", "dateline", "block", "body.content",
               "figcaption", "dd", "dt"}


def html_to_text(markup: str | None) -> str:
    """Markup -> plain text with paragraphs separated by one blank line."""
    if not markup or not markup.strip():
        return ""
    if "<" not in markup:
        return normalise_paragraphs(markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return normalise_paragraphs(re.sub(r"<[^>]+>", " ", markup))
    for element in root.iter(lxml.etree.Element):
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if tag in ("script", "style"):
            element.drop_tree()
        elif tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif tag in _BLOCK_TAGS:
            element.tail = "\n\n" + (element.tail or "")
            element.text = "\n\n" + (element.text or "")
    return normalise_paragraphs(root.text_content())


def normalise_paragraphs(text: str) -> str:
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text.replace("\r", "\n")))
    return "\n\n".join(p for p in paragraphs if p)


def parse_datetime(value: object) -> datetime | None:
    """Any common wire date string -> aware UTC datetime; None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = dateparser.parse(str(value).strip())
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def version_from(value: object, updated: datetime | None = None) -> int:
    """The wire's version number, else the update time as YYYYMMDDHHMMSS (later = higher), else 1."""
    try:
        if value is not None and str(value).strip() != "":
            return max(0, int(str(value).strip()))
    except ValueError:
        pass
    if updated is not None:
        return int(updated.strftime("%Y%m%d%H%M%S"))
    return 1


def language_tag(value: object) -> str | None:
    """'en-GB' -> 'en', 'nb-NO' -> 'nb'."""
    if not value or not isinstance(value, str):
        return None
    return value.strip().split("-")[0].split("_")[0].lower() or None


def build_story(*, source: str | None, guid: str | None, headline: str, body: str, fmt: str,
                dateline: Dateline | None = None, **fields) -> Story:
    source = (source or "unknown").strip() or "unknown"
    headline = " ".join((headline or "").split())
    return Story(
        id=story_id(source, guid, headline, body),
        guid=guid,
        source=source,
        format=fmt,
        headline=headline,
        body=body or "",
        dateline=dateline,
        **{key: value for key, value in fields.items() if value is not None},
    )
