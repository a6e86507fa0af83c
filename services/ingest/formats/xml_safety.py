"""Parsing untrusted XML: no entities, no DTDs, no network, no giant trees.

An input that declares entities in a DOCTYPE (the vehicle of XXE and of
entity-expansion bombs such as billion laughs) is refused. Two checks, because
the first is a cheap byte scan that can miss what the second cannot:

* before any parser runs, the whole input is scanned for a DOCTYPE and an
  ENTITY declaration, spelled in UTF-8/ASCII or in UTF-16 (with or without a BOM);
* after lxml has parsed it (with entity resolution, DTD loading and network
  access off, so nothing is expanded), a document whose internal DTD subset
  declares any entity is refused, whatever its encoding. The lenient feed path
  (feedparser) gets the same check from a recovering lxml parse first.
"""

from __future__ import annotations

import re

from lxml import etree

from services.ingest.formats.errors import InputError

_REFUSED = "XML declares entities (DOCTYPE ENTITY): refused, entities are never expanded"


def _spellings(keyword: str) -> re.Pattern:
    """The keyword in single-byte and both UTF-16 byte orders (a BOM is optional)."""
    forms = [keyword.encode(codec) for codec in ("ascii", "utf-16-le", "utf-16-be")]
    return re.compile(b"|".join(re.escape(form) for form in forms), re.IGNORECASE)


_ENTITY_DECLARATION = _spellings("<!ENTITY")
_DOCTYPE = _spellings("<!DOCTYPE")


def _scan(data: bytes) -> None:
    # The whole input, not a head: comments or whitespace may push the DOCTYPE far down.
    if _DOCTYPE.search(data) and _ENTITY_DECLARATION.search(data):
        raise InputError(_REFUSED)


def _reject_declared_in(root) -> None:
    """Refuse a parsed document whose internal DTD subset declares entities (general or
    parameter): the byte scan misses encodings it does not spell (UTF-32, EBCDIC)."""
    dtd = root.getroottree().docinfo.internalDTD if root is not None else None
    if dtd is not None and next(iter(dtd.iterentities()), None) is not None:
        raise InputError(_REFUSED)


def _parser(recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True, recover=recover)


def reject_entity_declarations(data: bytes) -> None:
    """For inputs another parser will read (feedparser): the byte scan, then the DTD
    check on a recovering lxml parse, which reads the prolog of ill-formed XML too."""
    _scan(data)
    try:
        root = etree.fromstring(data, parser=_parser(recover=True))
    except (etree.XMLSyntaxError, ValueError):
        return  # nothing lxml can read; feedparser will say why it cannot either
    _reject_declared_in(root)


def parse_xml(data: bytes) -> etree._Element:
    _scan(data)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"malformed XML: {exc}") from exc
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot honour
        raise InputError(f"unreadable XML: {exc}") from exc
    if root is None:
        raise InputError("malformed XML: no root element")
    _reject_declared_in(root)
    return root


def local_name(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""
