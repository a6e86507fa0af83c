"""Bytes -> text for input whose encoding is not declared in the document itself.

The order: UTF-8 (what nearly everything is today; bytes that are valid UTF-8 are read
as UTF-8 whatever a header says), then the charset of the Content-Type, then
charset-normalizer's guess. XML that declares a non-UTF-8 encoding is left to lxml,
which honours the declaration.
"""

from __future__ import annotations

import codecs
import re
from email.message import Message

from charset_normalizer import from_bytes

from services.ingest.formats.errors import InputError

# When charset-normalizer scores several encodings exactly alike (short text, a few accented
# letters), take the one legacy wire and web text most often is: Windows-1252, the WHATWG
# default for unlabelled Western content (cp1250 would turn "Grève" into "Grčve").
_TIE_BREAK = ("cp1252", "latin_1", "iso8859_15")
_XML_DECLARATION = re.compile(rb"""^(\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")


def looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    return bool(sample) and controls / len(sample) > 0.05


def charset_of(content_type: str | None) -> str | None:
    """The Content-Type's charset parameter as a Python codec name; None if absent or unknown."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_content_charset()
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def decode_text(data: bytes, allow_controls: bool = False, charset: str | None = None) -> str:
    """UTF-8 when it is UTF-8 (BOM tolerated), else the Content-Type charset when the bytes
    decode with it, else the best guess (Latin-1, Windows-1252...)."""
    if not allow_controls and looks_binary(data):
        raise InputError("binary content, not a text news format", status=415)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if charset:
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass  # the header was wrong too: guess
    return _guess(data)


def _guess(data: bytes) -> str:
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise InputError("undecodable text: no character encoding fits", status=415)
    for encoding in _TIE_BREAK:
        for match in matches:
            if (match.chaos, match.coherence) == (best.chaos, best.coherence) \
                    and encoding in match.could_be_from_charset:
                return data.decode(encoding)
    return str(best)


def undeclared_xml_as_utf8(data: bytes, charset: str | None = None) -> bytes:
    """XML bytes lxml and feedparser can read as they are, or re-encoded as UTF-8.

    Both read the declared encoding, else UTF-8. XML that is not UTF-8 while it declares
    no other encoding (none at all, or UTF-8 wrongly) would be refused as "Invalid bytes";
    it is decoded like any undeclared text (Content-Type charset, else a guess) instead.
    """
    match = _XML_DECLARATION.match(data[:1024])
    if match:
        try:
            if codecs.lookup(match.group(2).decode("ascii")).name != "utf-8":
                return data  # a declared encoding lxml honours (or refuses by name)
        except LookupError:
            return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    text = decode_text(data, allow_controls=True, charset=charset)
    if match:
        text = re.sub(r"""(<\?xml[^>]*?encoding\s*=\s*["'])[^"']+""", r"\1utf-8", text, count=1)
    return text.encode("utf-8")
