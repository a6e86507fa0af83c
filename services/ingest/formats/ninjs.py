"""IPTC ninjs 1.x, 2.x and 3.x (News in JSON).

1.x names fields in lower case (`headline`, `body_text`, `versioncreated`),
2.x/3.x in camelCase with lists (`headlines[]`, `bodies[]`, `versionCreated`).
An item without text (a picture, video or audio item) is reported as an
ItemError "no text content", never silently dropped.
"""

from __future__ import annotations

import re

from services.ingest.formats.common import (build_story, html_to_text, is_html_media_type, json_type, language_tag,
                                            object_list, parse_datetime, pub_status_of, require_text, text_field,
                                            urgency_from, version_from, web_link)
from services.ingest.formats.errors import InputError, ParseResult, parse_items
from services.ingest.formats.plaintext import parse_dateline



# Keys only ninjs uses, and keys only our own envelope uses (a ninjs 1.x item with a
# `guid` and a `headline` looks much like an envelope otherwise).
_NINJS_ONLY = ("uri", "headlines", "body_text", "body_html", "body_xhtml", "bodies", "versioncreated",
               "versionCreated", "firstcreated", "firstCreated", "pubstatus", "pubStatus", "renditions")
_ENVELOPE_ONLY = ("body", "pub_status", "embargo_until", "published_at", "updated_at", "received_at",
                  "schema_version", "declared_language")


def unwrap(document: object) -> list:
    """The ninjs items of a document: bare, a list, or inside an API envelope
    (BBC: {"item": [...]}, AP Media API: {"data": {"item": {...}}} or {"data": {"items": [{"item": ...}]}})."""
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        return [document]
    data = document.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("item"), dict):
            return [data["item"]]
        if isinstance(data.get("items"), list):
            return [entry.get("item", entry) if isinstance(entry, dict) else entry for entry in data["items"]]
    if isinstance(document.get("item"), list) and "uri" not in document and "guid" not in document:
        return document["item"]
    return [document]


# Every top-level property some ninjs version defines (1.x lower case, 3.x camelCase; 2.x
# spells the 3.x names in lower case, hence the case-folded comparison), from the IPTC
# schemas. headline_*, body_* and description_* are 1.x pattern properties.
_NINJS_PROPERTIES = {name.lower() for name in (
    "uri type mimetype representationType profile version firstCreated versionCreated contentCreated embargoed "
    "embargoedUntil pubStatus urgency copyrightHolder copyrightNotice usageTerms edNote language person "
    "organisation place subject event object infosource people organisations places subjects events objects "
    "infoSources eventDetails plannedCoverage title byline by headline headlines bodies descriptions slugline "
    "located charcount wordcount renditions associations altIds trustindicator trustIndicators $standard standard "
    "genre genres expires rightsInfo digitalSourceType").split()}


def undefined_properties(item: dict) -> list[str]:
    """Properties no ninjs version defines: an extension nobody declared, or a producer's own
    name for a field (which is often why an item seems to have no text)."""
    return [key for key in item if isinstance(key, str) and key.lower() not in _NINJS_PROPERTIES
            and not key.startswith(("headline_", "body_", "description_"))]


def looks_like_ninjs(document: object) -> bool:
    items = unwrap(document)
    return bool(items) and all(
        isinstance(i, dict) and any(k in i for k in _NINJS_ONLY) and not any(k in i for k in _ENVELOPE_ONLY)
        for i in items)


def _get(item: dict, *names: str):
    for name in names:
        if item.get(name) not in (None, "", []):
            return item[name]
    return None


def _text_field(item: dict, name: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"invalid field '{name}': expected a string, got {json_type(value)}")
    return value


def _suffixed(item: dict, prefix: str, preferred: tuple[str, ...]) -> str | None:
    """The first non-empty `prefix_*` property (ninjs 1.x headline_*/body_*), preferred ones first."""
    names = [f"{prefix}_{suffix}" for suffix in preferred]
    names += [key for key in item if key.startswith(f"{prefix}_") and key not in names]
    return next((name for name in names if item.get(name) not in (None, "")), None)


def _headline(item: dict) -> str:
    headlines = item.get("headlines")
    if isinstance(headlines, list) and headlines:
        main = next((h for h in headlines if isinstance(h, dict) and h.get("role") in (None, "main")), headlines[0])
        return _text_field(item, "headlines.value", main.get("value") if isinstance(main, dict) else None)
    if item.get("headline") not in (None, ""):
        return _text_field(item, "headline", item["headline"])
    # ninjs 1.x headline_* are "extra headlines"; the 1.6 spec examples carry only headline_main.
    name = _suffixed(item, "headline", ("main",))
    return _text_field(item, name, item[name]) if name else ""


# ninjs 1.x body_* properties, the fullest rendering first (markup keeps the paragraphs).
_BODY_PREFERENCE = ("text", "html", "xhtml", "richtext", "nitf", "main")


def _body(item: dict) -> str:
    bodies = item.get("bodies")
    if isinstance(bodies, list) and bodies:
        for preferred in ("text/plain", "text/html", "application/xhtml+xml", "application/nitf+xml"):
            for body in bodies:
                if isinstance(body, dict) and str(body.get("contentType", "")).startswith(preferred):
                    return html_to_text(_text_field(item, "bodies.value", body.get("value")))
        first = bodies[0]
        return html_to_text(_text_field(item, "bodies.value", first.get("value") if isinstance(first, dict) else None))
    name = _suffixed(item, "body", _BODY_PREFERENCE)
    return html_to_text(_text_field(item, name, item[name])) if name else ""


def _guid(item: dict) -> str | None:
    """uri (ninjs) or guid (1.x producers such as Superdesk); None when there is neither, so the
    story id comes from the text: a placeholder guid would give different stories one id."""
    return text_field(item, "uri").strip() or text_field(item, "guid").strip() or None


def _subjects(item: dict) -> list[str]:
    found = []
    for subject in object_list(item, "subjects" if item.get("subjects") is not None else "subject"):
        if isinstance(subject, dict) and (subject.get("name") or subject.get("code") or subject.get("uri")):
            found.append(str(subject.get("name") or subject.get("code") or subject.get("uri")))
    return found


def _web_page(item: dict) -> str | None:
    """The item's own HTML rendition, the one web link ninjs has for it (uri identifies the
    item and is not meant as a link). Renditions are an object by name in 1.x, a list in 2.x/3.x."""
    renditions = item.get("renditions")
    if isinstance(renditions, dict):
        renditions = list(renditions.values())
    for rendition in renditions if isinstance(renditions, list) else []:
        if isinstance(rendition, dict) and \
                is_html_media_type(rendition.get("contentType") or rendition.get("mimetype")):
            link = web_link(rendition.get("href"))
            if link:
                return link
    return None


def _provider(item: dict) -> str:
    holder = _get(item, "provider", "source", "copyrightHolder", "copyrightholder")
    if isinstance(holder, dict):
        holder = holder.get("name")
    if isinstance(holder, str) and holder.strip():
        return holder.strip()
    match = re.match(r"urn:newsml:([^:]+):", str(item.get("uri", "")))
    return match.group(1) if match else "unknown"


def story_from_ninjs(item: dict):
    headline, body = _headline(item), _body(item)
    pub_status = pub_status_of(_get(item, "pubStatus", "pubstatus"))
    if not headline.strip() and not body.strip():
        reason = f"no text content (a {item.get('type', 'item')} item)"
        undefined = undefined_properties(item)
        if undefined:
            reason += f"; not ninjs properties: {', '.join(undefined)}"
        require_text(headline, body, pub_status, _guid(item), reason)
    updated = parse_datetime(_get(item, "versionCreated", "versioncreated"))
    by = _get(item, "by", "byline")
    urgency = item.get("urgency")
    dateline = parse_dateline(body.split("\n", 1)[0])
    return build_story(
        source=_provider(item), guid=_guid(item), headline=headline, body=body, fmt="ninjs", link=_web_page(item),
        dateline=dateline[0] if dateline else None,
        version=version_from(item.get("version"), updated),
        pub_status=pub_status,
        urgency=urgency_from(urgency),
        byline=by if isinstance(by, str) else None,
        subjects=_subjects(item),
        declared_language=language_tag(item.get("language")),
        published_at=parse_datetime(_get(item, "firstCreated", "firstcreated")) or updated,
        updated_at=updated,
        embargo_until=parse_datetime(_get(item, "embargoedUntil", "embargoed")),  # 3.x, 1.x/2.x
    )


def parse_ninjs(document: object) -> ParseResult:
    return parse_items("ninjs", unwrap(document), story_from_ninjs)
