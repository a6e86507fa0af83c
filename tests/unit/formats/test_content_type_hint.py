"""The Content-Type is a hint: text/plain makes text that merely looks like JSON or
XML a plain-text story; a bare JSON value is refused whatever the Content-Type."""

from __future__ import annotations

import pytest

from services.ingest.formats import InputError, detect_format, parse_bytes

CORRECTED = b"[CORRECTED] Minister resigns\n\nThe minister resigned on Monday after a vote."
BREAKING = b"<Breaking> Minister resigns\n\nThe minister resigned on Monday after a vote."


@pytest.mark.parametrize("data", [CORRECTED, BREAKING])
def test_text_plain_that_looks_like_json_or_xml_is_read_as_plain_text(data):
    result = parse_bytes(data, content_type="text/plain; charset=utf-8")
    assert result.format == "plaintext"
    assert result.stories[0].headline == data.split(b"\n", 1)[0].decode()
    assert detect_format(data, content_type="text/plain") == "plaintext"


@pytest.mark.parametrize("data, reason", [(CORRECTED, "malformed JSON"), (BREAKING, "malformed XML")])
@pytest.mark.parametrize("content_type", [None, "application/json", "application/xml"])
def test_without_the_hint_such_text_is_still_malformed_json_or_xml(data, reason, content_type):
    with pytest.raises(InputError, match=reason):
        parse_bytes(data, content_type=content_type)


def test_text_plain_does_not_turn_valid_json_into_text():
    assert parse_bytes(b'{"headline": "H", "body": "B"}', content_type="text/plain").format == "envelope"


@pytest.mark.parametrize("data, kind", [(b"null", "null"), (b"12345", "a number"), (b' "hello"\n', "a string"),
                                        (b"true", "a boolean"), (b"-1.5e3", "a number")])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json"])
def test_a_bare_json_value_is_refused_with_a_reason(data, kind, content_type):
    with pytest.raises(InputError, match=rf"bare JSON value \({kind}\)"):
        parse_bytes(data, content_type=content_type)


@pytest.mark.parametrize("data", [b'"We will win," he said on Monday.', b"2024 was a record year for exports."])
def test_text_that_only_starts_like_a_json_value_is_plain_text(data):
    assert parse_bytes(data).format == "plaintext"
