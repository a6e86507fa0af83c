"""Parsing untrusted XML: no entities, no DTDs, no network, no giant trees.

An input that declares entities in a DOCTYPE (the vehicle of XXE and of
entity-expansion bombs such as billion laughs) is refused before any parser
sees it. Everything else goes through lxml with entity resolution, DTD
loading and network access off.
"""

from __future__ import annotations

import re

from lxml import etree

from services.ingest.formats.errors import InputError

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def reject_entity_declarations(data: bytes) -> None:
    head = data[:65536]
    if _DOCTYPE.search(head) and _ENTITY_DECLARATION.search(data):
        raise InputError("XML declares entities (DOCTYPE ENTITY): refused, entities are never expanded")


def parse_xml(data: bytes) -> etree._Element:
    reject_entity_declarations(data)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"malformed XML: {exc}") from exc
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot honour
        raise InputError(f"unreadable XML: {exc}") from exc
    if root is None:
        raise InputError("malformed XML: no root element")
    return root


def local_name(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""
