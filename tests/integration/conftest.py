"""The integration tier: a real noida-db and the five services as real processes.

The session starts noida-db on free ports with a temporary data folder and the
services through the same code `make run` uses (services.stack), and tears all
of it down at the end. Tests talk to them only through the real clients:
HTTP, kafka-python, elasticsearch-py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services import stack
from services.stack import StackConfig
from shared.generations import get_stored, live_generations, write_index as _write_index
from shared.settings import IndexSettings

pytestmark = pytest.mark.integration


def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def _free_port_block(width: int = 20) -> int:
    """A base port with `width` free ports above it (metrics ports sit 10 apart)."""
    for _ in range(50):
        base = _free_ports(1)[0]
        if base + width >= 65535:
            continue
        try:
            probes = []
            for port in range(base, base + width):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                probes.append(sock)
            for sock in probes:
                sock.close()
            return base
        except OSError:
            for sock in probes:
                sock.close()
    raise RuntimeError("no block of free ports")


def _ports_outside_block(base: int, count: int, width: int = 20) -> list[int]:
    """Free ports that cannot collide with the metrics block (the OS may hand a closed port out again)."""
    return [port for port in _free_ports(count + width) if not base <= port < base + width][:count]


@dataclass
class Stack:
    config: StackConfig

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.config.kafka_port}"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.config.elasticsearch_port}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}"

    @property
    def desk(self) -> str:
        return f"http://127.0.0.1:{self.config.desk_port}"

    def post(self, path: str, data: bytes, content_type: str = "application/json",
             headers: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.api + path, data=data, method="POST",
                                         headers={"Content-Type": content_type, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    @property
    def drop_dir(self) -> Path:
        return Path(self.config.extra_env["WIRESTREAM_DROP_DIR"])

    def metric(self, service: str, name: str) -> float:
        """Sum of a metric's samples on a service's /metrics (0 when absent). `name` may
        carry a leading label filter: 'wirestream_group_lag{group="wirestream-extract"'."""
        url = stack.health_urls(self.config)[service].replace("/healthz", "/metrics")
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        follows = ",}" if "{" in name else " {"
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and (line[len(name)] in follows))

    def pid(self, name: str) -> int:
        return stack.pid_of(self.config, name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal a service's whole process group (its worker too); returns the old pid
        once the process is gone. The supervisor restarts it by itself."""
        pid = self.pid(name)
        os.killpg(pid, sig)
        wait_until(lambda: not _alive(pid) or self.pid(name) != pid, timeout_s=60, interval_s=0.05,
                   what=f"{name} (pid {pid}) gone after signal {sig}")
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout_s: float = 180) -> int:
        """Wait until the supervisor runs `name` again, with a new pid, and it is healthy."""
        url = stack.health_urls(self.config)[name]
        wait_until(lambda: self.pid(name) not in (0, old_pid) and stack.is_healthy(url), timeout_s=timeout_s,
                   what=f"{name} restarted by the supervisor and healthy")
        return self.pid(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by the supervisor) is gone for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory) -> Stack:
    base = _free_port_block()
    kafka_port, es_port, http_port, desk_port = _ports_outside_block(base, 4)
    run_dir = tmp_path_factory.mktemp("stack")
    config = StackConfig(
        run_dir=run_dir,
        kafka_port=kafka_port,
        elasticsearch_port=es_port,
        http_port=http_port,
        desk_port=desk_port,
        metrics_ports={"ingest": base, "langdetect": base + 1, "extract": base + 2, "index": base + 3,
                      "desk": base + 4},
        # Small bulks so the crash test can kill the index service between two of them.
        extra_env={"WIRESTREAM_LOG_LEVEL": "INFO", "WIRESTREAM_BULK_MAX_DOCS": "25",
                   "WIRESTREAM_DROP_DIR": str(run_dir / "drop"), "WIRESTREAM_DROP_SCAN_S": "0.3",
                   # A hung stage is given up on sooner than the default 120 s (test_supervision).
                   "WIRESTREAM_STAGE_DEADLINE_S": "30"},
        # `make test-tansu` runs this tier with tansu speaking Kafka instead of noida-db.
        kafka_broker=os.environ.get("WIRESTREAM_TEST_KAFKA", "noida"),
    )
    try:
        stack.up(config)
    except Exception:
        _dump_logs(config.run_dir)
        stack.down(config)
        raise
    yield Stack(config)
    stack.down(config)


def _dump_logs(run_dir: Path) -> None:
    for log in sorted((run_dir / "logs").glob("*.log")):
        print(f"===== {log.name}\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="session")
def es(running_stack: Stack) -> Elasticsearch:
    return Elasticsearch(running_stack.es_url)


@pytest.fixture(scope="session")
def producer(running_stack: Stack) -> KafkaProducer:
    producer = KafkaProducer(bootstrap_servers=running_stack.bootstrap, acks="all",
                             max_request_size=8 * 1024 * 1024)
    yield producer
    producer.close()


@pytest.fixture
def deadletters(running_stack: Stack) -> Callable[..., list[dict]]:
    """Reads the whole dead-letter topic each call (it is small in tests): the dead letters,
    or with markers=True the replay markers `wirestream deadletter replay` writes there."""

    def read(markers: bool = False) -> list[dict]:
        consumer = KafkaConsumer("news.deadletter", bootstrap_servers=running_stack.bootstrap,
                                 group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=2000,
                                 enable_auto_commit=False, fetch_max_bytes=32 * 1024 * 1024,
                                 max_partition_fetch_bytes=16 * 1024 * 1024)
        records = [json.loads(record.value) for record in consumer
                   if any(key == "dead-letter-replayed" for key, _ in record.headers or []) == markers]
        consumer.close()
        return records

    return read


def wait_until(predicate: Callable[[], object], timeout_s: float = 60, interval_s: float = 0.3, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}")
        time.sleep(interval_s)


def search_ids(es: Elasticsearch, ids: list[str], index: str = "news") -> dict[str, dict]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"ids": {"values": ids}}, size=len(ids) or 1)["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def uncommitted(running_stack, group: str, topic: str) -> int:
    """Records of `topic` the group has not committed yet, over all partitions."""
    # A consumer that never subscribes only reads the group's offsets; it does not join.
    consumer = KafkaConsumer(bootstrap_servers=running_stack.bootstrap, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = _high_watermarks(consumer, partitions)
        return sum(ends[tp] - (consumer.committed(tp) or 0) for tp in partitions)
    finally:
        consumer.close(autocommit=False)


def _high_watermarks(consumer: KafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """End offsets as fetch responses report them. Not end_offsets(): tansu 0.6 answers
    ListOffsets(latest) with 1 for every partition (found by `make test-tansu`)."""
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    deadline = time.monotonic() + 30
    while any(consumer.highwater(tp) is None for tp in partitions) and time.monotonic() < deadline:
        consumer.poll(timeout_ms=200)
    return {tp: consumer.highwater(tp) or 0 for tp in partitions}


# Stories live in index generations (shared/generations.py). Tests that look past the
# read alias's filter (tombstones, duplicates) read every live generation.
def stored_indices(es: Elasticsearch) -> str:
    """Every generation behind the read alias, comma-joined: stored documents, hidden or not."""
    return ",".join(live_generations(es, IndexSettings()))


def write_index(es: Elasticsearch) -> str:
    return _write_index(es, IndexSettings())


def stored_document(es: Elasticsearch, story_id: str) -> dict | None:
    """The stored document of a story ({_index, _version, _source}), visible in search or not."""
    return get_stored(es, IndexSettings(), story_id)
