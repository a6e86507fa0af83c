"""Dead-letter records: what failed, why, and where it came from.

Anything a stage cannot process goes to the dead-letter topic instead of being
dropped: the original bytes, the reason, and the source topic/partition/offset
so an operator can find, fix and replay it (`wirestream deadletter` lists them).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field

from shared.contract import utcnow
from shared.messages import OutRecord

# base64 grows a payload by a third and JSON escapes a control character into six bytes; this keeps
# a dead letter well inside the 8 MiB request limit (shared.kafka_io.MAX_REQUEST_BYTES).
MAX_PAYLOAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    service: str
    reason: str
    reason_class: str
    origin: Origin
    payload: bytes = b""
    story_id: str | None = None
    failed_at: str = field(default_factory=lambda: utcnow().isoformat())

    def to_record(self) -> OutRecord:
        body = asdict(self)
        payload = self.payload
        if len(payload) > MAX_PAYLOAD_BYTES:
            # A record near Kafka's size limit plus this wrapper would be refused
            # (the dead letter lost, the service crash-looping on it). The whole
            # original stays at `origin`; the dead letter keeps its head and says so.
            body["payload_truncated"] = {"kept_bytes": MAX_PAYLOAD_BYTES, "original_bytes": len(payload)}
            payload = _cut_at_char_boundary(payload[:MAX_PAYLOAD_BYTES])
        body["payload"] = _payload_text(payload)
        key = (self.story_id or self.origin.key or "").encode("utf-8")
        value = json.dumps(body, ensure_ascii=False).encode("utf-8")  # no \uXXXX escapes tripling non-ASCII text
        return OutRecord(key=key, value=value, headers=[("dead-letter", b"1")])


def _payload_text(payload: bytes) -> dict[str, str]:
    # Keep text readable in the topic; binary junk survives as base64.
    try:
        return {"encoding": "utf-8", "data": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(payload).decode("ascii")}


def _cut_at_char_boundary(head: bytes) -> bytes:
    """Drop the UTF-8 sequence the cut split (at most 3 bytes), so cut text stays text;
    bytes that are not UTF-8 anyway are kept as they are (they go out as base64)."""
    for drop in range(4):
        try:
            head[:len(head) - drop].decode("utf-8")
            return head[:len(head) - drop]
        except UnicodeDecodeError:
            continue
    return head
