"""NITF 3.x, standalone or inline in NewsML-G2 / NewsML 1.2 (one reader for all).

Whether and when a document may be used is in head/docdata: @management-status
(usable, embargoed, withheld, canceled: the NITF 3.x kill is "canceled"),
date.release (the embargo time) and date.expire (after which the publisher no
longer wants it used). doc-scope is not a status: it names the regions or
topics the document is of interest to (the samples say POLITICS, SOCCER).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from shared.contract import Dateline, utcnow
from services.ingest.formats.common import (build_story, html_to_text, language_tag, parse_datetime, require_text,
                                            version_from)
from services.ingest.formats.errors import ParseResult
from services.ingest.formats.plaintext import parse_dateline
from services.ingest.formats.xml_nav import attr, child, descendant, descendants, path, text_of


@dataclass
class NitfContent:
    headline: str = ""
    body: str = ""
    byline: str | None = None
    dateline: Dateline | None = None
    guid: str | None = None
    urgency: int | None = None
    published: str | None = None
    subjects: list[str] = field(default_factory=list)
    language: str | None = None
    provider: str | None = None
    pub_status: str = "usable"
    embargo_until: datetime | None = None


_MANAGEMENT_STATUS = {"usable": "usable", "embargoed": "usable", "withheld": "withheld", "canceled": "canceled",
                      "cancelled": "canceled"}


def _management(docdata) -> tuple[str, datetime | None]:
    """(pub_status, embargo_until) from docdata's management-status, date.release and date.expire."""
    status = (attr(docdata, "management-status") or "usable").strip().lower()
    issued = parse_datetime(attr(child(docdata, "date.issue"), "norm"))
    release = parse_datetime(attr(child(docdata, "date.release"), "norm"))
    expire = parse_datetime(attr(child(docdata, "date.expire"), "norm"))
    pub_status = _MANAGEMENT_STATUS.get(status, "usable")
    # A release time is an embargo when the status says so or when it lies after the issue
    # time; AAP sends date.release = date.issue on every item, which embargoes nothing.
    embargo = release if release is not None and (status == "embargoed" or issued is None or release > issued) \
        else None
    if status == "embargoed" and embargo is None:
        pub_status = "withheld"  # embargoed until a time nobody gave: held until a later version releases it
    if pub_status == "usable" and expire is not None and expire <= utcnow():
        # The publisher no longer wants it used. The envelope has no expiry field, so this is
        # decided at ingest: a story that expires later stays visible until a new version.
        pub_status = "withheld"
    return pub_status, embargo


def body_text(content) -> str:
    """Text of a body.content (or any XHTML-like block), paragraphs kept."""
    if content is None:
        return ""
    markup = etree.tostring(content, encoding="unicode", method="xml")
    return html_to_text(markup)


def read_nitf(nitf) -> NitfContent:
    body = child(nitf, "body")
    head = child(nitf, "head")
    body_head = child(body, "body.head") if body is not None else None
    found = NitfContent()
    found.headline = text_of(path(body_head, "hedline", "hl1")) or text_of(child(head, "title"))
    bylines = descendants(body_head, "byline") if body_head is not None else []
    found.byline = "; ".join(text_of(b) for b in bylines if text_of(b)) or None
    dateline = descendant(body_head, "dateline") if body_head is not None else None
    if dateline is not None and text_of(dateline):
        parsed = parse_dateline(text_of(dateline))
        place = text_of(descendant(dateline, "city")) or text_of(descendant(dateline, "location")) or None
        found.dateline = Dateline(
            text=text_of(dateline),
            place=place or (parsed[0].place if parsed else None),
            agency=parsed[0].agency if parsed else None,
            date=text_of(descendant(dateline, "story.date")) or (parsed[0].date if parsed else None),
        )
    found.body = body_text(child(body, "body.content") if body is not None else None)
    docdata = child(head, "docdata") if head is not None else None
    found.guid = attr(child(docdata, "doc-id"), "id-string") if docdata is not None else None
    urgency = attr(child(docdata, "urgency"), "ed-urg") if docdata is not None else None
    found.urgency = int(urgency) if urgency and urgency.isdigit() else None
    found.published = attr(child(docdata, "date.issue"), "norm") if docdata is not None else None
    found.provider = attr(child(docdata, "doc.copyright"), "holder") if docdata is not None else None
    if docdata is not None:
        found.pub_status, found.embargo_until = _management(docdata)
    found.subjects = [s for s in (attr(e, "tobject.subject.refnum") or attr(e, "tobject.subject.type")
                                  for e in descendants(head, "tobject.subject")) if s] if head is not None else []
    found.language = language_tag(attr(nitf, "lang"))
    return found


def parse_nitf(root) -> ParseResult:
    content = read_nitf(root)
    # A document its sender declared canceled/withheld passes without text when it has a
    # doc-id: a tombstone (see require_text). Withheld only because date.expire has passed
    # is our reading, not a kill notice: an empty expired document is still refused.
    docdata = child(child(root, "head"), "docdata")
    declared = _MANAGEMENT_STATUS.get((attr(docdata, "management-status") or "usable").strip().lower(), "usable")
    require_text(content.headline, content.body, declared, content.guid,
                 "NITF document without headline or body text")
    published = parse_datetime(content.published)
    pubdata = descendant(child(root, "head"), "pubdata") if child(root, "head") is not None else None
    story = build_story(
        source=content.provider or attr(pubdata, "name") or (content.dateline.agency if content.dateline else None),
        guid=content.guid, headline=content.headline, body=content.body, fmt="nitf", dateline=content.dateline,
        byline=content.byline, urgency=content.urgency, subjects=content.subjects,
        declared_language=content.language, published_at=published, pub_status=content.pub_status,
        embargo_until=content.embargo_until, version=version_from(None, published),
    )
    return ParseResult(format="nitf", stories=[story])
