"""Namespace-agnostic navigation: wire XML comes with and without namespaces."""

from __future__ import annotations

from lxml import etree


def children(element, name: str) -> list:
    return [child for child in element if isinstance(child.tag, str) and etree.QName(child).localname == name]


def child(element, name: str):
    found = children(element, name) if element is not None else []
    return found[0] if found else None


def descendants(element, name: str) -> list:
    if element is None:
        return []
    return [e for e in element.iter() if isinstance(e.tag, str) and etree.QName(e).localname == name]


def descendant(element, name: str):
    found = descendants(element, name)
    return found[0] if found else None


def path(element, *names: str):
    for name in names:
        if element is None:
            return None
        element = child(element, name)
    return element


def text_of(element) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def attr(element, name: str) -> str | None:
    if element is None:
        return None
    for key, value in element.attrib.items():
        if etree.QName(key).localname == name:
            return value
    return None


def local_name_of(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""
