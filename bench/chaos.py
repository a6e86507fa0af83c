"""`make chaos`: stories ingested while faults are injected; nothing may be lost or duplicated.

    python -m bench.chaos [--stories 5000] [--scenarios a,b,...] [--out bench/results/chaos.json]

Starts the embedded stack as `make run` does (noida-db, the services under their
supervisor, extract one per core) on its own ports and run folder, then runs one
scenario after another. In each, its share of the stories (Reuters-21578 from
../shared/data when present, else stories made from the bundled samples) goes in
half over HTTP (JSON batches, retried on 503 or a refused connection as any client
would) and half through `wirestream ingest` (files), while the scenario's fault
is injected mid-stream. Then it waits until every accepted story is searchable or
dead-lettered, and records for the scenario:

  expected    stories accepted (HTTP 202, or sent by the CLI)
  indexed     of those, searchable through the alias `news`
  lost        accepted, neither searchable nor dead-lettered when the pipeline drained
  duplicated  documents sharing an id in the concrete index
  deadlettered  accepted stories dead-lettered (with reasons), and junk records
                dead-lettered / written for the junk scenario
  recover_s   from the end of the fault until every accepted story was searchable
  human_action  whether anything needed a person: a process the supervisor gave up on
                (FATAL), or stories that never arrived

Nobody intervenes: the harness only injects faults and watches. A benchmark, not a
test: it asserts nothing and writes figures (tests/integration keeps short versions).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from services import stack  # noqa: E402
from shared.generations import live_generations  # noqa: E402
from shared.settings import IndexSettings  # noqa: E402
from services.ingest.formats import parse_bytes  # noqa: E402
from shared.contract import story_id  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402
from tests.integration.conftest import _free_port_block, _ports_outside_block  # noqa: E402

HTTP_BATCH = 25
SAMPLES = REPO / "services" / "ingest" / "samples"


# -- stories -------------------------------------------------------------------------

def story_texts() -> list[tuple[str, str]]:
    """(headline, body) pairs: Reuters-21578 when present, else the bundled samples."""
    reuters = shared_data_dir() / "reuters21578" / "reut2-000.sgm"
    pairs = []
    if reuters.is_file():
        result = parse_bytes(reuters.read_bytes(), filename=reuters.name, max_bytes=50_000_000)
        pairs = [(s.headline, s.body) for s in result.stories if s.body.strip()]
    if not pairs:
        for path in sorted(SAMPLES.glob("*")):
            if path.suffix in (".xml", ".json"):
                try:
                    pairs += [(s.headline, s.body) for s in parse_bytes(path.read_bytes(), filename=path.name).stories]
                except Exception:  # noqa: BLE001 - a sample the parser refuses is no story for us
                    continue
    return pairs


def envelopes(texts: list[tuple[str, str]], run: str, scenario: str, n: int, start: int) -> list[dict]:
    out = []
    for i in range(n):
        headline, body = texts[(start + i) % len(texts)]
        out.append({"guid": f"chaos-{run}-{scenario}-{i}", "source": f"CHAOS-{scenario}",
                    "headline": headline, "body": body})
    return out


def envelope_id(envelope: dict) -> str:
    return story_id(envelope["source"], envelope["guid"])


# -- the stack -----------------------------------------------------------------------

@dataclass
class Harness:
    config: stack.StackConfig
    es: Elasticsearch
    work: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.config.kafka_port}"

    def post(self, batch: list[dict], give_up_s: float = 180) -> set[str]:
        """POST a batch until it is answered 202 (or give up); returns the accepted ids."""
        data = json.dumps(batch).encode()
        deadline = time.monotonic() + give_up_s
        while time.monotonic() < deadline:
            request = urllib.request.Request(f"http://127.0.0.1:{self.config.http_port}/v1/items", data=data,
                                             method="POST", headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return {item["id"] for item in json.load(response)["accepted"]}
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raise RuntimeError(f"HTTP {exc.code}: {exc.read()[:300]!r}") from exc
            except OSError:
                pass  # refused / reset: ingest restarting
            time.sleep(0.5)
        return set()

    def ingest_files(self, batch: list[dict], tag: str) -> set[str]:
        """`wirestream ingest` over files of 25 envelopes; returns the ids it reported sent."""
        folder = self.work / f"cli-{tag}"
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for start in range(0, len(batch), HTTP_BATCH):
            path = folder / f"{start:05d}.json"
            path.write_text(json.dumps(batch[start:start + HTTP_BATCH]))
            files[str(path)] = batch[start:start + HTTP_BATCH]
        result = subprocess.run([sys.executable, "-m", "services.cli", "ingest", str(folder), "--quiet"],
                                env={**os.environ, **self.config.env}, capture_output=True, text=True,
                                cwd=REPO, timeout=900)
        not_sent = {line.split("not sent ", 1)[1].strip() for line in result.stdout.splitlines()
                    if line.strip().startswith("not sent ")}
        if result.returncode not in (0, 2):
            print(result.stdout[-2000:], result.stderr[-2000:], flush=True)
            return set()
        return {envelope_id(e) for path, items in files.items() if path not in not_sent for e in items}

    def searchable(self, ids: set[str]) -> set[str]:
        found: set[str] = set()
        ordered = sorted(ids)
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start:start + 1000]
            try:
                hits = self.es.search(index="news", query={"ids": {"values": chunk}}, size=len(chunk),
                                      source=False)["hits"]["hits"]
            except Exception:  # noqa: BLE001 - Elasticsearch down in this scenario: nothing seen yet
                return found
            found.update(hit["_id"] for hit in hits)
        return found

    def duplicates(self, source: str) -> int:
        # Every generation, not the read alias: a duplicate across generations counts too.
        stored = ",".join(live_generations(self.es, IndexSettings()))
        self.es.indices.refresh(index=stored)
        response = self.es.search(index=stored, size=0, query={"term": {"source": source}},
                                  aggs={"ids": {"cardinality": {"field": "id"}}}, track_total_hits=True)
        return response["hits"]["total"]["value"] - response["aggregations"]["ids"]["value"]

    def dead_letters(self) -> list[dict]:
        consumer = KafkaConsumer("news.deadletter", bootstrap_servers=self.bootstrap, group_id=None,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000, enable_auto_commit=False,
                                 fetch_max_bytes=32 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024)
        letters = []
        for record in consumer:
            try:
                letters.append(json.loads(record.value))
            except ValueError:
                continue
        consumer.close()
        return letters

    def fatal(self) -> list[str]:
        return [info["name"] for info in stack.process_info(self.config) if info["statename"] == "FATAL"]

    def wait_running(self, timeout_s: float = 240) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            infos = stack.process_info(self.config)
            if all(info["statename"] == "RUNNING" for info in infos) and all(
                    stack.is_healthy(url) for url in stack.health_urls(self.config).values()):
                return True
            time.sleep(1)
        return False


# -- faults ----------------------------------------------------------------------------

def _restart_pause(h: Harness, name: str, old_pid: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        pid = stack.pid_of(h.config, name)
        if pid not in (0, old_pid) and stack.is_healthy(stack.health_urls(h.config)[name]):
            return
        time.sleep(0.5)


def sigkill(name: str, times: int = 3) -> Callable[[Harness], None]:
    def fault(h: Harness) -> None:
        for _ in range(times):
            pid = stack.pid_of(h.config, name)
            if pid:
                os.killpg(pid, signal.SIGKILL)  # the service and its worker children
                _restart_pause(h, name, pid)
            time.sleep(2)
    return fault


def sigkill_workers(name: str, times: int = 3) -> Callable[[Harness], None]:
    """Only the stage's worker process: its service must notice and replace it."""
    def fault(h: Harness) -> None:
        for _ in range(times):
            pid = stack.pid_of(h.config, name)
            killed = stack.stage_workers(pid)
            for worker in killed:
                try:
                    os.kill(worker, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 120  # replaced when the next batch finds it dead
            while time.monotonic() < deadline and not (stack.stage_workers(stack.pid_of(h.config, name)) - killed):
                time.sleep(0.5)
            time.sleep(2)
    return fault


def sigterm_each(h: Harness) -> None:
    for info in stack.process_info(h.config):
        pid = info["pid"]
        if pid:
            os.kill(pid, signal.SIGTERM)
            _restart_pause(h, info["name"], pid)


def broker_restart(h: Harness) -> None:
    stack.noida(h.config, "restart", "kafka")


def elasticsearch_down(seconds: float = 30) -> Callable[[Harness], None]:
    def fault(h: Harness) -> None:
        stack.noida(h.config, "stop", "elasticsearch")
        time.sleep(seconds)
        stack.noida(h.config, "start", "elasticsearch")
    return fault


def rebalance_while_elasticsearch_down(h: Harness) -> None:
    stack.noida(h.config, "stop", "elasticsearch")
    try:
        other = KafkaConsumer("news.enriched", bootstrap_servers=h.bootstrap, group_id="wirestream-index",
                              enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=1000)
        deadline = time.monotonic() + 30
        while not other.assignment() and time.monotonic() < deadline:
            other.poll(timeout_ms=200)  # joins the index group: a rebalance
        time.sleep(3)
        other.close(autocommit=False)  # leaves it: another rebalance
        time.sleep(10)
    finally:
        stack.noida(h.config, "start", "elasticsearch")


JUNK_PER_TOPIC = 100


def junk_on_every_topic(h: Harness) -> None:
    producer = KafkaProducer(bootstrap_servers=h.bootstrap, acks="all")
    shapes = [b"\x00\xff binary junk", b"{not json", b'{"headline": 5}', b"[]", b""]
    for topic in ("news.raw", "news.detected", "news.enriched"):
        for i in range(JUNK_PER_TOPIC):
            producer.send(topic, key=f"junk-{topic}-{i}".encode(), value=shapes[i % len(shapes)] or None)
    producer.flush()
    producer.close()


SCENARIOS: dict[str, Callable[[Harness], None] | None] = {
    "baseline": None,
    "sigkill_ingest_x3": sigkill("ingest"),
    "sigkill_langdetect_x3": sigkill("langdetect"),
    "sigkill_extract_x3": sigkill("extract"),
    "sigkill_extract_workers_x3": sigkill_workers("extract"),
    "sigkill_index_x3": sigkill("index"),
    "sigterm_each_service": sigterm_each,
    "broker_restart": broker_restart,
    "elasticsearch_down_30s": elasticsearch_down(30),
    "rebalance_while_elasticsearch_down": rebalance_while_elasticsearch_down,
    "junk_on_every_topic": junk_on_every_topic,
}


# -- running ---------------------------------------------------------------------------

@dataclass
class Row:
    scenario: str
    expected: int = 0
    indexed: int = 0
    lost: int = 0
    duplicated: int = 0
    deadlettered: int = 0
    deadletter_reasons: dict = field(default_factory=dict)
    junk_written: int = 0
    junk_deadlettered: int = 0
    junk_deadlettered_distinct: int = 0
    fault_s: float = 0.0
    recover_s: float | None = None
    human_action: bool = False
    notes: list = field(default_factory=list)


def run_scenario(h: Harness, name: str, fault, batch: list[dict], drain_timeout_s: float = 600) -> Row:
    row = Row(name)
    half = len(batch) // 2
    accepted: set[str] = set()
    lock = threading.Lock()

    def http_side() -> None:
        for start in range(0, half, HTTP_BATCH):
            ids = h.post(batch[start:min(start + HTTP_BATCH, half)])
            with lock:
                accepted.update(ids)

    def cli_side() -> None:
        ids = h.ingest_files(batch[half:], name)
        with lock:
            accepted.update(ids)

    senders = [threading.Thread(target=http_side), threading.Thread(target=cli_side)]
    for thread in senders:
        thread.start()
    fault_started = time.monotonic()
    if fault is not None:
        time.sleep(2)  # mid-stream
        fault(h)
    fault_ended = time.monotonic()
    row.fault_s = round(fault_ended - fault_started, 1)
    for thread in senders:
        thread.join()
    row.expected = len(accepted)

    deadline = time.monotonic() + drain_timeout_s
    seen: set[str] = set()
    dead_ids: set[str] = set()
    while time.monotonic() < deadline:
        seen = h.searchable(accepted)
        if seen >= accepted:
            row.recover_s = round(time.monotonic() - fault_ended, 1)
            break
        letters = [d for d in h.dead_letters() if d.get("story_id") in accepted]
        dead_ids = {d["story_id"] for d in letters}
        if seen | dead_ids >= accepted:
            row.recover_s = round(time.monotonic() - fault_ended, 1)
            break
        time.sleep(2)
    letters = h.dead_letters()
    mine = [d for d in letters if d.get("story_id") in accepted]
    row.indexed = len(seen)
    row.deadlettered = len({d["story_id"] for d in mine})
    for d in mine:
        key = f"{d.get('service')}/{d.get('reason_class')}"
        row.deadletter_reasons[key] = row.deadletter_reasons.get(key, 0) + 1
    row.lost = len(accepted - seen - {d["story_id"] for d in mine})
    row.duplicated = h.duplicates(f"CHAOS-{name}")
    if name == "junk_on_every_topic":
        junk = [d for d in letters if ((d.get("origin") or {}).get("key") or "").startswith("junk-news.")]
        row.junk_written = 3 * JUNK_PER_TOPIC
        row.junk_deadlettered = len(junk)
        row.junk_deadlettered_distinct = len({d.get("id") for d in junk})
    if not h.wait_running(timeout_s=120):
        row.human_action = True
        row.notes.append(f"not every process running and healthy afterwards; FATAL: {h.fatal()}")
    if row.recover_s is None:
        row.human_action = True
        row.notes.append(f"not drained within {drain_timeout_s:.0f}s")
    print(json.dumps(asdict(row)), flush=True)
    return row


def start_stack(work: Path, extract_replicas: int) -> stack.StackConfig:
    base = _free_port_block()
    kafka_port, es_port, http_port = _ports_outside_block(base, 3)
    config = stack.StackConfig(
        run_dir=work / "stack", kafka_port=kafka_port, elasticsearch_port=es_port, http_port=http_port,
        metrics_ports={"ingest": base, "langdetect": base + 1, "extract": base + 2, "index": base + 3},
        extract_replicas=extract_replicas,
    )
    stack.up(config)
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=5000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--extract-replicas", type=int, default=max(1, len(os.sched_getaffinity(0))))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "chaos.json"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    texts = story_texts()
    random.Random(7).shuffle(texts)
    run = uuid.uuid4().hex[:6]
    per = max(2, args.stories // len(names))
    work = Path(tempfile.mkdtemp(prefix="wirestream-chaos-"))
    load_before = os.getloadavg()
    started = time.monotonic()
    config = start_stack(work, args.extract_replicas)
    harness = Harness(config, Elasticsearch(f"http://127.0.0.1:{config.elasticsearch_port}"), work)
    rows = []
    try:
        for i, name in enumerate(names):
            print(f"== {name}: {per} stories", flush=True)
            rows.append(run_scenario(harness, name, SCENARIOS[name], envelopes(texts, run, name, per, i * per)))
    finally:
        stack.down(config)
    result = {
        "stories": per * len(names),
        "story_source": "reuters21578" if (shared_data_dir() / "reuters21578").is_dir() else "bundled samples",
        "extract_replicas": args.extract_replicas,
        "wall_s": round(time.monotonic() - started, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "totals": {key: sum(getattr(r, key) for r in rows) for key in ("expected", "indexed", "lost", "duplicated",
                                                                        "deadlettered")},
        "human_action_needed": any(r.human_action for r in rows),
        "rows": [asdict(r) for r in rows],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'scenario':<38} {'expected':>8} {'indexed':>8} {'lost':>5} {'dup':>4} {'dead':>5} {'recover_s':>9} human")
    for r in rows:
        print(f"{r.scenario:<38} {r.expected:>8} {r.indexed:>8} {r.lost:>5} {r.duplicated:>4} {r.deadlettered:>5} "
              f"{r.recover_s if r.recover_s is not None else '-':>9} {'yes' if r.human_action else 'no'}")
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
