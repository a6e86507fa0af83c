"""Reading and replaying the dead-letter topic (`wirestream deadletter ...`).

Dead letters are never deleted. Replaying one re-publishes its original bytes to the
topic it came from and, once Kafka acknowledged that, writes a replay marker for it
to the dead-letter topic; a later replay skips letters with a marker. A letter whose
story is already indexed at the same or a newer version is skipped too (it was
re-sent some other way); so is one that cannot be replayed (its payload was cut to fit
the topic, or it came from outside Kafka, like a feed entry).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from kafka import KafkaConsumer, TopicPartition

from shared.contract import SCHEMA_VERSION, SCHEMA_VERSION_HEADER, Story
from shared.deadletter import REPLAYED_HEADER, dead_letter_id, payload_bytes, replay_marker
from shared.kafka_io import bootstrap_servers, make_producer, pipeline_topics, send_confirmed
from shared.messages import OutRecord, header_value
from shared.settings import CommonSettings

_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str | None) -> datetime | None:
    """'30m', '2h', '1d' (ago) or an ISO date/time (UTC when no zone is given)."""
    if not text:
        return None
    match = _RELATIVE.match(text.strip())
    if match:
        return datetime.now(timezone.utc) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"--since {text!r}: use 30m, 2h, 1d or an ISO date/time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Selection:
    service: str | None = None
    reason_class: str | None = None
    failure_class: str | None = None
    since: datetime | None = None

    def matches(self, letter: dict) -> bool:
        if self.service and letter.get("service") != self.service:
            return False
        if self.reason_class and letter.get("reason_class") != self.reason_class:
            return False
        if self.failure_class and letter.get("failure_class", "item") != self.failure_class:
            return False
        if self.since:
            try:
                failed_at = datetime.fromisoformat(letter.get("failed_at", ""))
            except ValueError:
                return False
            if failed_at < self.since:
                return False
        return True


@dataclass
class DeadLetterLog:
    """The dead-letter topic read from the start: letters in order, and replay markers."""

    letters: list[dict] = field(default_factory=list)
    replayed: dict[str, dict] = field(default_factory=dict)  # letter id -> its marker

    def add(self, record) -> None:
        try:
            body = json.loads(record.value)
        except (TypeError, ValueError):
            return  # not written by us; nothing to list or replay
        if header_value(record.headers, REPLAYED_HEADER) is not None:
            self.replayed[body.get("replayed", "")] = body
            return
        body.setdefault("id", dead_letter_id(body.get("service", "?"), body.get("origin") or {}))
        body["_at"] = f"{record.partition}@{record.offset}"
        self.letters.append(body)


def _consumer(settings: CommonSettings) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=bootstrap_servers(settings), group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", fetch_max_bytes=32 * 1024 * 1024,
                         max_partition_fetch_bytes=16 * 1024 * 1024)


def read_log(settings: CommonSettings, follow: bool = False, poll_s: float = 1.0) -> Iterator[DeadLetterLog]:
    """Yields the log once read to the end; with follow, again after each new batch."""
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(settings.topic_deadletter, p)
                      for p in sorted(consumer.partitions_for_topic(settings.topic_deadletter) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        log = DeadLetterLog()
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    log.add(record)
        yield log
        while follow:
            new = False
            for records in consumer.poll(timeout_ms=int(poll_s * 1000)).values():
                for record in records:
                    log.add(record)
                    new = True
            if new:
                yield log
            else:
                time.sleep(0.2)  # noida-db answers an empty fetch at once
    finally:
        consumer.close()


def describe(letter: dict, marker: dict | None = None) -> str:
    origin = letter.get("origin") or {}
    where = f"{origin.get('topic')}[{origin.get('partition')}]@{origin.get('offset')}"
    replayed = f"  (replayed {marker.get('at')})" if marker else ""
    truncated = "  (payload cut)" if letter.get("payload_truncated") else ""
    return (f"{letter.get('failed_at')} {letter.get('service')} {letter.get('failure_class', 'item')}/"
            f"{letter.get('reason_class')}: {letter.get('reason')}  <- {where}  id {letter['id']}"
            f"{truncated}{replayed}")


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    already_replayed: list[str] = field(default_factory=list)
    already_indexed: list[str] = field(default_factory=list)
    not_replayable: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"replayed: {len(self.replayed)}",
               f"skipped, replayed before: {len(self.already_replayed)}",
               f"skipped, story already indexed at the same or a newer version: {len(self.already_indexed)}",
               f"not replayable: {len(self.not_replayable)}"]
        out += [f"  {letter_id}: {why}" for letter_id, why in self.not_replayable]
        return out


def replay(settings: CommonSettings, log: DeadLetterLog, selection: Selection, indexed_versions,
           dry_run: bool = False) -> ReplayReport:
    """Re-publish the selected letters to their origin topic, each marked replayed once
    Kafka acknowledged it. `indexed_versions(ids) -> {id: version}` reads what is indexed."""
    report = ReplayReport()
    chosen, stories = [], {}
    topics = set(pipeline_topics(settings)) - {settings.topic_deadletter}
    latest = {letter["id"]: letter for letter in log.letters if selection.matches(letter)}
    for letter_id, letter in latest.items():
        if letter_id in log.replayed:
            report.already_replayed.append(letter_id)
            continue
        origin = letter.get("origin") or {}
        if letter.get("payload_truncated"):
            report.not_replayable.append((letter_id, "its payload was cut to fit the topic; the original is at "
                                                     f"{origin.get('topic')}[{origin.get('partition')}]@{origin.get('offset')}"))
            continue
        if origin.get("topic") not in topics:
            report.not_replayable.append((letter_id, f"it came from {origin.get('topic')}, not a pipeline topic"))
            continue
        raw = payload_bytes(letter.get("payload") or {})
        try:
            stories[letter_id] = Story.from_json(raw)
        except ValueError:
            pass  # junk stays junk: replayed as it was, it will be dead-lettered again
        chosen.append((letter_id, letter, raw))
    versions = indexed_versions(sorted({s.id for s in stories.values()})) if stories else {}
    to_send = []
    for letter_id, letter, raw in chosen:
        story = stories.get(letter_id)
        if story is not None and versions.get(story.id, -1) >= story.version:
            report.already_indexed.append(letter_id)
            continue
        to_send.append((letter_id, letter, raw, story))
    if dry_run or not to_send:
        report.replayed = [letter_id for letter_id, *_ in to_send]
        return report
    producer = make_producer(settings, client_id="wirestream-deadletter-replay")
    try:
        for letter_id, letter, raw, story in to_send:
            origin = letter["origin"]
            headers = [(SCHEMA_VERSION_HEADER, str(SCHEMA_VERSION).encode())] if story is not None else []
            key = (origin.get("key") or "").encode("utf-8") or None
            send_confirmed(producer, origin["topic"], [OutRecord(key=key, value=raw, headers=headers)])
            # Only after the re-published record is acknowledged is the letter marked done.
            send_confirmed(producer, settings.topic_deadletter,
                           [replay_marker(letter_id, origin["topic"], letter.get("story_id"))])
            report.replayed.append(letter_id)
    finally:
        producer.close()
    return report


def elasticsearch_versions(settings, es):
    """{story id: version} of the stories searchable now (through the alias, so whatever
    index generations it covers). A killed story is not found, and an older version
    replayed over its tombstone is refused as stale by the index service anyway."""
    def versions(ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            hits = es.search(index=settings.index_alias, query={"ids": {"values": chunk}}, size=len(chunk),
                             version=True, source=False)["hits"]["hits"]
            found.update({hit["_id"]: hit["_version"] for hit in hits})
        return found
    return versions
