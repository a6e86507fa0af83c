"""dpa digitalwires JSON (the dpa API's native format).

The body is the story as a reader gets it, the same text dpa's own NewsML-G2
rendering carries: teaser, then the article (opening with its dateline, which
digitalwires may keep in a separate field), then the info box (links are references, not text).
"""

from __future__ import annotations

import re

from shared.contract import Dateline
from services.ingest.formats.common import (build_story, dateline_field, html_to_text, language_tag, object_list,
                                            parse_datetime, pub_status_of, require_text, string_list, text_field,
                                            urgency_from, version_from)
from services.ingest.formats.errors import ParseResult
from services.ingest.formats.plaintext import parse_dateline



def _category(document: dict, kind: str) -> str | None:
    return next((c["name"] for c in object_list(document, "categories")
                 if isinstance(c, dict) and c.get("type") == kind and isinstance(c.get("name"), str) and c["name"]),
                None)


def looks_like_digitalwires(document: object) -> bool:
    return isinstance(document, dict) and (
        str(document.get("format", "")).startswith("digitalwires") or ("entry_id" in document and "urn" in document)
    )


def parse_digitalwires(document: dict) -> ParseResult:
    headline = text_field(document, "headline")
    dateline_text = text_field(document, "dateline")
    article_html = text_field(document, "article_html")
    article = html_to_text(article_html)
    if dateline_text.strip() and article and not article.startswith(dateline_text.strip()):
        # dpa puts the dateline into the first paragraph; when that paragraph is empty it stands alone.
        opens_empty = re.match(r"\s*(<section[^>]*>\s*)?<p[^>]*>\s*</p>", article_html) is not None
        article = f"{dateline_text.strip()}{chr(10) * 2 if opens_empty else ' '}{article}"
    parts = [html_to_text(text_field(document, "teaser")), article, html_to_text(text_field(document, "infobox_html"))]
    body = "\n\n".join(part for part in parts if part)
    pub_status = pub_status_of(document.get("pubstatus"))
    guid = text_field(document, "urn") or text_field(document, "entry_id") or None
    require_text(headline, body, pub_status, guid, f"no text content (a {document.get('type', 'digitalwires')} entry)")
    located = _category(document, "dnltype:located")
    if dateline_text.strip():
        # dpa's own field: the dateline even where the running-text parser would not see one.
        dateline = dateline_field(dateline_text, located)
    else:
        parsed = parse_dateline(article.split("\n", 1)[0]) if article else None
        dateline = parsed[0] if parsed else Dateline(text="", place=located) if located else None
    updated = parse_datetime(document.get("version_created") or document.get("updated"))
    urgency = document.get("urgency")
    story = build_story(
        # The provider category (dpa, or ap for AP copy dpa redistributes), not the credit
        # line: it is what dpa's NewsML-G2 rendering names, so both give the story one id.
        source=_category(document, "dnltype:provider") or "dpa",
        guid=guid,
        headline=headline, body=body, fmt="dpa-digitalwires",
        dateline=dateline,
        version=version_from(document.get("version"), updated),
        pub_status=pub_status,
        urgency=urgency_from(urgency),
        byline=text_field(document, "byline") or None,
        subjects=string_list(document, "dpasubject_names") + string_list(document, "geosubject_names"),
        declared_language=language_tag(document.get("language")),
        published_at=parse_datetime(document.get("content_created")) or updated,
        updated_at=updated,
        embargo_until=parse_datetime(document.get("embargoed")),
    )
    return ParseResult(format="dpa-digitalwires", stories=[story])
