"""Bytes -> text for formats that carry no reliable encoding declaration."""

from __future__ import annotations

from charset_normalizer import from_bytes

from services.ingest.formats.errors import InputError


def looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    return bool(sample) and controls / len(sample) > 0.05


def decode_text(data: bytes, allow_controls: bool = False) -> str:
    """UTF-8 when it is UTF-8 (BOM tolerated), otherwise the best guess (Latin-1, Windows-1252...)."""
    if not allow_controls and looks_binary(data):
        raise InputError("binary content, not a text news format", status=415)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise InputError("undecodable text: no character encoding fits", status=415)
    return str(best)
