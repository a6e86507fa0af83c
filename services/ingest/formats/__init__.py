"""Wire formats: detect what an input is, parse it into story envelopes.

    parse_bytes(data, content_type=None, filename=None) -> ParseResult
    detect_format(data, content_type=None, filename=None) -> str

Every parser yields shared.contract.Story objects; a whole input that cannot be
used raises InputError(reason, status) and one bad item of a batch becomes an
ItemError, so nothing is dropped without a reason. Detection reads the
content (JSON shape, XML root element, SGML/control-character framing); the
Content-Type is only a hint: its charset decodes undeclared text, and text/plain
makes content that fails to parse as JSON or XML ("[CORRECTED] ...", "<Breaking>
...") the plain-text story the sender said it is rather than malformed JSON/XML.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Callable

from services.ingest.formats.common import json_type
from services.ingest.formats.control_framed import looks_control_framed, parse_anpa1312, parse_iptc7901
from services.ingest.formats.digitalwires import looks_like_digitalwires, parse_digitalwires
from services.ingest.formats.envelope import parse_envelope
from services.ingest.formats.errors import InputError, ItemError, ParseResult, item_limit, unexpected_reason
from services.ingest.formats.newsml_1_2 import parse_newsml_1_2
from services.ingest.formats.newsml_g2 import G2_ROOTS, parse_newsml_g2
from services.ingest.formats.ninjs import looks_like_ninjs, parse_ninjs
from services.ingest.formats.nitf import parse_nitf
from services.ingest.formats.plaintext import parse_plaintext
from services.ingest.formats.reuters_sgml import looks_like_reuters_sgml, parse_reuters_sgml
from services.ingest.formats.syndication import parse_json_feed, parse_xml_feed
from services.ingest.formats.text_decoding import charset_of, decode_text, looks_binary, undeclared_xml_as_utf8
from services.ingest.formats.xml_nav import local_name_of
from services.ingest.formats.xml_safety import parse_xml

__all__ = ["InputError", "ItemError", "ParseResult", "detect_format", "parse_bytes"]

log = logging.getLogger(__name__)

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


def _load_json(data: bytes, charset: str | None = None) -> object:
    try:
        return json.loads(decode_text(data, charset=charset))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:  # json's decoder recurses once per nested array/object
        raise InputError("JSON nested too deeply to read") from exc


def _says_plain_text(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "text/plain"


# A whole input that is one JSON scalar (null, 12345, "hello", true) is a client sending
# the wrong thing, not a one-word plain-text story; it starts with one of these.
_JSON_SCALAR_START = re.compile(rb'(?:"|-?\d|null|true|false)')


def _bare_json_value(data: bytes) -> str | None:
    """The JSON type of an input that is a single JSON scalar, else None."""
    text = data.strip(b"\xef\xbb\xbf \t\r\n")
    if len(text) > 10_000 or not _JSON_SCALAR_START.match(text):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None  # ordinary text that merely starts with a quote or a number
    return json_type(value) if not isinstance(value, (dict, list)) else None


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
    charset = charset_of(content_type)
    plain = _says_plain_text(content_type)
    if head.startswith((b"{", b"[")):
        try:
            return _json_kind(_load_json(data, charset))
        except InputError:
            return "plaintext" if plain else "envelope"
    if head.startswith(b"<"):
        try:
            data = undeclared_xml_as_utf8(data, charset)
            return _xml_kind(parse_xml(data))
        except InputError:
            if plain:
                return "plaintext"
            if b"<feed" in data[:4096]:
                return "atom"
            return "rss" if any(marker in data[:4096] for marker in _FEED_MARKERS) else "xml"
    if looks_binary(data):
        return "binary"
    return "plaintext"


DEFAULT_MAX_BYTES = 5_000_000  # the same default as WIRESTREAM_MAX_ITEM_BYTES


def parse_bytes(data: bytes, *, content_type: str | None = None, filename: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES, max_items: int | None = None) -> ParseResult:
    """`max_items`: refuse (413) an input of more items than this before reading them."""
    with item_limit(max_items):
        return _parse_bytes(data, content_type, max_bytes)


def _parse_bytes(data: bytes, content_type: str | None, max_bytes: int) -> ParseResult:
    if len(data) > max_bytes:
        raise InputError(f"item of {len(data)} bytes exceeds the limit of {max_bytes}", status=413)
    if not data.strip():
        raise InputError("empty item")
    fmt = "input"
    try:
        # The Content-Type's charset is a hint for text that does not declare its encoding.
        fmt, parse = _dispatch(_as_utf8(data), charset_of(content_type), _says_plain_text(content_type))
        return parse()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - see below
        # A parser met something it did not foresee (a number where text belongs, nesting
        # deeper than the stack): still bad input, so a 4xx naming the format and the
        # problem, never a 500 or a traceback that stops a drop folder or a CLI run.
        log.warning("%s parser failed on an input: %r", fmt, exc, exc_info=not isinstance(exc, RecursionError))
        raise InputError(f"unreadable {fmt}: {unexpected_reason(exc)}") from exc


def _dispatch(data: bytes, charset: str | None, plain: bool = False) -> tuple[str, Callable[[], ParseResult]]:
    """(format, the call that parses it): detection and parsing read the bytes once.
    `plain`: the Content-Type said text/plain, so text that is not JSON/XML is plain text."""
    # Formats that legitimately carry control characters come before the binary check.
    framed = looks_control_framed(data)
    if framed == "anpa1312":
        return framed, lambda: parse_anpa1312(decode_text(data, allow_controls=True, charset=charset))
    if framed == "iptc7901":
        return framed, lambda: parse_iptc7901(decode_text(data, allow_controls=True, charset=charset))
    if looks_like_reuters_sgml(data):
        return "reuters-sgml", lambda: parse_reuters_sgml(decode_text(data, allow_controls=True, charset=charset))
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        try:
            document = _load_json(data, charset)
        except InputError:
            if plain:
                return _plaintext(data, charset)
            raise
        kind = _json_kind(document)
        return kind, lambda: _JSON_PARSERS[kind](document)
    if head.startswith(b"<"):
        data = undeclared_xml_as_utf8(data, charset)
        try:
            root = parse_xml(data)
        except InputError:
            # Real feeds are often not well-formed XML (HTML entities, stray declarations);
            # feedparser's lenient reader copes, and still never expands declared entities.
            if plain:
                return _plaintext(data, charset)
            if any(marker in data[:4096] for marker in _FEED_MARKERS):
                return "feed", lambda: parse_xml_feed(data)
            raise
        kind = _xml_kind(root)
        if kind in ("rss", "atom"):
            return kind, lambda: parse_xml_feed(data)
        if kind not in _XML_PARSERS:
            raise InputError(f"{kind} is not a supported news format", status=415)
        return kind, lambda: _XML_PARSERS[kind](root)
    if looks_binary(data):
        raise InputError("binary content, not a text news format", status=415)
    bare = _bare_json_value(data)
    if bare:
        raise InputError(f"a bare JSON value ({bare}) is not a story: send an object, an array of them, or text")
    return _plaintext(data, charset)


def _plaintext(data: bytes, charset: str | None) -> tuple[str, Callable[[], ParseResult]]:
    return "plaintext", lambda: ParseResult(format="plaintext",
                                            stories=[parse_plaintext(decode_text(data, charset=charset))])


_JSON_PARSERS = {"jsonfeed": parse_json_feed, "dpa-digitalwires": parse_digitalwires, "ninjs": parse_ninjs,
                 "envelope": parse_envelope}
_XML_PARSERS = {"newsml-g2": parse_newsml_g2, "nitf": parse_nitf, "newsml-1.2": parse_newsml_1_2}
