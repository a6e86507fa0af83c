"""dpa digitalwires JSON (the dpa API's native format).

The body is the story as a reader gets it, the same text dpa's own NewsML-G2
rendering carries: teaser, then the article (opening with its dateline, which
digitalwires may keep in a separate field), then the info box (links are references, not text).
"""

from __future__ import annotations

import re

from shared.contract import Dateline
from services.ingest.formats.common import build_story, html_to_text, language_tag, parse_datetime, version_from
from services.ingest.formats.errors import InputError, ParseResult
from services.ingest.formats.plaintext import parse_dateline

_PUB_STATUS = {"usable": "usable", "withheld": "withheld", "canceled": "canceled", "cancelled": "canceled"}


def _category(document: dict, kind: str) -> str | None:
    return next((c.get("name") for c in document.get("categories") or []
                 if isinstance(c, dict) and c.get("type") == kind and c.get("name")), None)


def looks_like_digitalwires(document: object) -> bool:
    return isinstance(document, dict) and (
        str(document.get("format", "")).startswith("digitalwires") or ("entry_id" in document and "urn" in document)
    )


def parse_digitalwires(document: dict) -> ParseResult:
    headline = document.get("headline") or ""
    if not isinstance(headline, str):
        raise InputError("invalid field 'headline': expected a string")
    dateline_text = document.get("dateline") or ""
    article_html = document.get("article_html") or ""
    article = html_to_text(article_html)
    if isinstance(dateline_text, str) and dateline_text.strip() and article \
            and not article.startswith(dateline_text.strip()):
        # dpa puts the dateline into the first paragraph; when that paragraph is empty it stands alone.
        opens_empty = re.match(r"\s*(<section[^>]*>\s*)?<p[^>]*>\s*</p>", article_html) is not None
        article = f"{dateline_text.strip()}{chr(10) * 2 if opens_empty else ' '}{article}"
    parts = [html_to_text(document.get("teaser") or ""), article, html_to_text(document.get("infobox_html") or "")]
    body = "\n\n".join(part for part in parts if part)
    if not headline.strip() and not body:
        raise InputError(f"no text content (a {document.get('type', 'digitalwires')} entry)")
    parsed = parse_dateline(dateline_text.strip()) if isinstance(dateline_text, str) and dateline_text.strip() \
        else parse_dateline(article.split("\n", 1)[0]) if article else None
    if parsed is None:
        located = _category(document, "dnltype:located")
        parsed = (Dateline(text="", place=located), "") if located else None
    updated = parse_datetime(document.get("version_created") or document.get("updated"))
    urgency = document.get("urgency")
    story = build_story(
        # The provider category (dpa, or ap for AP copy dpa redistributes), not the credit
        # line: it is what dpa's NewsML-G2 rendering names, so both give the story one id.
        source=_category(document, "dnltype:provider") or "dpa", guid=document.get("urn") or document.get("entry_id"),
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
