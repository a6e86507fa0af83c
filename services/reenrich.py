"""`wirestream reenrich`: rebuild the index from news.raw into a new generation, then swap.

1. Park a new generation: behind the read alias with a filter that shows nothing, and
   marked by the reenrich alias. From its next bulk on, the index service writes every
   story to it as well (services/index/generations.py).
2. Read the end offsets of news.raw. Every record produced after this point reaches the
   index service in a bulk planned after the marker existed, so it is mirrored; every
   record before it is read here.
3. Read news.raw from the beginning to those offsets and run each story through the
   current langdetect and extract (the functions the services run, in this process),
   writing into the parked generation with the story's version (`external`, so a story
   never overwrites a kill of its version that is already there; kills `external_gte`).
4. Check that every story the read alias shows is in the new generation.
5. Swap: hold the index service's writes (marker + write blocks, which wait for bulks in
   flight), refresh, compare counts, then one `_aliases` call moves the read and write
   aliases to the new generation; release. Searches see the old generations until that
   call and the new one after it: never both, never neither.

The old generations stay, write-blocked and behind no alias, until someone deletes them
(`wirestream generations`). Design: docs/decisions/*-index-generations.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, TopicPartition

from shared.connection_security import kafka_python_kwargs
from shared.contract import Story
from shared.elastic import VISIBLE_NOW, make_client
from shared.generations import (
    hold_writes, park_new_generation, read_state, release_interrupted_swap, release_writes, swap,
)
from shared.kafka_io import MAX_REQUEST_BYTES, bootstrap_servers, broker_max_message_bytes
from shared.limits import max_record_value_bytes
from shared.messages import DecodeError, decode_story
from shared.runner import Rejected, TransientWriteError, process_isolating_failures
from shared.settings import ExtractSettings, IndexSettings, LangdetectSettings
from services.extract.nlp import Enricher
from services.extract.service import enrich_within_limit
from services.index.writer import ElasticsearchWriter
from services.langdetect.service import detect_languages

log = logging.getLogger(__name__)

VERIFY_ATTEMPTS = 3
WRITE_ATTEMPTS = 8


@dataclass
class ReenrichReport:
    generation: str = ""
    resumed: bool = False
    records: int = 0  # raw records read
    written: int = 0
    already_there: int = 0  # the same or a newer version was in the new generation (mirrored)
    undecodable: int = 0  # records the pipeline dead-letters too
    failed: list[str] = field(default_factory=list)  # "id: reason", enrichment or Elasticsearch refused
    missing: list[str] = field(default_factory=list)  # visible now, absent from the new generation
    swapped: bool = False
    retired: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"generation {self.generation}" + (" (resumed)" if self.resumed else ""),
               f"news.raw records read: {self.records}; written {self.written}, already there {self.already_there}, "
               f"undecodable {self.undecodable}, failed {len(self.failed)}"]
        out += [f"  failed {line}" for line in self.failed[:20]]
        if self.missing:
            out.append(f"{len(self.missing)} visible stories missing from {self.generation}: not swapped "
                       f"(first: {', '.join(self.missing[:10])})")
        if self.swapped:
            out.append(f"swapped: searches and new stories now use {self.generation}; retired (write-blocked, "
                       f"behind no alias): {', '.join(self.retired) or 'none'}")
        return out


# -- news.raw ----------------------------------------------------------------------------

def raw_consumer(settings: IndexSettings) -> KafkaConsumer:
    # No group: reads by assignment and commits nothing, so it disturbs no consumer group.
    return KafkaConsumer(bootstrap_servers=bootstrap_servers(settings), group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", fetch_max_bytes=MAX_REQUEST_BYTES * 2,
                         max_partition_fetch_bytes=MAX_REQUEST_BYTES, **kafka_python_kwargs(settings))


def raw_end_offsets(consumer: KafkaConsumer, topic: str, timeout_s: float = 30.0) -> dict[TopicPartition, int]:
    """Each partition's end offset now: the larger of what ListOffsets answers and the high
    watermark a fetch reports (tansu 0.6 answers ListOffsets(latest) with 1 for every
    partition). Reading past the marker's moment is harmless; stopping short is not."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    if not partitions:
        raise RuntimeError(f"topic {topic} does not exist or has no partitions")
    ends = consumer.end_offsets(partitions)
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    deadline = time.monotonic() + timeout_s
    while any(consumer.highwater(tp) is None for tp in partitions) and time.monotonic() < deadline:
        consumer.poll(timeout_ms=200, max_records=1)
    return {tp: max(ends.get(tp) or 0, consumer.highwater(tp) or 0) for tp in partitions}


def read_until(consumer: KafkaConsumer, ends: dict[TopicPartition, int], batch_size: int) -> Iterator[list]:
    """Batches of records from the beginning of each partition up to (not including) its end offset."""
    todo = {tp for tp, end in ends.items() if end > 0}
    consumer.assign(list(ends))
    consumer.seek_to_beginning(*ends)
    if set(ends) - todo:
        consumer.pause(*(set(ends) - todo))
    idle_polls = 0
    while todo:
        polled = consumer.poll(timeout_ms=1000, max_records=batch_size)
        batch = [record for tp, records in polled.items() for record in records if record.offset < ends[tp]]
        for tp in list(todo):
            if consumer.position(tp) >= ends[tp]:
                todo.discard(tp)
                consumer.pause(tp)
        if batch:
            idle_polls = 0
            yield batch
        else:
            idle_polls += 1
            if idle_polls > 120:
                raise RuntimeError(f"news.raw stopped delivering before its end offsets: {sorted(map(str, todo))}")


# -- enrichment --------------------------------------------------------------------------------

def make_process(und_threshold: float, extract: ExtractSettings, max_record_bytes: int) -> Callable:
    """langdetect then extract, exactly the functions the services run."""
    enricher = Enricher(batch_size=extract.batch_size, extra_names=extract.extra_names)

    def process(stories: list[Story]) -> list[Story | Rejected]:
        return enrich_within_limit(enricher, max_record_bytes, detect_languages(stories, und_threshold))
    return process


def write_stories(writer: ElasticsearchWriter, stories: list[Story], report: ReenrichReport) -> None:
    """One bulk into the parked generation; per-item 429s and outages retried."""
    todo = list(stories)
    for attempt in range(WRITE_ATTEMPTS):
        try:
            result = writer.write(todo)
        except TransientWriteError as exc:
            log.warning("writing to the new generation failed (%s); retrying", exc)
            time.sleep(min(10.0, 0.5 * 2 ** attempt))
            continue
        report.written += len(todo) - len(result.rejected) - len(result.stale) - len(result.retry)
        report.already_there += len(result.stale)
        report.failed += [f"{todo[p].id}: {r.reason_class}: {r.reason[:200]}" for p, r in result.rejected.items()]
        todo = [todo[p] for p in sorted(result.retry)]
        if not todo:
            return
        time.sleep(min(10.0, 0.5 * 2 ** attempt))
    report.failed += [f"{story.id}: not written after {WRITE_ATTEMPTS} attempts" for story in todo]


# -- checks ---------------------------------------------------------------------------------------

def visible_ids(es: Elasticsearch, index: str, query: dict | None = None, page: int = 5000) -> set[str]:
    """Every story id a search of `index` shows (the alias filter applies; `query` adds one)."""
    ids: set[str] = set()
    after = None
    while True:
        body = {"size": page, "sort": [{"id": "asc"}], "_source": False, "query": query or {"match_all": {}}}
        if after is not None:
            body["search_after"] = after
        hits = es.search(index=index, **body)["hits"]["hits"]
        ids.update(hit["_id"] for hit in hits)
        if len(hits) < page:
            return ids
        after = hits[-1]["sort"]


def missing_from(es: Elasticsearch, settings: IndexSettings, parked: str) -> list[str]:
    """Stories the read alias shows now that the parked generation would not show. The
    alias is read first: a story turning visible in between (an embargo lifting) is then
    seen in both, never reported missing for nothing."""
    shown = visible_ids(es, settings.index_alias)
    es.indices.refresh(index=parked)
    return sorted(shown - visible_ids(es, parked, VISIBLE_NOW))


# -- the command --------------------------------------------------------------------------------

def run(settings: IndexSettings, langdetect: LangdetectSettings, extract: ExtractSettings, do_swap: bool = True,
        progress: Callable[[str], None] = print) -> ReenrichReport:
    es = make_client(settings)
    # No ensure_generations here: the template (replicas, ILM) is the setup's and the index
    # service's, whose environment has every index setting; this command only needs aliases.
    if release_interrupted_swap(es, settings, read_state(es, settings)):
        progress("released the writes an interrupted swap held")
    parked, created = park_new_generation(es, settings)
    report = ReenrichReport(generation=parked, resumed=not created)
    progress(f"{'building' if created else 'resuming'} generation {parked}; the index service mirrors new "
             f"stories into it from now on")
    max_record_bytes = max_record_value_bytes(broker_max_message_bytes(settings, settings.topic_enriched))
    process = make_process(langdetect.und_threshold, extract, max_record_bytes)
    writer = ElasticsearchWriter(make_client(settings, retries=False), parked, settings.bulk_max_bytes,
                                 overwrite_equal=False)
    consumer = raw_consumer(settings)
    try:
        ends = raw_end_offsets(consumer, settings.topic_raw)
        total = sum(ends.values())
        progress(f"reading {settings.topic_raw} up to offsets {dict((tp.partition, o) for tp, o in ends.items())}")
        next_report = time.monotonic() + 10
        for records in read_until(consumer, ends, settings.bulk_max_docs):
            report.records += len(records)
            stories = []
            for record in records:
                try:
                    stories.append(decode_story(record.value, list(record.headers or [])))
                except DecodeError:
                    report.undecodable += 1
            enriched = []
            for story, outcome in zip(stories, process_isolating_failures(process, stories)):
                if isinstance(outcome, Rejected):
                    report.failed.append(f"{story.id}: {outcome.reason_class}: {outcome.reason[:200]}")
                else:
                    enriched.append(outcome)
            if enriched:
                write_stories(writer, enriched, report)
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + 10
                progress(f"  {report.records} of at most {total} records")
    finally:
        consumer.close()
    progress(f"read {report.records} records into {parked}")
    if not do_swap:
        return report
    for attempt in range(VERIFY_ATTEMPTS):
        report.missing = missing_from(es, settings, parked)
        if not report.missing:
            break
        time.sleep(1.0 + attempt)
    if report.missing:
        return report
    report.retired = _swap(es, settings, parked, progress)
    report.swapped = True
    return report


def _swap(es: Elasticsearch, settings: IndexSettings, parked: str, progress: Callable[[str], None]) -> list[str]:
    blocked = hold_writes(es, settings, parked)
    try:
        es.indices.refresh(index=parked)
        old = es.count(index=settings.index_alias)["count"]
        new = es.count(index=parked, query=VISIBLE_NOW)["count"]
        if new < old:
            raise RuntimeError(f"{parked} shows {new} stories, the read alias {old}: not swapped")
        retired = swap(es, settings, parked)
    except Exception:
        release_writes(es, settings, parked, blocked + [parked])
        raise
    # The retired generations keep their write block: nothing may land there any more.
    release_writes(es, settings, parked, [parked])
    progress(f"swapped {settings.index_alias} and {settings.index_write_alias} to {parked} "
             f"({new} stories visible, {old} before)")
    return retired
