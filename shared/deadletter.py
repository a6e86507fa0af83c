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
        body["payload"] = _payload_text(self.payload)
        key = (self.story_id or self.origin.key or "").encode("utf-8")
        return OutRecord(key=key, value=json.dumps(body).encode("utf-8"), headers=[("dead-letter", b"1")])


def _payload_text(payload: bytes) -> dict[str, str]:
    # Keep text readable in the topic; binary junk survives as base64.
    try:
        return {"encoding": "utf-8", "data": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(payload).decode("ascii")}
