"""Reuters-21578 SGML: one file carries many <REUTERS> documents.

Each document becomes a story: guid = NEWID, headline = TITLE, body = BODY,
dateline = DATELINE, published_at = DATE, subjects = TOPICS. Documents
without a BODY (TYPE="BRIEF": a headline only) become headline-only stories,
which is what a brief is; TYPE="UNPROC" documents (unprocessed text, no
TITLE/BODY markup) take their raw TEXT as the body. A document with neither
is reported as an ItemError. So every document is accounted for.
"""

from __future__ import annotations

import html
import re

from services.ingest.formats.common import build_story, normalise_paragraphs, parse_datetime
from services.ingest.formats.errors import InputError, ItemError, ParseResult, check_item_count
from services.ingest.formats.plaintext import parse_dateline

_DOCUMENT = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def _tag(document: str, name: str) -> str | None:
    match = re.search(rf"<{name}\b[^>]*>(.*?)</{name}>", document, re.S)
    return match.group(1) if match else None


def _text(value: str | None) -> str:
    if not value:
        return ""
    value = html.unescape(value)
    value = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", value)
    return value.replace("\n    ", "\n\n").strip()


def looks_like_reuters_sgml(data: bytes) -> bool:
    return b"<REUTERS" in data[:4096]


def parse_reuters_sgml(text: str) -> ParseResult:
    documents = _DOCUMENT.findall(text)
    if not documents:
        raise InputError("no <REUTERS> documents found")
    check_item_count(len(documents))
    result = ParseResult(format="reuters-sgml")
    for index, (attributes, document) in enumerate(documents):
        attrs = dict(_ATTR.findall(attributes))
        text_block = _tag(document, "TEXT") or ""
        headline = " ".join(_text(_tag(text_block, "TITLE")).split())
        body = normalise_paragraphs(_text(_tag(text_block, "BODY")))
        if not body and "<BODY" not in text_block and "<TITLE" not in text_block:
            body = normalise_paragraphs(_text(re.sub(r"<[^>]+>", " ", text_block)))  # TYPE="UNPROC"
        if body.endswith("Reuter"):
            body = body[: -len("Reuter")].rstrip()
        if not headline and not body:
            result.errors.append(ItemError(index, f"document NEWID={attrs.get('NEWID')} has no text"))
            continue
        dateline_text = " ".join(_text(_tag(text_block, "DATELINE")).split())
        dateline = parse_dateline(dateline_text) if dateline_text else None
        result.stories.append(build_story(
            source="Reuters", guid=f"reuters21578:{attrs.get('NEWID', index)}", headline=headline, body=body,
            fmt="reuters-sgml", dateline=dateline[0] if dateline else None,
            published_at=parse_datetime((_tag(document, "DATE") or "").strip()),
            subjects=re.findall(r"<D>(.*?)</D>", _tag(document, "TOPICS") or ""),
        ))
    return result
