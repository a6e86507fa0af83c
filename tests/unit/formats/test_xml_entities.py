"""Entity declarations are refused wherever they hide: past the first 64 KB, in
UTF-16 without a BOM, in an encoding the byte scan does not spell (caught after
parsing, from the document's internal DTD), and on the lenient feed path."""

from __future__ import annotations

import pytest

from services.ingest.formats import InputError, parse_bytes
from services.ingest.formats.xml_safety import parse_xml, reject_entity_declarations

NITF = ('<!DOCTYPE nitf [<!ENTITY x "EXPANDED">]><nitf><body><body.head><hedline><hl1>Hi &x;</hl1></hedline>'
        '</body.head><body.content><p>Text &x;</p></body.content></body></nitf>')
FEED = ('<!DOCTYPE rss [<!ENTITY x "EXPANDED">]><rss version="2.0"><channel><title>T</title>'
        '<item><title>A &x;</title><description>B &x; &nbsp;</description></item></channel></rss>')
PADDING = "<!--" + "x" * 70_000 + "-->"  # pushes the DOCTYPE past the first 64 KB


@pytest.mark.parametrize("data", [
    ('<?xml version="1.0"?>' + PADDING + NITF).encode(),
    ('<?xml version="1.0" encoding="UTF-16"?>' + NITF).encode("utf-16-le"),  # no BOM
    ('<?xml version="1.0" encoding="UTF-16"?>' + NITF).encode("utf-16"),
    # a feed marker up front sends ill-formed XML (&nbsp;) to feedparser
    ('<?xml version="1.0"?><!-- <rss -->' + PADDING + FEED).encode(),
])
def test_entity_declarations_are_refused(data):
    with pytest.raises(InputError, match="declares entities"):
        parse_bytes(data)


UTF32 = ('<?xml version="1.0" encoding="UTF-32"?>' + NITF).encode("utf-32-le")  # the byte scan cannot see it


def test_after_parsing_an_internal_dtd_declaring_entities_is_refused():
    with pytest.raises(InputError, match="declares entities"):
        parse_xml(UTF32)


def test_the_lenient_feed_path_checks_the_parsed_dtd_too():
    ill_formed = ('<?xml version="1.0" encoding="UTF-32"?>' + FEED).encode("utf-32-le")
    with pytest.raises(InputError, match="declares entities"):
        reject_entity_declarations(ill_formed)


@pytest.mark.parametrize("data", [
    b'<!DOCTYPE nitf [<!ELEMENT nitf ANY>]><nitf><body><body.content><p>Fine</p></body.content></body></nitf>',
    b'<!DOCTYPE nitf SYSTEM "nitf-3-2.dtd"><nitf><body><body.content><p>Fine</p></body.content></body></nitf>',
])
def test_a_doctype_without_entity_declarations_still_parses(data):
    assert parse_bytes(data).stories[0].body == "Fine"
