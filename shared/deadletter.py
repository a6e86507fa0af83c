"""Dead-letter records: what failed, why, how, and where it came from.

Anything a stage cannot process goes to the dead-letter topic instead of being
dropped: the original bytes, the reason, the failure class, and the source
topic/partition/offset so an operator can find, fix and replay it
(`wirestream deadletter` lists them, `wirestream deadletter replay` re-publishes
them to the topic they came from).

Every dead letter has an id (service + origin), so a replay can be recorded
against it: a replay marker (header `dead-letter-replayed`) is written to the
same topic once the re-published record was acknowledged. Nothing is ever
deleted; the marker is what says "done".
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field

from shared.contract import utcnow
from shared.limits import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, max_record_value_bytes
from shared.messages import OutRecord
from shared.runner.failures import ITEM

DEAD_LETTER_HEADER = "dead-letter"
REPLAYED_HEADER = "dead-letter-replayed"

# The largest dead-letter record value; hosts set it from the broker's limit at start-up
# (set_record_limit). A dead letter the broker refused would stop its service.
_max_value_bytes = max_record_value_bytes(KAFKA_DEFAULT_MAX_MESSAGE_BYTES)


def set_record_limit(broker_max_message_bytes: int) -> None:
    global _max_value_bytes
    _max_value_bytes = max_record_value_bytes(broker_max_message_bytes)


def max_value_bytes() -> int:
    return _max_value_bytes


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None


def dead_letter_id(service: str, origin: dict | Origin) -> str:
    """Stable id of a dead letter: the same failure of the same record gets the same id."""
    o = asdict(origin) if isinstance(origin, Origin) else origin
    if o.get("partition") is not None and o.get("offset") is not None:
        return f"{service}:{o['topic']}:{o['partition']}:{o['offset']}"
    return f"{service}:{o.get('topic')}:{o.get('key')}"


@dataclass(frozen=True)
class DeadLetter:
    service: str
    reason: str
    reason_class: str
    origin: Origin
    payload: bytes = b""
    story_id: str | None = None
    failure_class: str = ITEM  # item or transient_exhausted (shared/runner/failures.py)
    attempts: int = 1
    failed_at: str = field(default_factory=lambda: utcnow().isoformat())

    @property
    def id(self) -> str:
        return dead_letter_id(self.service, self.origin)

    def to_record(self, max_bytes: int | None = None) -> OutRecord:
        """The record, cut to fit `max_bytes` (default: the broker's limit).

        A payload near the limit plus this wrapper would be refused (the dead letter
        lost, the service stopped on it). The whole original stays at `origin`; the
        dead letter keeps the payload's head and says so in `payload_truncated`."""
        limit = max_bytes or _max_value_bytes
        body = asdict(self)
        body["id"] = self.id
        key = (self.story_id or self.origin.key or "").encode("utf-8")
        payload = self.payload
        keep = len(payload)
        while True:
            if keep < len(payload):
                body["payload_truncated"] = {"kept_bytes": keep, "original_bytes": len(payload)}
            body["payload"] = _payload_text(_cut_at_char_boundary(payload[:keep]))
            value = json.dumps(body, ensure_ascii=False).encode("utf-8")  # no \uXXXX escapes tripling text
            if len(value) <= limit or keep == 0:
                return OutRecord(key=key, value=value, headers=[(DEAD_LETTER_HEADER, b"1")])
            # Escaping and base64 grow a payload unevenly: shrink in proportion, with a margin.
            keep = max(0, int(keep * (limit / len(value)) * 0.9) - 1024)


def replay_marker(letter_id: str, replayed_to: str, story_id: str | None) -> OutRecord:
    body = {"replayed": letter_id, "to": replayed_to, "story_id": story_id, "at": utcnow().isoformat()}
    return OutRecord(key=letter_id.encode("utf-8"), value=json.dumps(body).encode("utf-8"),
                     headers=[(REPLAYED_HEADER, b"1")])


def _payload_text(payload: bytes) -> dict[str, str]:
    # Keep text readable in the topic; binary junk survives as base64.
    try:
        return {"encoding": "utf-8", "data": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(payload).decode("ascii")}


def payload_bytes(payload: dict) -> bytes:
    """The original bytes back from a dead letter's `payload`."""
    if payload.get("encoding") == "base64":
        return base64.b64decode(payload.get("data", ""))
    return str(payload.get("data", "")).encode("utf-8")


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
