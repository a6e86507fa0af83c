"""IPTC NewsML-G2: newsItem, and newsMessage / packages carrying several items.

Text comes from contentSet: inline NITF (read by nitf.py), inline XHTML, or
inline plain text. Items without text (pictures, concepts, planning, package
structure) are reported per item as ItemErrors, never silently dropped.
Version is the newsItem's @version; pubStatus stat:canceled / stat:withheld
map to the envelope's pub_status.
"""

from __future__ import annotations

import re

from shared.contract import Dateline
from services.ingest.formats.common import (build_story, dateline_field, html_to_text, is_html_media_type,
                                            language_tag, parse_datetime, pub_status_of, require_text,
                                            version_from, web_link)
from services.ingest.formats.errors import InputError, ItemError, ParseResult, check_item_count
from services.ingest.formats.nitf import body_text, read_nitf
from services.ingest.formats.plaintext import parse_dateline
from services.ingest.formats.xml_nav import attr, child, children, descendant, descendants, local_name_of, text_of

G2_ROOTS = {"newsItem", "newsMessage", "packageItem", "conceptItem", "knowledgeItem", "planningItem",
            "catalogItem", "itemSet", "contentSet"}


def _qcode_tail(value: str | None) -> str | None:
    return value.split(":", 1)[1] if value and ":" in value else value


def _content(item) -> tuple[str, str, dict]:
    """(headline from inline NITF, body text, extras) of a newsItem's contentSet."""
    return content_of_set(child(item, "contentSet"))


def content_of_set(content_set) -> tuple[str, str, dict]:
    if content_set is None:
        return "", "", {}
    for inline in children(content_set, "inlineXML"):
        nitf = descendant(inline, "nitf")
        if nitf is not None:
            found = read_nitf(nitf)
            return found.headline, found.body, {"byline": found.byline, "dateline": found.dateline}
        html_body = descendant(inline, "body")
        if html_body is not None:
            return "", xhtml_article_text(html_body), {}
        if len(inline) and _is_text_markup(inline):
            return "", body_text(inline[0]), {}
    for inline in children(content_set, "inlineData"):
        if inline.text and inline.text.strip():
            return "", html_to_text(inline.text), {}
    return "", "", {}


_TEXT_ROOTS = {"html", "body", "div", "section", "article", "p"}


def _is_text_markup(inline) -> bool:
    """Inline XML that is prose: declared as text or HTML, or undeclared with an HTML root.
    Events, SportsML results or financial data are structured data, not a story's text."""
    content_type = (attr(inline, "contenttype") or "").strip().lower()
    if content_type:
        return is_html_media_type(content_type) or content_type.startswith("text/")
    return local_name_of(inline[0]) in _TEXT_ROOTS


def xhtml_article_text(body) -> str:
    """The article of an XHTML body: its main section(s) when marked (dpa), else the body
    without header/footer/aside, which repeat the headline and carry metadata."""
    main = [section for section in descendants(body, "section") if "main" in (section.get("class") or "").split()]
    if main:
        return "\n\n".join(body_text(section) for section in main)
    for name in ("header", "footer", "aside"):
        for element in descendants(body, name):
            element.getparent().remove(element)
    return body_text(body)


def web_page(item) -> str | None:
    """The item's web page: a remoteContent rendition of it in HTML (the ninjs renditions
    map to remoteContent too). itemMeta/link elements point at other items, not at this one."""
    for remote in descendants(child(item, "contentSet"), "remoteContent"):
        if is_html_media_type(attr(remote, "contenttype")):
            link = web_link(attr(remote, "href"))
            if link:
                return link
    return None


def _provider_name(provider) -> str | None:
    # name, qcode ("nprov:AcmeNews") or literal ("reuters.com": every Reuters item uses it)
    return text_of(child(provider, "name")) or _qcode_tail(attr(provider, "qcode")) or attr(provider, "literal")


_BYLINE_PARAGRAPH = re.compile(r"^(?:By|Von|Par|Por|Di|Door)\s+\S+(?:\s+\S+){0,5}$")


def _opening_dateline(body: str) -> Dateline | None:
    """The dateline that opens the text, after a by-line paragraph ("By Marwan
    Makdisi") if one comes first; never further in, where a heading in capitals
    ("SCHOLZ ZURÜCK IN BERLIN:") would pass for one."""
    paragraphs = body.split("\n\n", 2)
    if len(paragraphs) > 1 and _BYLINE_PARAGRAPH.match(paragraphs[0].strip()):
        paragraphs = paragraphs[1:]
    parsed = parse_dateline(paragraphs[0].split("\n", 1)[0]) if paragraphs and paragraphs[0] else None
    return parsed[0] if parsed else None


def _story_dateline(content_meta, inline: Dateline | None, body: str) -> Dateline | None:
    """The <dateline> field when it names a place; else the dateline the text opens
    with (Reuters puts the filing time in the field and "DAMASCUS (Reuters) -" in the
    text), keeping the field's date when the text's dateline has none."""
    if content_meta is None:
        return inline
    located = child(content_meta, "located")
    located_place = (text_of(child(located, "name")) or _qcode_tail(attr(located, "qcode"))) \
        if located is not None else None
    field = dateline_field(text_of(child(content_meta, "dateline")))
    if field is not None and field.place:
        return field
    from_text = inline or _opening_dateline(body)
    if from_text is None:
        # <located> (where the story was filed or edited) is the place of last resort.
        if field is None:
            return Dateline(text="", place=located_place) if located_place else None
        return field.model_copy(update={"place": located_place}) if located_place else field
    if field is not None and field.date and not from_text.date:
        return from_text.model_copy(update={"date": field.date})
    return from_text


def story_from_news_item(item):
    item_meta = child(item, "itemMeta")
    content_meta = child(item, "contentMeta")
    item_class = attr(child(item_meta, "itemClass"), "qcode") or ""
    nitf_headline, body, extras = _content(item)
    headline = text_of(child(content_meta, "headline")) if content_meta is not None else ""
    headline = headline or nitf_headline
    pub_status = pub_status_of(attr(child(item_meta, "pubStatus"), "qcode"))
    require_text(headline, body, pub_status, attr(item, "guid"),
                 f"no text content ({item_class or 'newsItem'} {attr(item, 'guid') or ''})".strip())
    provider = child(item_meta, "provider")
    updated = parse_datetime(text_of(child(item_meta, "versionCreated")))
    urgency = text_of(child(content_meta, "urgency")) if content_meta is not None else ""
    bylines = [text_of(b) for b in children(content_meta, "by")] if content_meta is not None else []
    subjects = [text_of(child(s, "name")) or attr(s, "qcode") for s in children(content_meta, "subject")] \
        if content_meta is not None else []
    language = attr(child(content_meta, "language"), "tag") if content_meta is not None else None
    return build_story(
        source=_provider_name(provider),
        guid=attr(item, "guid"), headline=headline, body=body, fmt="newsml-g2", link=web_page(item),
        dateline=_story_dateline(content_meta, extras.get("dateline"), body),
        version=version_from(attr(item, "version"), updated, "@version"),
        pub_status=pub_status,
        urgency=int(urgency) if urgency.isdigit() else None,
        byline="; ".join(b for b in bylines if b) or extras.get("byline"),
        subjects=[s for s in subjects if s],
        declared_language=language_tag(language or attr(item, "lang")),
        published_at=parse_datetime(text_of(child(item_meta, "firstCreated"))) or updated,
        updated_at=updated,
        embargo_until=parse_datetime(text_of(child(item_meta, "embargoed"))),
    )


def story_from_package(item):
    """A package's own headline, and the titles of the items it groups as its text."""
    content_meta = child(item, "contentMeta")
    headline = text_of(child(content_meta, "headline")) if content_meta is not None else ""
    titles = [text_of(child(ref, "title")) for ref in descendants(item, "itemRef")]
    body = "\n\n".join(t for t in titles if t)
    item_meta = child(item, "itemMeta")
    pub_status = pub_status_of(attr(child(item_meta, "pubStatus"), "qcode"))
    require_text(headline, body, pub_status, attr(item, "guid"),
                 f"no text content (a packageItem {attr(item, 'guid') or ''})".strip())
    provider = child(item_meta, "provider")
    updated = parse_datetime(text_of(child(item_meta, "versionCreated")))
    return build_story(
        source=_provider_name(provider),
        guid=attr(item, "guid"), headline=headline, body=body, fmt="newsml-g2",
        version=version_from(attr(item, "version"), updated, "@version"),
        pub_status=pub_status,
        published_at=parse_datetime(text_of(child(item_meta, "firstCreated"))) or updated, updated_at=updated,
        declared_language=language_tag(attr(item, "lang")),
    )


def parse_newsml_g2(root) -> ParseResult:
    result = ParseResult(format="newsml-g2")
    name = local_name_of(root)
    if name == "contentSet":
        # A bare contentSet (as exchanged between systems, or quoted in the IPTC guide).
        headline, body, extras = content_of_set(root)
        if not headline and not body:
            raise InputError("contentSet without text")
        result.stories.append(build_story(source=None, guid=None, headline=headline, body=body, fmt="newsml-g2",
                                          dateline=extras.get("dateline"), byline=extras.get("byline")))
        return result
    container = descendant(root, "itemSet") if name == "newsMessage" else root if name == "itemSet" else None
    if container is not None:
        items = [e for e in container if local_name_of(e) in G2_ROOTS]
    else:
        items = [] if name == "newsMessage" else [root]
    check_item_count(len(items))
    for index, item in enumerate(items):
        kind = local_name_of(item)
        if kind not in ("newsItem", "packageItem"):
            result.errors.append(ItemError(index, f"no text content (a {kind})"))
            continue
        try:
            read = story_from_news_item if kind == "newsItem" else story_from_package
            result.stories.append(read(item))
        except InputError as exc:
            result.errors.append(ItemError(index, exc.reason))
    if not items:
        raise InputError(f"NewsML-G2 {name} carries no items")
    if len(items) == 1 and not result.stories:
        raise InputError(result.errors[0].reason)
    return result
