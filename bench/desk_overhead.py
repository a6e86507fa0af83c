"""The desk's search API next to the same query sent straight to Elasticsearch, and page weight.

    python bench/desk_overhead.py [--sizes 1000 5000] [--runs 40] [--out bench/results/desk.json]

Starts noida-db (Elasticsearch protocol) and the desk on free ports, indexes N stories
(the Reuters-21578 documents from ../shared/data, repeated under new ids and dates to
reach N, with entities found by a cheap capitalised-phrase rule so the entity fields
are populated; the bundled samples when that data set is absent), then, for each
query, alternates a GET /api/search on the desk with a POST /news/_search carrying the
exact body the desk builds for it (services.desk.search.search_body), over one kept-alive
HTTP connection each. The ratio of the medians is the desk's overhead (parameter
parsing, query building, result shaping, JSON, one more loopback hop). Page weight is
the bytes of each page's HTML plus the CSS and JavaScript it loads.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch, helpers  # noqa: E402

from services import stack  # noqa: E402
from services.desk.params import parse_params  # noqa: E402
from services.desk.search import search_body  # noqa: E402
from services.extract.nlp.normalize import canonical_key  # noqa: E402
from services.index.documents import story_document  # noqa: E402
from services.ingest.formats import parse_bytes  # noqa: E402
from shared.contract import Entity  # noqa: E402
from shared.elastic import ensure_index  # noqa: E402
from tests.integration.conftest import _free_port_block, _ports_outside_block  # noqa: E402

QUERIES = [
    {"q": "oil"},
    {"q": '"trade deficit" OR bank rates'},
    {"q": "coffee OR cocoa", "sort": "newest"},
    {"q": "shares -dividend", "lang": ["en"], "offset": "20"},
]
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}\b")
_LABELS = ("PERSON", "ORG", "LOC")


def source_stories() -> list:
    data = Path(os.environ.get("WIRESTREAM_SHARED_DATA", REPO.parent / "shared" / "data"))
    files = sorted((data / "reuters21578").glob("reut2-*.sgm"))
    if not files:
        files = sorted((REPO / "services" / "ingest" / "samples").glob("*.*"))
    stories = []
    for path in files:
        if path.suffix in (".md",):
            continue
        try:
            stories += parse_bytes(path.read_bytes(), content_type=None, max_bytes=50_000_000).stories
        except Exception:  # noqa: BLE001 (a sample the parser refuses is simply not used)
            continue
    return [s for s in stories if (s.headline or s.body)]


def with_entities(story, copy: int, count: int):
    text = story.text
    spans: dict[str, list[tuple[int, int]]] = {}
    for match in _CAPITALISED.finditer(text):
        spans.setdefault(match.group(), []).append((match.start(), match.end()))
    entities = [Entity(text=name, label=_LABELS[len(name) % 3], key=canonical_key(name), count=len(offsets),
                       offsets=offsets, method="rule") for name, offsets in list(spans.items())[:30]]
    base = story.published_at or datetime(2024, 1, 1, tzinfo=timezone.utc)
    return story.model_copy(update={
        "id": f"{story.id}-{copy}", "language": "en", "entities": entities,
        "published_at": base + timedelta(days=copy * 37 + count % 11, hours=count % 24),
    })


def index_stories(es: Elasticsearch, stories: list, start: int, end: int) -> None:
    now = datetime.now(timezone.utc)

    def actions():
        for n in range(start, end):
            story = with_entities(stories[n % len(stories)], n // len(stories), n)
            yield {"_index": "news-v1", "_id": story.id, "_source": story_document(story, now)}

    helpers.bulk(es, actions(), chunk_size=500)
    es.indices.refresh(index="news-v1")


def start_desk(config: stack.StackConfig, desk_port: int, metrics_port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "WIRESTREAM_ELASTICSEARCH_URL": f"http://127.0.0.1:{config.elasticsearch_port}",
           "WIRESTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{config.kafka_port}", "WIRESTREAM_DESK_PORT": str(desk_port),
           "WIRESTREAM_METRICS_PORT": str(metrics_port), "WIRESTREAM_DESK_SERVICES": "",
           "WIRESTREAM_LOG_LEVEL": "WARNING", "WIRESTREAM_DESK_SEARCH_TIMEOUT_S": "300"}
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "desk"], env=env, cwd=REPO,
                               stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if stack.is_healthy(f"http://127.0.0.1:{metrics_port}/healthz"):
            return process
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the desk did not start; see {log}")


class Client:
    """One kept-alive HTTP/1.1 connection, timed per request (the response fully read)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def time(self, method: str, path: str, body: bytes | None = None) -> tuple[float, int]:
        headers = {"Content-Type": "application/json"} if body else {}
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return elapsed, len(data)


def compare(desk: Client, direct: Client, runs: int, warmup: int = 2) -> list[dict]:
    rows = []
    for query in QUERIES:
        params = parse_params({k: v if isinstance(v, list) else [v] for k, v in query.items()})
        body = json.dumps(search_body(params)).encode()
        path = "/api/search?" + urlencode([(k, v) for k, vs in query.items() for v in (vs if isinstance(vs, list) else [vs])])
        desk_times, direct_times = [], []
        for n in range(warmup + runs):
            # Alternate which goes first, so neither always meets a warmer cache.
            order = [("desk", desk, "GET", path, None), ("direct", direct, "POST", "/news/_search", body)]
            for name, client, method, target, payload in (order if n % 2 == 0 else order[::-1]):
                elapsed, _ = client.time(method, target, payload)
                if n >= warmup:
                    (desk_times if name == "desk" else direct_times).append(elapsed)
        desk_ms, direct_ms = statistics.median(desk_times) * 1000, statistics.median(direct_times) * 1000
        rows.append({"query": query, "desk_median_ms": round(desk_ms, 2), "elasticsearch_median_ms": round(direct_ms, 2),
                     "ratio": round(desk_ms / direct_ms, 3), "overhead_ms": round(desk_ms - direct_ms, 2)})
        print(f"  {json.dumps(query):<55} desk {desk_ms:7.2f} ms  es {direct_ms:7.2f} ms  x{desk_ms / direct_ms:.2f}",
              flush=True)
    return rows


def page_weight(desk_port: int, story_id: str) -> dict:
    base = f"http://127.0.0.1:{desk_port}"
    pages = {"search": "/?q=oil", "story": f"/story/{story_id}", "pipeline": "/pipeline"}
    out = {}
    for name, path in pages.items():
        html = urllib.request.urlopen(base + path, timeout=30).read().decode()
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        sizes = {asset: len(urllib.request.urlopen(base + asset, timeout=30).read()) for asset in assets}
        total = len(html.encode()) + sum(sizes.values())
        out[name] = {"html_bytes": len(html.encode()), "assets": sizes, "total_kb": round(total / 1024, 1)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--runs", type=int, default=10, help="timed requests per query and side (after 2 warm-up)")
    parser.add_argument("--out", default="bench/results/desk.json")
    args = parser.parse_args()

    base = _free_port_block()
    kafka_port, es_port, desk_port, metrics_port = _ports_outside_block(base, 4)
    config = stack.StackConfig(run_dir=Path(tempfile.mkdtemp(prefix="wirestream-bench-desk-")),
                               kafka_port=kafka_port, elasticsearch_port=es_port)
    stories = source_stories()
    print(f"{len(stories)} source stories; starting noida-db and the desk", flush=True)
    stack.start_noida(config)
    desk_process = None
    try:
        es = Elasticsearch(f"http://127.0.0.1:{es_port}", request_timeout=120)
        ensure_index(es, "news-v1", "news")
        desk_process = start_desk(config, desk_port, metrics_port, config.run_dir / "desk.log")
        results = {"runs_per_query": args.runs, "source_stories": len(stories), "sizes": {}}
        indexed = 0
        for size in sorted(args.sizes):
            index_stories(es, stories, indexed, size)
            indexed = size
            count = es.count(index="news")["count"]
            print(f"{count} stories indexed", flush=True)
            rows = compare(Client(desk_port), Client(es_port), args.runs)
            ratios = [row["ratio"] for row in rows]
            results["sizes"][str(size)] = {
                "stories": count, "queries": rows,
                "median_ratio": round(statistics.median(ratios), 3), "max_ratio": max(ratios),
                "median_overhead_ms": round(statistics.median(row["overhead_ms"] for row in rows), 2),
            }
        any_id = es.search(index="news", size=1, query={"match": {"body": "oil"}})["hits"]["hits"][0]["_id"]
        results["page_weight"] = page_weight(desk_port, any_id)
        results["page_weight_max_kb"] = max(page["total_kb"] for page in results["page_weight"].values())
        results["python"] = sys.version.split()[0]
        results["elasticsearch"] = "noida-db (embedded default)"
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        for size, figures in results["sizes"].items():
            print(f"{size} stories: median ratio desk/es {figures['median_ratio']}, max {figures['max_ratio']}, "
                  f"median overhead {figures['median_overhead_ms']} ms")
        print(f"heaviest page {results['page_weight_max_kb']} KB; figures in {args.out}")
    finally:
        if desk_process is not None:
            desk_process.terminate()
            desk_process.wait(timeout=20)
        stack.stop_noida(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
