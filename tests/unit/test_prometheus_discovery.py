"""Replicas are named by service and replica number: the real Prometheus, a fake Docker.

Prometheus (the binary from Debian's `prometheus` package, which .ci/run
installs) runs deploy/prometheus/prometheus.yml with one change: its Docker
discovery points at a small Docker Engine API served here on loopback instead
of the socket proxy. The fake lists the containers `docker compose` would run
(labels as compose sets them, every port the image EXPOSEs), and answers the
label filters the way Docker does. The test reads the targets Prometheus made.
The container addresses are loopback addresses, so the scrapes Prometheus
then tries go nowhere but this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
EXPOSED = [8080, 9101, 9102, 9103, 9104]  # the Dockerfile's EXPOSE line (test_deploy checks the ports)


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("the prometheus binary is missing under CI: .ci/run must install Debian's prometheus package")
    pytest.skip("prometheus not installed (apt-get install prometheus)")


def container(service: str, number: int, address: str, project: str = "wirestream") -> dict:
    return {
        "Id": f"{project}-{service}-{number}".ljust(64, "0"),
        "Names": [f"/{project}-{service}-{number}"],
        "Image": "wirestream:local",
        "Labels": {
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": str(number),
        },
        "State": "running",
        "HostConfig": {"NetworkMode": f"{project}_default"},
        "NetworkSettings": {"Networks": {f"{project}_default": {"IPAddress": address, "NetworkID": "net-1"}}},
        "Ports": [{"PrivatePort": port, "Type": "tcp"} for port in EXPOSED],
    }


CONTAINERS = [
    container("extract", 1, "127.0.0.21"),
    container("extract", 2, "127.0.0.22"),
    container("index", 1, "127.0.0.23"),
    container("ingest", 1, "127.0.0.24"),
    container("langdetect", 1, "127.0.0.25"),
    container("extract", 1, "127.0.0.26", project="otherstack"),  # another compose project on the host
]


class FakeDocker(BaseHTTPRequestHandler):
    seen_filters: list[dict] = []

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        if url.path.endswith("/_ping"):
            return self._send(b"OK", "text/plain")
        if url.path.endswith("/containers/json"):
            filters = json.loads(parse_qs(url.query).get("filters", ["{}"])[0])
            self.seen_filters.append(filters)
            wanted = [label for label, on in filters.get("label", {}).items() if on]
            # Docker keeps a container only when it has every label filter (AND).
            listed = [c for c in CONTAINERS
                      if all(c["Labels"].get(k) == v for k, _, v in (w.partition("=") for w in wanted))]
            return self._send(json.dumps(listed).encode())
        if url.path.endswith("/networks"):
            return self._send(json.dumps([{"Id": "net-1", "Name": "wirestream_default", "Scope": "local",
                                           "Driver": "bridge", "Internal": False, "Ingress": False,
                                           "Labels": {}}]).encode())
        self.send_response(404)
        self.end_headers()

    def _send(self, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def targets(tmp_path_factory) -> list[dict]:
    binary = prometheus_binary()
    tmp_path = tmp_path_factory.mktemp("prometheus")
    docker = ThreadingHTTPServer(("127.0.0.1", 0), FakeDocker)
    threading.Thread(target=docker.serve_forever, daemon=True).start()
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for sd in job.get("docker_sd_configs", []):
            assert sd["host"] == "tcp://docker-proxy:2375"
            sd["host"] = f"tcp://127.0.0.1:{docker.server_address[1]}"
    config["rule_files"] = []  # the rules are promtool's business (test_alerts.py)
    config["alerting"] = {"alertmanagers": []}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"),
    )
    try:
        deadline = time.monotonic() + 60  # a wait for start-up, not a speed assertion
        found: list[dict] = []
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets?state=active", timeout=5) as r:
                    found = json.load(r)["data"]["activeTargets"]
            except OSError:
                found = []
            if len([t for t in found if t["labels"]["job"].startswith("wirestream-")]) >= 5:
                break
            time.sleep(0.5)
        yield found
    finally:
        process.terminate()
        process.wait(timeout=30)
        docker.shutdown()


def test_each_replica_is_one_target_named_service_dash_number(targets):
    wirestream = sorted((t["labels"]["job"], t["labels"]["instance"], t["scrapeUrl"])
                        for t in targets if t["labels"]["job"].startswith("wirestream-"))
    assert wirestream == [
        ("wirestream-extract", "extract-1", "http://127.0.0.21:9103/metrics"),
        ("wirestream-extract", "extract-2", "http://127.0.0.22:9103/metrics"),
        ("wirestream-index", "index-1", "http://127.0.0.23:9104/metrics"),
        ("wirestream-ingest", "ingest-1", "http://127.0.0.24:9101/metrics"),
        ("wirestream-langdetect", "langdetect-1", "http://127.0.0.25:9102/metrics"),
    ]
    # Discovery asked Docker for this compose project's containers of one service.
    assert {"com.docker.compose.project=wirestream": True,
            "com.docker.compose.service=extract": True} in [f["label"] for f in FakeDocker.seen_filters]


def test_static_targets_are_named_too(targets):
    static = {t["labels"]["job"]: t["labels"]["instance"] for t in targets
              if not t["labels"]["job"].startswith("wirestream-")}
    assert static == {"prometheus": "prometheus-1", "alertmanager": "alertmanager-1",
                      "elasticsearch": "elasticsearch-exporter-1"}
