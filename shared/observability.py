"""The metrics and health endpoint every service serves on its own port.

GET /metrics  Prometheus text format (names declared in shared/metrics.py)
GET /healthz  200 {"status": "ok", ...} while the service's loop is alive, else 503

Health is a heartbeat: the service's main loop calls `health.beat()`; if it
stops beating for `stale_after_s` (a stuck consumer, a dead event loop) the
endpoint turns 503 so an orchestrator can restart it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)


class Health:
    def __init__(self, service: str, stale_after_s: float = 60.0) -> None:
        self.service = service
        self.stale_after_s = stale_after_s
        self._last_beat = time.monotonic()
        self._ready = False
        self._details: dict[str, object] = {}
        self._lock = threading.Lock()

    def beat(self, **details: object) -> None:
        with self._lock:
            self._last_beat = time.monotonic()
            self._ready = True
            self._details.update(details)

    def snapshot(self) -> tuple[bool, dict[str, object]]:
        with self._lock:
            age = time.monotonic() - self._last_beat
            healthy = self._ready and age <= self.stale_after_s
            body = {
                "service": self.service,
                "status": "ok" if healthy else ("starting" if not self._ready else "stale"),
                "last_beat_age_s": round(age, 3),
                **self._details,
            }
        return healthy, body


def serve_observability(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Start /metrics and /healthz in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith("/metrics"):
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path.startswith("/healthz"):
                healthy, body = health.snapshot()
                self._send(200 if healthy else 503, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # scrapes every few seconds: keep logs quiet
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="observability", daemon=True).start()
    log.info("%s metrics on http://%s:%d/metrics, health on /healthz", health.service, host, port)
    return server
