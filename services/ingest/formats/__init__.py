"""Wire formats: detect what an input is, parse it into story envelopes.

    parse_bytes(data, content_type=None, filename=None) -> ParseResult
    detect_format(data, content_type=None, filename=None) -> str

Every parser yields shared.contract.Story objects; a whole input that cannot be
used raises InputError(reason, status) and one bad item of a batch becomes an
ItemError, so nothing is dropped without a reason. Detection reads the
content (JSON shape, XML root element, SGML/control-character framing); the
Content-Type is only a hint.
"""

from __future__ import annotations

import codecs
import json
import re

from services.ingest.formats.control_framed import looks_control_framed, parse_anpa1312, parse_iptc7901
from services.ingest.formats.digitalwires import looks_like_digitalwires, parse_digitalwires
from services.ingest.formats.envelope import parse_envelope
from services.ingest.formats.errors import InputError, ItemError, ParseResult
from services.ingest.formats.newsml_1_2 import parse_newsml_1_2
from services.ingest.formats.newsml_g2 import G2_ROOTS, parse_newsml_g2
from services.ingest.formats.ninjs import looks_like_ninjs, parse_ninjs
from services.ingest.formats.nitf import parse_nitf
from services.ingest.formats.plaintext import parse_plaintext
from services.ingest.formats.reuters_sgml import looks_like_reuters_sgml, parse_reuters_sgml
from services.ingest.formats.syndication import parse_json_feed, parse_xml_feed
from services.ingest.formats.text_decoding import decode_text, looks_binary
from services.ingest.formats.xml_nav import local_name_of
from services.ingest.formats.xml_safety import parse_xml

__all__ = ["InputError", "ItemError", "ParseResult", "detect_format", "parse_bytes"]

FEED_ROOTS = {"rss": "rss", "RDF": "rss", "feed": "atom", "entry": "atom"}
_FEED_MARKERS = (b"<rss", b"<rdf:RDF", b"<feed")


def _json_kind(document: object) -> str:
    if isinstance(document, dict) and str(document.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return "jsonfeed"
    if looks_like_digitalwires(document):
        return "dpa-digitalwires"
    if looks_like_ninjs(document):
        return "ninjs"
    return "envelope"


def _xml_kind(root) -> str:
    name = local_name_of(root)
    if name in FEED_ROOTS:
        return FEED_ROOTS[name]
    if name in G2_ROOTS:
        return "newsml-g2"
    if name == "nitf":
        return "nitf"
    if name == "NewsML":
        return "newsml-1.2"
    return f"unknown XML <{name}>"


def _load_json(data: bytes) -> object:
    try:
        return json.loads(decode_text(data))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _as_utf8(data: bytes) -> bytes:
    """UTF-16/32 input (marked by its BOM) re-encoded as UTF-8, so one byte-level detector serves all."""
    if not data.startswith(_UTF16_32_BOMS):
        return data
    encoding = "utf-32" if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) else "utf-16"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"invalid {encoding} text: {exc.reason}", status=415) from exc
    text = re.sub(r'(<\?xml[^>]*encoding=["\'])[^"\']+', r"\1utf-8", text, count=1)
    return text.encode("utf-8")


def detect_format(data: bytes, content_type: str | None = None, filename: str | None = None) -> str:
    data = _as_utf8(data)
    framed = looks_control_framed(data)
    if framed:
        return framed
    if looks_like_reuters_sgml(data):
        return "reuters-sgml"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        try:
            return _json_kind(_load_json(data))
        except InputError:
            return "envelope"
    if head.startswith(b"<"):
        try:
            return _xml_kind(parse_xml(data))
        except InputError:
            if b"<feed" in data[:4096]:
                return "atom"
            return "rss" if any(marker in data[:4096] for marker in _FEED_MARKERS) else "xml"
    if looks_binary(data):
        return "binary"
    return "plaintext"


def parse_bytes(data: bytes, *, content_type: str | None = None, filename: str | None = None,
                max_bytes: int = 5_000_000) -> ParseResult:
    if len(data) > max_bytes:
        raise InputError(f"item of {len(data)} bytes exceeds the limit of {max_bytes}", status=413)
    if not data.strip():
        raise InputError("empty item")
    data = _as_utf8(data)
    # Formats that legitimately carry control characters come before the binary check.
    framed = looks_control_framed(data)
    if framed == "anpa1312":
        return parse_anpa1312(decode_text(data, allow_controls=True))
    if framed == "iptc7901":
        return parse_iptc7901(decode_text(data, allow_controls=True))
    if looks_like_reuters_sgml(data):
        return parse_reuters_sgml(decode_text(data, allow_controls=True))
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        document = _load_json(data)
        kind = _json_kind(document)
        if kind == "jsonfeed":
            return parse_json_feed(document)
        if kind == "dpa-digitalwires":
            return parse_digitalwires(document)
        if kind == "ninjs":
            return parse_ninjs(document)
        return parse_envelope(document)
    if head.startswith(b"<"):
        try:
            root = parse_xml(data)
        except InputError:
            # Real feeds are often not well-formed XML (HTML entities, stray declarations);
            # feedparser's lenient reader copes, and still never expands declared entities.
            if any(marker in data[:4096] for marker in _FEED_MARKERS):
                return parse_xml_feed(data)
            raise
        kind = _xml_kind(root)
        if kind in ("rss", "atom"):
            return parse_xml_feed(data)
        if kind == "newsml-g2":
            return parse_newsml_g2(root)
        if kind == "nitf":
            return parse_nitf(root)
        if kind == "newsml-1.2":
            return parse_newsml_1_2(root)
        raise InputError(f"{kind} is not a supported news format", status=415)
    if looks_binary(data):
        raise InputError("binary content, not a text news format", status=415)
    return ParseResult(format="plaintext", stories=[parse_plaintext(decode_text(data))])
