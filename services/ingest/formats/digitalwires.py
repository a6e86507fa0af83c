"""dpa digitalwires JSON (the dpa API's native format)."""

from __future__ import annotations

from services.ingest.formats.common import build_story, html_to_text, language_tag, parse_datetime, version_from
from services.ingest.formats.errors import InputError, ParseResult
from services.ingest.formats.plaintext import parse_dateline

_PUB_STATUS = {"usable": "usable", "withheld": "withheld", "canceled": "canceled", "cancelled": "canceled"}


def looks_like_digitalwires(document: object) -> bool:
    return isinstance(document, dict) and (
        str(document.get("format", "")).startswith("digitalwires") or ("entry_id" in document and "urn" in document)
    )


def parse_digitalwires(document: dict) -> ParseResult:
    headline = document.get("headline") or ""
    if not isinstance(headline, str):
        raise InputError("invalid field 'headline': expected a string")
    body = html_to_text(document.get("article_html") or "")
    if not headline.strip() and not body:
        raise InputError(f"no text content (a {document.get('type', 'digitalwires')} entry)")
    dateline_text = document.get("dateline") or ""
    parsed = parse_dateline(dateline_text.strip()) if isinstance(dateline_text, str) and dateline_text.strip() else None
    updated = parse_datetime(document.get("version_created") or document.get("updated"))
    urgency = document.get("urgency")
    story = build_story(
        source=document.get("creditline") or "dpa", guid=document.get("urn") or document.get("entry_id"),
        headline=headline, body=body, fmt="dpa-digitalwires",
        dateline=parsed[0] if parsed else None,
        version=version_from(document.get("version"), updated),
        pub_status=_PUB_STATUS.get(str(document.get("pubstatus") or "usable").lower(), "usable"),
        urgency=int(urgency) if str(urgency or "").isdigit() else None,
        byline=document.get("byline") if isinstance(document.get("byline"), str) else None,
        subjects=[str(s) for s in (document.get("dpasubject_names") or []) + (document.get("geosubject_names") or [])],
        declared_language=language_tag(document.get("language")),
        published_at=parse_datetime(document.get("content_created")) or updated,
        updated_at=updated,
        embargo_until=parse_datetime(document.get("embargoed")),
    )
    return ParseResult(format="dpa-digitalwires", stories=[story])
