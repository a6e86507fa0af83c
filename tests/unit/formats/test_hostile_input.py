"""Hostile and broken input: a clear InputError naming the cause, or a clean parse. Never a crash,
never an entity expanded, never a network request."""

from __future__ import annotations

import json
import socket

import pytest

from services.ingest.formats import InputError, parse_bytes

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<nitf><body><body.head><hedline><hl1>&lol3;</hl1></hedline></body.head></body></nitf>"""

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE nitf [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<nitf><body><body.head><hedline><hl1>&secret;</hl1></hedline></body.head></body></nitf>"""

XXE_NETWORK_RSS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY remote SYSTEM "http://127.0.0.1:9/evil.dtd">]>
<rss version="2.0"><channel><title>x</title><item><title>&remote;</title></item></channel></rss>"""

DPA = {"format": "digitalwires@1.0", "urn": "urn:newsml:dpa.com:20090101:1", "headline": "Wahl",
       "article_html": "<p>Berlin (dpa) - Die Wahl.</p>"}
NINJS = {"uri": "urn:newsml:example.com:1", "headline": "Vote", "body_text": "The vote."}
JSON_FEED = {"version": "https://jsonfeed.org/version/1.1", "title": "Feed",
             "items": [{"id": "1", "title": "Vote", "content_text": "The vote."}]}

CASES = {
    "malformed XML": (b"<nitf><body><p>unclosed</body>", 400, "malformed XML"),
    "billion laughs": (BILLION_LAUGHS, 400, "entities"),
    "XXE file": (XXE_FILE, 400, "entities"),
    "XXE network in a feed": (XXE_NETWORK_RSS, 400, "entities"),
    "empty": (b"", 400, "empty"),
    "whitespace": (b" \n\t ", 400, "empty"),
    "binary junk": (bytes(range(256)) * 8, 415, "binary"),
    "NUL bytes in text": (b"Headline\x00\x00\x00 body\x00", 415, "binary"),
    "JSON wrong type": (json.dumps({"headline": {"a": 1}, "body": "x"}).encode(), 400, "headline"),
    "JSON wrong version type": (json.dumps({"headline": "h", "version": "two"}).encode(), 400, "version"),
    "JSON not an object": (b"[1, 2, 3]", None, None),  # a batch of three unusable items: item errors
    "JSON link not a web address": (json.dumps({"headline": "h", "link": "javascript:alert(1)"}).encode(), 400,
                                    "invalid field 'link'"),
    "truncated JSON": (b'{"headline": "h", "body": "b"', 400, "malformed JSON"),
    "junk after an rss tag": (b"<rss><<<<>>>> junk", 400, "ill-formed feed, no entry readable: "),
    "unsupported XML": (b"<catalog><book/></catalog>", 415, "not a supported"),
    "huge": (b"x" * 6_000_001, 413, "exceeds"),
    # Wrong JSON types deep inside a known format: a reason naming the field, not a crash.
    "dpa teaser a number": (json.dumps({**DPA, "teaser": 5}).encode(), 400, "'teaser': expected a string"),
    "dpa urn a number": (json.dumps({**DPA, "urn": 5}).encode(), 400, "'urn': expected a string"),
    "dpa article a list": (json.dumps({**DPA, "article_html": ["<p>x</p>"]}).encode(), 400,
                           "'article_html': expected a string"),
    "dpa subjects a string": (json.dumps({**DPA, "dpasubject_names": "Politik"}).encode(), 400,
                              "'dpasubject_names': expected an array"),
    "ninjs subjects a number": (json.dumps({**NINJS, "subjects": 5}).encode(), 400, "'subjects': expected an array"),
    "JSON Feed title a number": (json.dumps({**JSON_FEED, "title": 5}).encode(), 400, "'title': expected a string"),
    "JSON nested 100000 deep": (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
    "JSON object nested 50000 deep": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400, "nested too deeply"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_refused_with_a_reason(name, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a parser tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    data, status, words = CASES[name]
    if status is None:
        result = parse_bytes(data)
        assert not result.stories and len(result.errors) == 3
        return
    with pytest.raises(InputError) as info:
        parse_bytes(data)
    assert info.value.status == status
    assert words in info.value.reason


def test_a_parser_bug_becomes_a_reason_naming_the_format(monkeypatch):
    """Whatever a parser did not foresee is still an InputError (HTTP 4xx) naming the format."""
    from services.ingest import formats

    def broken(document):
        raise KeyError("surprise")

    monkeypatch.setitem(formats._JSON_PARSERS, "ninjs", broken)
    with pytest.raises(InputError) as info:
        parse_bytes(json.dumps(NINJS).encode())
    assert info.value.status == 400
    assert info.value.reason == "unreadable ninjs: KeyError: 'surprise'"


def test_one_unreadable_item_of_a_batch_does_not_sink_the_others():
    items = [NINJS, {**NINJS, "uri": "urn:newsml:example.com:2", "subjects": {"name": "x"}}]
    result = parse_bytes(json.dumps(items).encode())
    assert [story.guid for story in result.stories] == ["urn:newsml:example.com:1"]
    assert result.errors[0].index == 1 and "'subjects'" in result.errors[0].reason


def test_control_characters_inside_text_are_removed():
    story = parse_bytes("Breaking\x07 news\x1b about the\x0c budget.\n\nMore text.".encode()).stories[0]
    assert "\x07" not in story.text and "\x1b" not in story.text and "budget" in story.text


def test_wrong_declared_encoding_is_decoded_not_crashed():
    # Declares UTF-8 but is Latin-1 (agencies mislabel): decoded like undeclared text, not refused.
    data = '<?xml version="1.0" encoding="UTF-8"?><nitf><body><body.head><hedline><hl1>Le régime des retraites ' \
           'réformé</hl1></hedline></body.head><body.content><p>Le gouvernement a présenté sa réforme.</p>' \
           '</body.content></body></nitf>'.encode("latin-1")
    story = parse_bytes(data).stories[0]
    assert (story.headline, story.body) == ("Le régime des retraites réformé", "Le gouvernement a présenté sa réforme.")


LATIN_1_NITF = "<nitf><head><title>Grève</title></head><body><body.head><hedline><hl1>Grève générale à Paris</hl1>" \
               "</hedline></body.head><body.content><p>Les syndicats appellent à la grève.</p></body.content>" \
               "</body></nitf>".encode("latin-1")


@pytest.mark.parametrize("content_type", [None, "application/xml; charset=ISO-8859-1"])
def test_xml_without_encoding_declaration_that_is_not_utf8_is_decoded(content_type):
    # The README promises a guess for undeclared encodings; lxml alone refused "Invalid bytes".
    story = parse_bytes(LATIN_1_NITF, content_type=content_type).stories[0]
    assert story.headline == "Grève générale à Paris"
    assert story.body == "Les syndicats appellent à la grève."


@pytest.mark.parametrize("text, charset", [
    ("Москва: рубль укрепился на торгах", "koi8-r"),
    ("Łódź: żółć gęślą jaźń", "iso-8859-2"),
    ("İstanbul'da ağır kış", "iso-8859-9"),
])
def test_content_type_charset_decodes_text_without_a_declared_encoding(text, charset):
    # Short texts like these are where a guess goes wrong; the sender's charset is the better hint.
    for content_type in (f"text/plain; charset={charset}", f'application/xml; charset="{charset}"'):
        data = text.encode(charset)
        if content_type.startswith("application/xml"):
            data = f"<nitf><body><body.head><hedline><hl1>{text}</hl1></hedline></body.head></body></nitf>".encode(
                charset)
            assert parse_bytes(data, content_type=content_type).stories[0].headline == text
        else:
            assert parse_bytes(data, content_type=content_type).stories[0].body == text


def test_a_charset_header_never_overrides_valid_utf8_nor_a_declared_encoding():
    utf8 = "Zürich: Börse schließt höher".encode()
    assert parse_bytes(utf8, content_type="text/plain; charset=iso-8859-1").stories[0].body == \
        "Zürich: Börse schließt höher"
    declared = '<?xml version="1.0" encoding="ISO-8859-1"?><nitf><body><body.head><hedline><hl1>Zürich</hl1>' \
               '</hedline></body.head></body></nitf>'
    story = parse_bytes(declared.encode("latin-1"), content_type="application/xml; charset=koi8-r").stories[0]
    assert story.headline == "Zürich"


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "windows-1252", "UTF-16"])
def test_declared_encodings_are_honoured(encoding):
    text = f'<?xml version="1.0" encoding="{encoding}"?><nitf><body><body.head><hedline><hl1>Société générale ' \
           f'€ résultats</hl1></hedline></body.head><body.content><p>Le bénéfice a progressé.</p></body.content>' \
           f'</body></nitf>'
    if encoding == "ISO-8859-1":
        text = text.replace("€ ", "")
    story = parse_bytes(text.encode(encoding)).stories[0]
    assert story.headline.startswith("Société générale")
    assert story.body == "Le bénéfice a progressé."


def test_undeclared_windows_1252_plain_text():
    data = "Les \x93guillemets\x94 du ministre: \x80 50 millions pour la réforme.".encode("latin-1")
    story = parse_bytes(data).stories[0]
    assert "ministre" in story.body and "réforme" in story.body


def test_ninjs_items_without_uri_get_no_guid_and_a_text_id():
    from shared.contract import story_id

    items = [{"headline": "Vote", "body_text": "The vote.", "provider": "Example"},
             {"headline": "Storm", "body_text": "The storm.", "provider": "Example"}]
    stories = parse_bytes(json.dumps(items).encode()).stories
    assert [story.guid for story in stories] == [None, None]
    assert stories[0].id != stories[1].id
    assert stories[0].id == story_id("Example", None, "Vote", "The vote.")


@pytest.mark.parametrize("field", ["uri", "guid"])
def test_a_ninjs_identifier_that_is_not_a_string_is_named(field):
    item = {field: 12, "headline": "Vote", "body_text": "The vote."}
    with pytest.raises(InputError, match=f"'{field}': expected a string, got a number"):
        parse_bytes(json.dumps(item).encode())
