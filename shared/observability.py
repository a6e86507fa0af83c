"""The metrics and health endpoints every service serves on its own port.

GET /metrics  Prometheus text format (names declared in shared/metrics.py)
GET /healthz  liveness: 200 while the service's loop is alive, else 503. An
              orchestrator restarts a service that is not live.
GET /readyz   readiness: 200 when the service can do its work now, 503 with the
              reason when it cannot (Elasticsearch down, Kafka unreachable, a
              systemic failure, paused for backpressure). A service that is live
              but not ready is waiting for something outside itself: restarting
              it would not help, alerting someone might.

Liveness is a heartbeat: the service's main loop calls `health.beat()`; if it stops
beating for `stale_after_s` (a stuck consumer, a dead event loop) /healthz turns 503.
Readiness is set by whoever knows: `health.not_ready(reason)` / `health.ready()`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics

log = logging.getLogger(__name__)


class Health:
    def __init__(self, service: str, stale_after_s: float = 60.0) -> None:
        self.service = service
        self.stale_after_s = stale_after_s
        self._last_beat = time.monotonic()
        self._started = False
        self._not_ready: dict[str, str] = {}  # cause -> reason; ready when empty
        self._details: dict[str, object] = {}
        self._lock = threading.Lock()

    # -- liveness ----------------------------------------------------------
    def beat(self, **details: object) -> None:
        with self._lock:
            self._last_beat = time.monotonic()
            self._started = True
            self._details.update(details)

    def live(self) -> tuple[bool, dict[str, object]]:
        with self._lock:
            age = time.monotonic() - self._last_beat
            alive = self._started and age <= self.stale_after_s
            body = {
                "service": self.service,
                "status": "ok" if alive else ("starting" if not self._started else "stale"),
                "last_beat_age_s": round(age, 3),
                **self._details,
            }
        return alive, body

    # Kept for callers that only ask "is it alive".
    snapshot = live

    # -- readiness ---------------------------------------------------------
    def not_ready(self, cause: str, reason: str) -> None:
        """Mark one cause of unreadiness (e.g. "elasticsearch"), with a reason a person can act on."""
        with self._lock:
            changed = self._not_ready.get(cause) != reason
            self._not_ready[cause] = reason
        if changed:
            log.warning("%s not ready (%s): %s", self.service, cause, reason)
        metrics.READY.labels(self.service).set(0)

    def ready(self, cause: str) -> None:
        with self._lock:
            was = self._not_ready.pop(cause, None)
            still = bool(self._not_ready)
        if was is not None:
            log.info("%s: %s recovered", self.service, cause)
        metrics.READY.labels(self.service).set(0 if still else 1)

    def readiness(self) -> tuple[bool, dict[str, object]]:
        alive, body = self.live()
        with self._lock:
            reasons = dict(self._not_ready)
        ok = alive and not reasons
        if not alive:
            reasons.setdefault("liveness", f"service loop {body['status']}")
        return ok, {"service": self.service, "status": "ready" if ok else "not ready", "reasons": reasons}


def serve_observability(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Start /metrics, /healthz and /readyz in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith("/metrics"):
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path.startswith("/healthz"):
                ok, body = health.live()
                self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
            elif self.path.startswith("/readyz"):
                ok, body = health.readiness()
                self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
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

    ThreadingHTTPServer.allow_reuse_address = True  # a restart must not wait for TIME_WAIT
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="observability", daemon=True).start()
    log.info("%s metrics on http://%s:%d/metrics, health on /healthz and /readyz", health.service, host, port)
    return server
