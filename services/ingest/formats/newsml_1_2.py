"""IPTC NewsML 1.2: a NewsML envelope with one or more NewsItems.

Each NewsItem: Identification (ProviderId, PublicIdentifier, RevisionId),
NewsManagement (Status, Urgency, FirstCreated, ThisRevisionCreated), and
NewsComponents with NewsLines (HeadLine, ByLine, DateLine) and ContentItems
whose DataContent holds NITF or XHTML-ish text.
"""

from __future__ import annotations

from services.ingest.formats.common import (build_story, dateline_field, html_to_text, language_tag, parse_datetime,
                                            pub_status_of, require_text, version_from)
from services.ingest.formats.errors import InputError, ParseResult, parse_items
from services.ingest.formats.nitf import body_text, read_nitf
from services.ingest.formats.xml_nav import attr, child, children, descendant, descendants, local_name_of, text_of



def _status(management) -> tuple[str, object]:
    """(pub_status, embargo_until). NewsML 1.2 says when an embargo lifts in
    StatusWillChange/DateAndTime; an embargo without that time is withheld, as in
    NITF: held until a later revision releases it."""
    status = (attr(child(management, "Status"), "FormalName") or "usable").lower()
    if status != "embargoed":
        return pub_status_of(status), None
    lifts = parse_datetime(text_of(child(child(management, "StatusWillChange"), "DateAndTime")))
    return ("usable", lifts) if lifts is not None else ("withheld", None)


def _body(item) -> tuple[str, str]:
    """(headline from inline NITF if any, body text) from the item's DataContent."""
    for data in descendants(item, "DataContent"):
        nitf = descendant(data, "nitf")
        if nitf is not None:
            found = read_nitf(nitf)
            return found.headline, found.body
        if len(data):
            return "", "\n\n".join(t for t in (body_text(c) for c in data) if t)
        if data.text and data.text.strip():
            return "", html_to_text(data.text)
    return "", ""


_SUBJECT_LEVELS = ("Subject", "SubjectMatter", "SubjectDetail")


def _subjects(item) -> list[str]:
    """IPTC subject codes of every SubjectCode (Subject, SubjectMatter, SubjectDetail carry the
    code in FormalName, e.g. 04016007), each once, in document order."""
    codes: list[str] = []
    for subject_code in descendants(item, "SubjectCode"):
        for element in subject_code:
            code = attr(element, "FormalName") if local_name_of(element) in _SUBJECT_LEVELS else None
            if code and code.strip() and code.strip() not in codes:
                codes.append(code.strip())
    return codes


def _guid(identifier) -> str | None:
    """The item's identity across revisions. PublicIdentifier ends in the revision
    (urn:newsml:afp.com:20140829T135002Z:TX-PAR-FXW86:1), so taken whole it would
    give every revision its own id and a correction could never replace the story:
    ProviderId, DateId and NewsItemId are what stay the same."""
    provider, date_id, item_id = (text_of(child(identifier, name)) for name in ("ProviderId", "DateId", "NewsItemId"))
    if provider and date_id and item_id:
        return f"urn:newsml:{provider}:{date_id}:{item_id}"
    public = text_of(child(identifier, "PublicIdentifier"))
    if public:
        parts = public.split(":")
        return ":".join(parts[:5]) if len(parts) >= 6 else public
    return item_id or None


def story_from_news_item(item):
    identifier = descendant(item, "NewsIdentifier")
    management = child(item, "NewsManagement")
    lines = descendant(item, "NewsLines")
    nitf_headline, body = _body(item)
    headline = text_of(child(lines, "HeadLine")) or nitf_headline
    pub_status, embargo_until = _status(management)
    guid = _guid(identifier)
    require_text(headline, body, pub_status, guid, "no text content in NewsItem")
    updated = parse_datetime(text_of(child(management, "ThisRevisionCreated")))
    dateline_text = text_of(child(lines, "DateLine"))
    dateline = dateline_field(dateline_text)
    urgency = attr(child(management, "Urgency"), "FormalName") or ""
    return build_story(
        source=text_of(child(identifier, "ProviderId")) or None,
        guid=guid,
        headline=headline, body=body, fmt="newsml-1.2", dateline=dateline,
        version=version_from(text_of(child(identifier, "RevisionId")), updated, "RevisionId"),
        pub_status=pub_status,
        embargo_until=embargo_until,
        urgency=int(urgency) if urgency.isdigit() else None,
        byline=text_of(child(lines, "ByLine")) or None,
        subjects=_subjects(item),
        declared_language=language_tag(attr(item, "lang") or attr(descendant(item, "Language"), "FormalName")),
        published_at=parse_datetime(text_of(child(management, "FirstCreated"))) or updated,
        updated_at=updated,
    )


def parse_newsml_1_2(root) -> ParseResult:
    items = children(root, "NewsItem")
    if not items:
        raise InputError("NewsML 1.2 document without NewsItem")
    return parse_items("newsml-1.2", items, story_from_news_item)
