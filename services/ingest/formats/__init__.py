"""Wire formats: detect what an input is, parse it into story envelopes.

    parse_bytes(data, content_type=None, filename=None) -> ParseResult
    detect_format(data, content_type=None, filename=None) -> str

Every parser yields shared.contract.Story objects; a whole input that cannot be
used raises InputError(reason, status) and one bad item of a batch becomes an
ItemError, so nothing is dropped without a reason.
"""

from __future__ import annotations

import json

from services.ingest.formats.envelope import parse_envelope
from services.ingest.formats.errors import InputError, ItemError, ParseResult
from services.ingest.formats.plaintext import parse_plaintext
from services.ingest.formats.text_decoding import decode_text, looks_binary

__all__ = ["InputError", "ItemError", "ParseResult", "detect_format", "parse_bytes"]


def detect_format(data: bytes, content_type: str | None = None, filename: str | None = None) -> str:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return "envelope"
    if head.startswith(b"<"):
        return "xml"
    if looks_binary(data):
        return "binary"
    return "plaintext"


def parse_bytes(data: bytes, *, content_type: str | None = None, filename: str | None = None,
                max_bytes: int = 5_000_000) -> ParseResult:
    if len(data) > max_bytes:
        raise InputError(f"item of {len(data)} bytes exceeds the limit of {max_bytes}", status=413)
    if not data.strip():
        raise InputError("empty item")
    kind = detect_format(data, content_type, filename)
    if kind == "binary":
        raise InputError("binary content, not a text news format", status=415)
    if kind == "envelope":
        try:
            document = json.loads(decode_text(data))
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
        return parse_envelope(document)
    if kind == "xml":
        raise InputError("XML wire formats are not supported yet", status=415)
    return ParseResult(format="plaintext", stories=[parse_plaintext(decode_text(data))])
