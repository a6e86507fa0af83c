"""End to end: stories/s into the alias `news`, 202-to-searchable latency, CPU and memory of every process.

    python -m bench.e2e [--sizes 1000,4000,20000] [--quick] [--out bench/results/e2e.json]

What is measured, and how (bench/README.md explains every figure of e2e.json):

1. Throughput, per size. A fresh stack as `make run` starts it (noida-db, the four
   services under supervisord, extract one process per core) on its own ports and
   run folder, so noida's state starts empty at every size. After a warm-up of a
   few stories of every language the run brings (consumer groups joined, every
   worker's models loaded and used once, as the raw reference's are), the harness
   POSTs the size's stories to /v1/items as JSON envelope batches of --http-batch,
   one request after the other from one thread, as fast as ingest answers 202
   (the stories then queue in news.raw; the pipeline takes them as fast as it can).
   Every 0.5 s it reads how many the index stage has written (its metrics, which
   cost noida nothing); once all are written it refreshes the generations and
   counts them there, and the run ends at the start of the refresh after which
   all are counted (so late by at most one poll); one count through the alias
   `news` confirms they are searchable there. Stories/s = size / (end - first
   send); ms per story = its inverse. "steady" is the same between the polls that
   saw 10 % and 90 % written (start-up and tail left out).
2. The raw reference, right before and right after each size's pipeline run (the
   figure is over both passes), on the same cores with the stack down: spaCy NER-only (services.extract.nlp.load_ner), one warm
   process per core, nlp.pipe (extract's batch size) on exactly the texts extract
   reads (Story.text of the parsed envelopes), each with the model of the language
   langdetect gives it (stories in a language without a model: no NER, as in
   extract). Ratio = end-to-end stories/s / raw stories/s.
3. CPU and memory (bench/procstat.py), sampled every 0.5 s from /proc: every
   process of the stack (supervisord; every service and its children: the stage
   worker process and multiprocessing's resource tracker; noida-db, found by its
   data dir), the harness itself, and the whole machine. Per phase: CPU seconds,
   cores (CPU s / wall s), CPU ms per story, peak RSS (VmHWM), bytes written; the
   stack's sum of peaks and peak of the sum; "other" CPU = machine - stack -
   harness, and machine_busy when that is above 0.2 cores on average.
4. Idle CPU: the last size's stack, right after its run, for --idle-cpu-seconds
   with nothing arriving.
5. Latency, on one more fresh stack (warmed up): one story per POST, idle (one
   every --idle-interval s on average) and at half the largest size's end-to-end
   stories/s, with gaps uniform in [0.5, 1.5] x the mean (on a fixed beat every
   story would meet the 1 s refresh at one phase). One thread asks every 50 ms
   whether the stories that got their 202 are searchable yet, all pending ids in
   one request; a story's latency runs from its 202 to the answer that first had
   it. The records' timestamps on news.raw, news.detected and news.enriched, read as
   they arrive, split each latency into hops. noida-db refreshes an index only when a
   search comes a second or more after its last refresh, and every search or
   refresh there reads the whole index (bench/noida_costs.py: a search 273 ms of
   CPU at 3,000 stories), so 20 searches a second would soon take a core from the
   stack. So by default the question is a get by id with
   realtime=false (it sees refreshed documents only, as a search does; ~1 ms).
   The embedded stack turns the server's own refresh off (index.refresh_interval -1:
   the index service refreshes what it wrote), so nothing else refreshes; on a stack
   that leaves it on, a second thread plays Elasticsearch's background refresh: a
   _refresh every second, its noida-db CPU counted. One ids
   search on the alias at the end confirms every story found is searchable there.
   --latency-probe search polls with ids searches on the alias instead (what a
   user searching every 50 ms sees; fine for small indexes only).

A benchmark: it asserts nothing, and on a shared machine its figures are as
noisy as the machine (see `machine` in every phase).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import multiprocessing
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka import KafkaConsumer, TopicPartition  # noqa: E402

from bench import procstat  # noqa: E402
from services import stack  # noqa: E402
from shared.fetch_backoff import install_for_kafka_python  # noqa: E402
from services.cli import CORES  # noqa: E402
from services.ingest.formats import parse_bytes  # noqa: E402
from services.langdetect.service import detect_languages  # noqa: E402
from shared.elastic import make_client  # noqa: E402
from shared.generations import live_generations  # noqa: E402
from shared.settings import ExtractSettings, IndexSettings, LangdetectSettings  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402
from tests.integration.conftest import _free_port_block, _ports_outside_block  # noqa: E402

SAMPLES = REPO / "services" / "ingest" / "samples"
INDEX = IndexSettings()
COUNT_POLL_S = 0.5
LATENCY_POLL_S = 0.05
MB = 1024 * 1024


# -- stories ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BaseStory:
    headline: str
    body: str
    language: str  # as langdetect decides it
    text: str  # what extract reads (Story.text)


def base_stories() -> tuple[str, list[BaseStory]]:
    """Reuters-21578 (the documents with a body) when present, else the bundled samples; each
    parsed as ingest will parse its envelope and given the language langdetect gives it."""
    reuters = shared_data_dir() / "reuters21578" / "reut2-000.sgm"
    pairs, origin = [], ""
    if reuters.is_file():
        stories = parse_bytes(reuters.read_bytes(), filename=reuters.name, max_bytes=50_000_000).stories
        pairs = [(s.headline, s.body) for s in stories if s.body.strip()]
        origin = f"Reuters-21578 {reuters.name}"
    if not pairs:
        for path in sorted(SAMPLES.glob("*.xml")) + sorted(SAMPLES.glob("*.json")):
            try:
                pairs += [(s.headline, s.body) for s in parse_bytes(path.read_bytes(), filename=path.name).stories]
            except Exception:  # noqa: BLE001 - a sample the parser refuses is no story for us
                continue
        origin = f"bundled samples in {SAMPLES.relative_to(REPO)}"
    parsed = []
    for headline, body in pairs:
        result = parse_bytes(json.dumps(envelope(headline, body, "E2E", "probe")).encode())
        parsed += result.stories
    detected = detect_languages(parsed, LangdetectSettings().und_threshold)
    return origin, [BaseStory(s.headline, s.body, s.language or "und", s.text) for s in detected]


def envelope(headline: str, body: str, source: str, guid: str) -> dict:
    return {"guid": guid, "source": source, "headline": headline, "body": body}


def envelopes(base: list[BaseStory], n: int, source: str, start: int = 0) -> list[dict]:
    """n envelopes cycling through the base stories, each with a unique guid."""
    run = uuid.uuid4().hex[:8]
    return [envelope(base[(start + i) % len(base)].headline, base[(start + i) % len(base)].body, source,
                     f"e2e-{run}-{source}-{i}") for i in range(n)]


# -- the raw reference ---------------------------------------------------------------------

_models: dict[str, object] = {}


def _load_models(languages: list[str]) -> None:
    from services.extract.nlp import load_ner

    _models.update({lang: load_ner(lang) for lang in languages})


def _pipe(args: tuple[dict[str, list[str]], int]) -> int:
    by_language, batch_size = args
    return sum(sum(1 for _ in _models[lang].pipe(texts, batch_size=batch_size))
               for lang, texts in by_language.items())


class RawNer:
    """nlp.pipe alone in `processes` warm processes (models loaded before any timing, as the
    service's are), each on its share of the texts, with the model of each text's language."""

    def __init__(self, processes: int, base: list[BaseStory], batch_size: int) -> None:
        from services.extract.nlp import MODELS

        self.languages = sorted({s.language for s in base} & set(MODELS))
        self.processes, self.batch_size = processes, batch_size
        self.pool = multiprocessing.get_context("spawn").Pool(processes, _load_models, (self.languages,))
        self.seconds(base[:8 * processes])  # warm up

    def seconds(self, stories: list[BaseStory]) -> float:
        chunks = []
        for i in range(self.processes):
            by_language: dict[str, list[str]] = {}
            for story in stories[i::self.processes]:
                if story.language in self.languages:
                    by_language.setdefault(story.language, []).append(story.text)
            chunks.append((by_language, self.batch_size))
        started = time.monotonic()
        self.pool.map(_pipe, chunks, chunksize=1)
        return time.monotonic() - started

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


# -- the stack -----------------------------------------------------------------------------

@contextmanager
def fresh_stack(keep_run_dir: bool = False) -> Iterator[stack.StackConfig]:
    """The stack `make run` starts (extract one per core) on free ports with an empty run folder."""
    base = _free_port_block()
    kafka_port, es_port, http_port = _ports_outside_block(base, 3)
    config = stack.StackConfig(
        run_dir=Path(tempfile.mkdtemp(prefix="wirestream-e2e-")), kafka_port=kafka_port,
        elasticsearch_port=es_port, http_port=http_port, extract_replicas=CORES,
        metrics_ports={"ingest": base, "langdetect": base + 1, "extract": base + 2, "index": base + 3},
    )
    try:
        stack.up(config)
        yield config
    finally:
        stack.down(config)
        if not keep_run_dir:
            shutil.rmtree(config.run_dir, ignore_errors=True)


def stack_processes(config: stack.StackConfig) -> Callable[[], dict[int, str]]:
    """A discover() for procstat: pid -> name for supervisord, every program and its
    descendants (worker, resource_tracker), and noida-db (the process serving this data dir)."""
    program_names: dict[int, str] = {}
    noida: list[int] = []
    data_dir = str(config.run_dir / "noida")

    def discover() -> dict[int, str]:
        ppids = procstat.parents()
        pid_file = config.run_dir / "supervisord.pid"
        found: dict[int, str] = {}
        supervisord = int(pid_file.read_text()) if pid_file.exists() else 0
        if supervisord in ppids:
            found[supervisord] = "supervisord"
            programs = [pid for pid, parent in ppids.items() if parent == supervisord]
            if any(pid not in program_names for pid in programs):
                program_names.update({info["pid"]: info["name"] for info in stack.process_info(config)})
            for pid in programs:
                name = program_names.get(pid, f"pid-{pid}")
                found[pid] = name
                for child in procstat.descendants(pid, ppids):
                    kind = "resource_tracker" if "resource_tracker" in procstat.cmdline(child) else "worker"
                    found[child] = f"{name}/{kind}"
        if not noida or noida[0] not in ppids or data_dir not in procstat.cmdline(noida[0]):
            noida[:] = [pid for pid in ppids if "noida-db" in (cmd := procstat.cmdline(pid)) and data_dir in cmd][:1]
        for pid in noida:
            found[pid] = "noida-db"
            found.update({child: "noida-db/child" for child in procstat.descendants(pid, ppids)})
        return found

    return discover


class Ingest:
    """The stack's HTTP API, as a client would use it (retrying 503 and refused connections)."""

    def __init__(self, config: stack.StackConfig) -> None:
        self.url = f"http://127.0.0.1:{config.http_port}/v1/items"

    def post(self, payload: object) -> dict:
        data = json.dumps(payload).encode()
        for _ in range(120):
            request = urllib.request.Request(self.url, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return json.load(response)
            except urllib.error.HTTPError as exc:
                if exc.code != 503:
                    raise RuntimeError(f"ingest answered {exc.code}: {exc.read()[:300]!r}") from exc
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("ingest did not accept a batch for 60 s")


class Search:
    """What the harness asks noida-db, chosen for cost. In noida-db every search and every refresh
    reads the whole index (bench/noida_costs.py: a match_none search 49 ms of CPU at 500 stories,
    273 ms at 3,000; a refresh 27 and 156 ms), while a get by id costs ~1.5 ms at any size. A get
    with realtime=false sees only refreshed documents, as a search does, so it tells when a story
    became searchable at almost no cost."""

    def __init__(self, config: stack.StackConfig) -> None:
        self.es = make_client(IndexSettings(elasticsearch_url=f"http://127.0.0.1:{config.elasticsearch_port}"))

    def generations(self) -> list[str]:
        """The live generations (the stack rolls one over every 2,500 stories or so, so a run
        of 20k spans several)."""
        return live_generations(self.es, INDEX)

    def refresh_and_count(self, source: str) -> int:
        """Refresh the generations, then count the stories of `source` in them (costly: at the end only)."""
        indices = ",".join(self.generations())
        self.es.indices.refresh(index=indices)
        return self.es.count(index=indices, query={"term": {"source": source}})["count"]

    def alias_count(self, source: str) -> int:
        return self.es.count(index=INDEX.index_alias, query={"term": {"source": source}})["count"]

    def searchable(self, ids: list[str]) -> list[str]:
        """The ids a search would find now (get by id, realtime=false, in every generation)."""
        wanted = [{"_index": index, "_id": i} for index in self.generations() for i in ids]
        docs = self.es.mget(docs=wanted, realtime=False, source=False)["docs"]
        return sorted({doc["_id"] for doc in docs if doc.get("found")})

    def found_by_alias_search(self, ids: list[str]) -> list[str]:
        hits = self.es.search(index=INDEX.index_alias, query={"ids": {"values": ids}}, size=len(ids),
                              source=False)["hits"]["hits"]
        return [hit["_id"] for hit in hits]

    def found_through_alias(self, ids: list[str]) -> int:
        """One ids search on the alias per 1,000 ids: the check that the alias shows them."""
        return sum(len(self.found_by_alias_search(ids[start:start + 1000])) for start in range(0, len(ids), 1000))


def indexed_counter(config: stack.StackConfig) -> Callable[[], int]:
    """Stories the index stage has written to Elasticsearch (its wirestream_messages_out_total),
    read from its /metrics: free for noida-db, a millisecond for the index process."""
    url = stack.health_urls(config)["index"].replace("/healthz", "/metrics")

    def indexed() -> int:
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("wirestream_messages_out_total{")))

    return indexed


def warm_up(config: stack.StackConfig, base: list[BaseStory]) -> None:
    """A few stories through every stage before timing: groups joined, every worker has run once
    and has loaded the model of every language the run brings (the raw reference loads its
    models before timing too; a worker loads a model it does not preload on the first story in
    its language, which holds that batch for seconds: WIRESTREAM_PRELOAD_MODELS)."""
    first_of_language = {story.language: story for story in reversed(base)}
    # 4 per core of each language: keyed by unique guids, they reach every extract worker.
    warm = [story for _, story in sorted(first_of_language.items()) for _ in range(4 * CORES)]
    batch = envelopes(warm, len(warm), "E2E-WARMUP")
    Ingest(config).post(batch)
    search, deadline = Search(config), time.monotonic() + 300
    while search.refresh_and_count("E2E-WARMUP") < len(batch):
        if time.monotonic() > deadline:
            raise RuntimeError("warm-up stories did not become searchable in 300 s")
        time.sleep(COUNT_POLL_S)


# -- phases ----------------------------------------------------------------------------------

def throughput(config: stack.StackConfig, sampler: procstat.Sampler, batch: list[dict], http_batch: int) -> dict:
    """Send the batch as fast as ingest takes it; end when all are searchable (see the module doc)."""
    n, source = len(batch), batch[0]["source"]
    ingest, search, indexed = Ingest(config), Search(config), indexed_counter(config)
    sent = {"accepted": 0, "done_t": None, "error": None}

    def send() -> None:
        try:
            for start in range(0, n, http_batch):
                sent["accepted"] += len(ingest.post(batch[start:start + http_batch])["accepted"])
        except Exception as exc:  # noqa: BLE001 - reported in the figures, the run goes on to its timeout
            sent["error"] = repr(exc)
        sent["done_t"] = time.monotonic()

    deadline_s = 120 + n / 5  # gives up below 5 stories/s
    baseline = indexed()
    first = sampler.snapshot()
    sender = threading.Thread(target=send, name="sender")
    sender.start()
    marks: dict[str, tuple[int, procstat.Snapshot]] = {}  # the polls that first saw 10 % and 90 % indexed
    end_t, done, counted, progress_t = None, 0, 0, first.t
    while time.monotonic() - first.t < deadline_s:
        time.sleep(max(0.0, COUNT_POLL_S - (time.monotonic() - first.t) % COUNT_POLL_S))
        polled_t, now_done = time.monotonic(), indexed() - baseline
        progress_t, done = (polled_t, now_done) if now_done > done else (progress_t, done)
        for share, label in ((0.1, "p10"), (0.9, "p90")):
            if done >= share * n and label not in marks and (label == "p10" or marks["p10"][0] < done):
                marks[label] = (done, sampler.snapshot())
        # All written (or no progress for 10 s: some may have been dead-lettered): is all searchable?
        if done >= n or (done and polled_t - progress_t > 10):
            counted = search.refresh_and_count(source)
            if counted >= n:
                end_t = polled_t
                break
    last = sampler.snapshot()
    sender.join()
    wall = (end_t or last.t) - first.t
    result = {
        "stories": n,
        "accepted": sent["accepted"],
        "indexed": done,
        "searchable_in_concrete_index": counted,
        "searchable_through_alias": search.alias_count(source),
        "complete": end_t is not None,
        "send_error": sent["error"],
        "wall_s": wall,
        "send_s": (sent["done_t"] or last.t) - first.t,
        "stories_per_s": n / wall if end_t else None,
        "ms_per_story": 1000 * wall / n if end_t else None,
        **procstat.usage(first, last, sampler.series, n),
    }
    if "p90" in marks:  # only when 10 % and 90 % were first seen by different polls
        (done_a, a), (done_b, b) = marks["p10"], marks["p90"]
        steady = procstat.usage(a, b, sampler.series, done_b - done_a)
        result["steady"] = {
            "stories": done_b - done_a,
            "wall_s": steady["machine"]["wall_s"],
            "stories_per_s": (done_b - done_a) / steady["machine"]["wall_s"],
            "cores": {name: e["cores"] for name, e in steady["processes"].items()},
            "cpu_ms_per_story": {name: e["cpu_ms_per_story"] for name, e in steady["processes"].items()},
            "machine": steady["machine"],
        }
    return result


class Refresher:
    """Elasticsearch refreshes a searched index every second (index.refresh_interval 1 s) in the
    background; noida-db refreshes only when a search comes a second or more after its last
    refresh, so with nobody searching nothing ever becomes searchable. This thread plays the
    background refresh (a _refresh every `every_s`) and counts the CPU noida-db spent on it."""

    def __init__(self, config: stack.StackConfig, noida_pid: int | None, every_s: float = 1.0) -> None:
        self.es = Search(config).es
        self.noida_pid, self.every_s = noida_pid, every_s
        self.count, self.noida_cpu_s = 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="refresher", daemon=True)

    def _noida_cpu(self) -> float:
        reading = procstat.read_process(self.noida_pid, "noida-db") if self.noida_pid else None
        return reading.cpu_s if reading else 0.0

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            before = self._noida_cpu()
            self.es.indices.refresh(index=INDEX.index_name)
            self.noida_cpu_s += self._noida_cpu() - before
            self.count += 1
            due += self.every_s

    def __enter__(self) -> Refresher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def latency(config: stack.StackConfig, sampler: procstat.Sampler, stories: list[dict], rate_per_s: float,
            probe: str = "mget", settle_s: float = 60) -> dict:
    """One story per POST at `rate_per_s`; every 50 ms one thread asks whether the stories still
    pending are searchable. Probe "mget": a get by id with realtime=false, with a Refresher playing
    Elasticsearch's 1 s refresh; probe "search": an ids search on the alias (noida-db refreshes
    on it), whose cost grows with the index."""
    ingest, search = Ingest(config), Search(config)
    ask = search.searchable if probe == "mget" else search.found_by_alias_search
    noida = next((pid for pid, name in sampler.discover().items() if name == "noida-db"), None)
    # With the server's own refresh off (the embedded stack's index_refresh_interval -1) the
    # index service alone makes stories visible, as it does for a person searching the desk.
    server_refreshes = config.env.get("WIRESTREAM_INDEX_REFRESH_INTERVAL") != "-1"
    refresher = Refresher(config, noida) if probe == "mget" and server_refreshes else None
    pending: dict[str, float] = {}
    sent_wall: dict[str, float] = {}  # the 202 and the find on the wall clock too, for hop_latencies
    found_wall: dict[str, float] = {}
    lock = threading.Lock()
    sent = {"done_t": None, "error": None}

    # Gaps uniform in [0.5, 1.5] x the mean: stories sent on a fixed beat would keep one phase
    # to the 1 s refresh (at one every 2 s, all of them) and measure that phase, not the stack.
    gaps = random.Random(12).uniform
    send_at = list(itertools.accumulate(gaps(0.5, 1.5) / rate_per_s for _ in stories))

    def send() -> None:
        started = time.monotonic()
        try:
            for at, story in zip(send_at, stories):
                time.sleep(max(0.0, started + at - time.monotonic()))
                story_id = ingest.post(story)["id"]
                with lock:
                    pending[story_id], sent_wall[story_id] = time.monotonic(), time.time()
        except Exception as exc:  # noqa: BLE001 - reported in the figures
            sent["error"] = repr(exc)
        sent["done_t"] = time.monotonic()

    found: dict[str, float] = {}
    polls, poll_s = 0, 0.0
    tail = TopicTail(f"127.0.0.1:{config.kafka_port}", [INDEX.topic_raw, INDEX.topic_detected, INDEX.topic_enriched])
    first = sampler.snapshot()
    sender = threading.Thread(target=send, name="paced-sender")
    with refresher or contextlib.nullcontext():
        sender.start()
        next_poll = time.monotonic()
        while True:
            next_poll = max(next_poll + LATENCY_POLL_S, time.monotonic())  # fixed cadence; never a burst
            time.sleep(max(0.0, next_poll - time.monotonic()))
            with lock:
                ids = list(pending)
            if ids:
                asked = time.monotonic()
                visible = ask(ids)
                answered, answered_wall = time.monotonic(), time.time()
                polls, poll_s = polls + 1, poll_s + answered - asked
                with lock:
                    found.update({story_id: answered - pending.pop(story_id) for story_id in visible})
                    found_wall.update({story_id: answered_wall for story_id in visible})
            done_t = sent["done_t"]
            if done_t is not None and (not pending or time.monotonic() - done_t > settle_s):
                break
    last = sampler.snapshot()
    sender.join()
    tail.stop()
    wall = last.t - first.t
    poll = {"probe": probe, "interval_s": LATENCY_POLL_S, "polls": polls, "polls_per_s": polls / wall,
            "mean_poll_ms": 1000 * poll_s / polls if polls else None}
    if refresher:
        poll.update({"refresh_every_s": refresher.every_s, "refreshes": refresher.count,
                     "refresh_noida_cpu_s": refresher.noida_cpu_s, "refresh_noida_cores": refresher.noida_cpu_s / wall})
    return {
        "rate_per_s": rate_per_s,
        "sent": len(stories),
        "count": len(found),
        "never_found": len(pending),
        "confirmed_by_alias_search": search.found_through_alias(sorted(found)),
        "send_error": sent["error"],
        **percentiles(list(found.values())),
        "poll": poll,
        "hops": hop_latencies(tail, sent_wall, found_wall),
        **procstat.usage(first, last, sampler.series, len(found) or None),
    }


class TopicTail:
    """Reads news.raw, news.detected and news.enriched as records arrive, keeping each key's
    first record timestamp (seconds since the epoch). Live, because the embedded stack
    trims the intermediate topics once their reader committed (shared/group_lag.py)."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.times: dict[str, dict[str, float]] = {topic: {} for topic in topics}
        # noida-db answers an empty fetch at once (no fetch.max.wait.ms): without the services'
        # empty-fetch backoff this reader spun a core of the machine it measures. It reads the
        # records' own timestamps, so reading them up to 200 ms later changes no figure.
        install_for_kafka_python(200)
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                       fetch_max_bytes=32 * MB, max_partition_fetch_bytes=16 * MB)
        partitions = [TopicPartition(topic, p) for topic in topics
                      for p in self._consumer.partitions_for_topic(topic) or ()]
        self._consumer.assign(partitions)
        self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            self._consumer.position(tp)  # fix the start now, before anything is sent
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="topic-tail", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=200).values():
                for record in records:
                    if record.key:
                        self.times[record.topic].setdefault(record.key.decode(), record.timestamp / 1000)

    def stop(self) -> None:
        time.sleep(1)  # the last records of the phase
        self._stop.set()
        self._thread.join()
        self._consumer.close()


def hop_latencies(tail: TopicTail, sent_wall: dict[str, float], found_wall: dict[str, float]) -> dict:
    """Where the latency goes, per story, from the timestamps producers put on each topic's record
    (the producing service's clock at send, which is this machine's): ingest's record on news.raw
    (negative: before the 202), raw -> detected (langdetect: fetch, batch wait, work, produce),
    detected -> enriched (extract), enriched -> found (index: fetch, batch, bulk; the refresh; the poll)."""
    raw, detected, enriched = (tail.times[t] for t in (INDEX.topic_raw, INDEX.topic_detected, INDEX.topic_enriched))
    spans = {
        "202_to_raw_record_s": [raw[i] - sent_wall[i] for i in found_wall if i in raw],
        "raw_to_detected_s": [detected[i] - raw[i] for i in found_wall if i in raw and i in detected],
        "detected_to_enriched_s": [enriched[i] - detected[i] for i in found_wall if i in detected and i in enriched],
        "enriched_to_found_s": [found_wall[i] - enriched[i] for i in found_wall if i in enriched],
    }
    return {name: {"count": len(values), **percentiles(values)} for name, values in spans.items()}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_s": None, "p95_s": None, "p99_s": None, "max_s": None}
    ordered = sorted(values)

    def at(q: float) -> float:  # nearest rank: the smallest value with at least q of all at or below it
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {"p50_s": at(0.50), "p95_s": at(0.95), "p99_s": at(0.99), "max_s": ordered[-1]}


def idle(sampler: procstat.Sampler, seconds: float) -> dict:
    first = sampler.snapshot()
    time.sleep(seconds)
    return {"seconds": seconds, **procstat.usage(first, sampler.snapshot(), sampler.series)}


# -- the run ---------------------------------------------------------------------------------

def rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: rounded(v) for key, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def raw_timing(raw: RawNer, stories: list[BaseStory]) -> dict:
    """One timed nlp.pipe pass over the stories, with the machine's load meanwhile (the stack is down)."""
    sampler = procstat.Sampler(discover=dict).start()
    try:
        before = sampler.snapshot()
        seconds = raw.seconds(stories)
        machine = procstat.usage(before, sampler.snapshot(), sampler.series)["machine"]
    finally:
        sampler.stop()
    return {"wall_s": seconds, "stories_per_s": len(stories) / seconds, "machine": machine}


def raw_reference(raw: RawNer, before: dict, after: dict, n: int) -> dict:
    """Raw timed right before and right after the pipeline run; the figure is over both passes,
    so a change in the machine's load during the run weighs on both sides alike."""
    seconds = (before["wall_s"] + after["wall_s"]) / 2
    return {"processes": raw.processes, "batch_size": raw.batch_size, "languages": raw.languages,
            "wall_s": seconds, "stories_per_s": n / seconds, "ms_per_story": 1000 * seconds / n,
            "before": before, "after": after,
            "machine": {"other_cores": (before["machine"]["other_cores"] + after["machine"]["other_cores"]) / 2,
                        "machine_busy": before["machine"]["machine_busy"] or after["machine"]["machine_busy"]}}


def extract_busy(figures: dict) -> dict:
    """CPU s / wall s of every extract worker process, over the whole run and between 10 % and 90 %."""
    def workers(cores: dict[str, float]) -> dict[str, float]:
        return {name: c for name, c in cores.items() if name.startswith("extract") and name.endswith("/worker")}

    return {"whole_run": workers({name: e["cores"] for name, e in figures["processes"].items()}),
            "steady": workers(figures["steady"]["cores"]) if "steady" in figures else None}


def one_size(size: int, base: list[BaseStory], raw: RawNer, args: argparse.Namespace, last: bool) -> dict:
    """Raw reference, a fresh stack's run (after the last size, that stack's idle CPU), raw again."""
    stories = [base[i % len(base)] for i in range(size)]
    raw_before = raw_timing(raw, stories)
    print(f"size {size}: raw NER {raw_before['stories_per_s']:.1f} stories/s", flush=True)
    with fresh_stack(args.keep_run_dir) as config:
        warm_up(config, base)
        sampler = procstat.Sampler(stack_processes(config)).start()
        try:
            figures = throughput(config, sampler, envelopes(base, size, f"E2E-{size}"), args.http_batch)
            figures["extract_worker_busy_share"] = extract_busy(figures)
            figures["noida_data_dir_mb"] = sum(p.stat().st_size for p in (config.run_dir / "noida").rglob("*")
                                               if p.is_file()) / MB
            print(f"size {size}: {figures['stories_per_s'] or 0:.1f} stories/s end to end", flush=True)
            if last:
                time.sleep(3)  # the last commits settle
                figures["idle_cpu_after"] = idle(sampler, args.idle_cpu_seconds)
                print(f"idle after {size}: stack {figures['idle_cpu_after']['stack']['cores']:.3f} cores", flush=True)
        finally:
            sampler.stop()
    figures["raw"] = raw_reference(raw, raw_before, raw_timing(raw, stories), size)
    if figures["stories_per_s"]:
        figures["ratio_end_to_end_over_raw"] = figures["stories_per_s"] / figures["raw"]["stories_per_s"]
    print(f"size {size}: raw NER {figures['raw']['after']['stories_per_s']:.1f} stories/s after; "
          f"ratio {figures.get('ratio_end_to_end_over_raw', 0):.2f}", flush=True)
    return figures


def latency_phases(base: list[BaseStory], best: float, args: argparse.Namespace) -> dict:
    """Idle and half-load latency on a fresh stack (warmed up), so noida's history from the
    throughput runs does not weigh on them."""
    out: dict = {}
    with fresh_stack(args.keep_run_dir) as config:
        warm_up(config, base)
        sampler = procstat.Sampler(stack_processes(config)).start()
        try:
            out["latency_idle"] = latency(config, sampler, envelopes(base, args.idle_stories, "E2E-IDLE"),
                                          1 / args.idle_interval, args.latency_probe)
            print(f"latency idle: p50 {out['latency_idle']['p50_s']} s, p99 {out['latency_idle']['p99_s']} s", flush=True)
            if best > 0:
                rate = best / 2
                stories = envelopes(base, max(1, int(rate * args.half_load_seconds)), "E2E-HALF", args.idle_stories)
                out["latency_half_load"] = latency(config, sampler, stories, rate, args.latency_probe)
                out["latency_half_load"]["of_max_stories_per_s"] = best
                print(f"latency at {rate:.1f}/s: p50 {out['latency_half_load']['p50_s']} s, "
                      f"p99 {out['latency_half_load']['p99_s']} s", flush=True)
        finally:
            sampler.stop()
    return out


def run(args: argparse.Namespace) -> dict:
    origin, base = base_stories()
    print(f"stories: {origin}, {len(base)} distinct; {CORES} cores, extract x{CORES}", flush=True)
    result: dict = {
        "machine": {"cores": CORES, "python": platform.python_version(), "platform": platform.platform()},
        "stories": {"origin": origin, "distinct": len(base),
                    "languages": {lang: sum(s.language == lang for s in base) for lang in {s.language for s in base}},
                    "repeated_with_unique_guids": True},
        "ingest": f"HTTP POST /v1/items, JSON envelope batches of {args.http_batch}, one sender thread; "
                  "latency phases: one story per POST",
        "sizes": {},
    }
    sizes = [int(s) for s in args.sizes.split(",")]
    raw = RawNer(CORES, base, ExtractSettings().batch_size)
    try:
        for position, size in enumerate(sizes):
            result["sizes"][str(size)] = one_size(size, base, raw, args, last=position == len(sizes) - 1)
    finally:
        raw.close()
    result["idle_cpu"] = result["sizes"][str(sizes[-1])].pop("idle_cpu_after")
    result["idle_cpu"]["stack_history_stories"] = sizes[-1]
    # The maximum: the largest size's end-to-end figure (a small size's is mostly start-up and poll granularity).
    best = result["sizes"][str(sizes[-1])]["stories_per_s"] or max(f["stories_per_s"] or 0 for f in result["sizes"].values())
    result.update(latency_phases(base, best, args))
    phases = [f["machine"] for f in result["sizes"].values()] + [f["raw"]["machine"] for f in result["sizes"].values()]
    phases += [result[k]["machine"] for k in ("latency_idle", "latency_half_load", "idle_cpu") if k in result]
    result["machine_busy"] = any(m["machine_busy"] for m in phases)
    result["max_other_cores"] = max(m["other_cores"] for m in phases)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,4000,20000", help="stories per throughput run, comma-separated")
    parser.add_argument("--quick", action="store_true",
                        help="development: sizes 300,1000, 15 idle stories, 20 s at half load, 15 s idle CPU")
    parser.add_argument("--http-batch", type=int, default=100, help="stories per POST in the throughput runs")
    parser.add_argument("--idle-stories", type=int, default=60)
    parser.add_argument("--idle-interval", type=float, default=2.0, help="seconds between stories when idle")
    parser.add_argument("--half-load-seconds", type=float, default=60)
    parser.add_argument("--idle-cpu-seconds", type=float, default=30)
    parser.add_argument("--latency-probe", choices=("mget", "search"), default="mget",
                        help="how the latency poller asks: get by id with realtime=false (cheap), or an ids "
                             "search on the alias (costs noida-db ~0.1 ms CPU per indexed story per poll)")
    parser.add_argument("--keep-run-dir", action="store_true", help="keep each stack's run folder (logs, noida data)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "e2e.json"))
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.idle_stories, args.half_load_seconds, args.idle_cpu_seconds = "300,1000", 15, 20, 15
    started = time.time()
    result = run(args)
    result["args"] = vars(args)
    result["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
    result["duration_s"] = time.time() - started
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rounded(result), indent=2) + "\n")
    print(f"figures in {out}; machine busy with other work: {result['machine_busy']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
