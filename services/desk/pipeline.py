"""What the pipeline page shows: every service's health, rates, latency and lag.

The desk reads each service's own /metrics, /healthz and /readyz (the same
endpoints Prometheus and an orchestrator use) every few seconds and keeps a short
history in memory, so rates are differences between two scrapes, as Prometheus'
rate() would compute them, and latency quantiles are interpolated from histogram
bucket differences, as histogram_quantile() would. Nothing is stored on disk: a
restarted desk starts its history again.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

# Names read from the services' /metrics (declared in shared/metrics.py, except the lag
# gauge, which a service exports once it measures lag; absent means "not reported").
COUNTERS = {
    "in": "wirestream_messages_in_total",
    "out": "wirestream_messages_out_total",
    "failures": "wirestream_failures_total",
    "deadletters": "wirestream_deadlettered_total",
}
LATENCY = "wirestream_end_to_end_latency_seconds"
CONSUMER_LAG = "wirestream_consumer_lag"
# Every stage group's lag as the broker sees it, exported by ingest: it still shows, and
# grows, when every replica of a stage is stopped (and so exports nothing itself).
GROUP_LAG = "wirestream_group_lag"


def read_group_lag(text: str) -> dict[str, dict[str, float]] | None:
    """{group: {topic: lag}} from a /metrics text that exports the broker's view, else None."""
    found: dict[str, dict[str, float]] | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == GROUP_LAG and not math.isnan(sample.value):
                found = found if found is not None else {}
                group = found.setdefault(sample.labels.get("group", "?"), {})
                group[sample.labels.get("topic", "?")] = sample.value
    return found


def parse_services(setting: str) -> dict[str, str]:
    """'ingest=http://127.0.0.1:9101,index=http://...' -> {name: base URL}."""
    services: dict[str, str] = {}
    for item in setting.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise ValueError(f"desk_services: '{item}' is not name=http://host:port")
        services[name.strip()] = url.strip().rstrip("/")
    return services


@dataclass
class Scrape:
    """One reading of one service."""

    at: float  # time.monotonic()
    reachable: bool
    counters: dict[str, float] = field(default_factory=dict)
    latency_buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative count)
    lag: dict[str, float] | None = None  # topic -> records behind, None when not exported
    group_lag: dict[str, dict[str, float]] | None = None  # group -> {topic: records behind} (ingest only)
    health: dict = field(default_factory=dict)
    ready: dict | None = None  # None: the service has no /readyz
    error: str | None = None


def read_metrics(text: str) -> tuple[dict[str, float], list[tuple[float, float]], dict[str, float] | None]:
    """Counters summed over labels, end-to-end latency buckets, lag per topic (or None)."""
    counters = {key: 0.0 for key in COUNTERS}
    buckets: dict[float, float] = {}
    lag: dict[str, float] | None = None
    wanted = {name: key for key, name in COUNTERS.items()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                counters[wanted[sample.name]] += sample.value
            elif sample.name == f"{LATENCY}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
            elif sample.name == CONSUMER_LAG:
                lag = lag if lag is not None else {}
                topic = sample.labels.get("topic", "?")
                if not math.isnan(sample.value):
                    lag[topic] = lag.get(topic, 0.0) + sample.value
    return counters, sorted(buckets.items()), lag


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (le, count) buckets; None without observations."""
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    previous_le, previous_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return previous_le  # the highest finite bound, as Prometheus does
            if count == previous_count:
                return le
            return previous_le + (le - previous_le) * (rank - previous_count) / (count - previous_count)
        previous_le, previous_count = le, count
    return previous_le


def increase(scrapes: list[Scrape], key: str) -> float:
    """How much a counter grew over consecutive scrapes; a drop is a restart that counted from 0 (as rate())."""
    total = 0.0
    for before, after in zip(scrapes, scrapes[1:]):
        old, new = before.counters.get(key, 0.0), after.counters.get(key, 0.0)
        total += new - old if new >= old else new
    return total


def bucket_delta(new: list[tuple[float, float]], old: list[tuple[float, float]]) -> list[tuple[float, float]]:
    before = dict(old)
    delta = [(le, count - before.get(le, 0.0)) for le, count in new]
    if any(count < 0 for _, count in delta):  # the service restarted: its histogram began again
        return list(new)
    return delta


class PipelineMonitor:
    def __init__(self, services: dict[str, str], window_s: float = 60.0, timeout_s: float = 2.0) -> None:
        self.services = services
        self.window_s = window_s
        self.timeout_s = timeout_s
        keep = 512
        self.history: dict[str, deque[Scrape]] = {name: deque(maxlen=keep) for name in services}

    async def poll_once(self, session: aiohttp.ClientSession) -> None:
        results = await asyncio.gather(*(self._scrape(session, url) for url in self.services.values()))
        now = time.monotonic()
        for name, scrape in zip(self.services, results):
            history = self.history[name]
            history.append(scrape)
            while len(history) > 2 and now - history[1].at > self.window_s * 2:
                history.popleft()

    async def _scrape(self, session: aiohttp.ClientSession, base: str) -> Scrape:
        at = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with session.get(f"{base}/metrics", timeout=timeout) as response:
                text = await response.text()
            counters, buckets, lag = read_metrics(text)
            group_lag = read_group_lag(text)
            health = await self._json(session, f"{base}/healthz", timeout)
            ready = await self._json(session, f"{base}/readyz", timeout, missing_ok=True)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            return Scrape(at=at, reachable=False, error=f"{type(exc).__name__}: {exc}"[:300],
                          health={"status": "unreachable"})
        return Scrape(at=at, reachable=True, counters=counters, latency_buckets=buckets, lag=lag,
                      group_lag=group_lag, health=health, ready=ready)

    @staticmethod
    async def _json(session, url: str, timeout, missing_ok: bool = False) -> dict | None:
        async with session.get(url, timeout=timeout) as response:
            if missing_ok and response.status == 404:
                return None
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = {"status": "unknown", "reason": text[:200]}
            if not isinstance(body, dict):
                body = {"status": "unknown"}
            body["http_status"] = response.status
            return body

    def status(self) -> dict:
        broker_view = self.group_lag()
        services = [self.service_status(name) for name in self.services]
        for status in services:
            if status["lag"] is None:
                # The service exports no lag (stopped, unreachable): show its group's lag as the
                # broker sees it, marked as such.
                group = broker_view.get(_group_of(status["name"]))
                if group is not None:
                    status["lag"] = group
                    status["lag_from"] = "broker"
        return {"window_s": self.window_s, "services": services, "group_lag": broker_view}

    def group_lag(self) -> dict[str, dict[str, float]]:
        """The latest broker view of every stage group's lag, from whichever service exports it."""
        for history in self.history.values():
            for scrape in reversed(history):
                if scrape.reachable and scrape.group_lag is not None:
                    return scrape.group_lag
        return {}

    def service_status(self, name: str) -> dict:
        history = self.history[name]
        if not history:
            return {"name": name, "url": self.services[name], "health": "unknown", "reachable": None,
                    "rates": None, "latency": None, "lag": None, "ready": None}
        latest = history[-1]
        health = latest.health or {}
        healthy = latest.reachable and health.get("http_status") == 200 and health.get("status") == "ok"
        status = {
            "name": name,
            "url": self.services[name],
            "reachable": latest.reachable,
            "health": "ok" if healthy else str(health.get("status") or "unhealthy"),
            "health_detail": {k: v for k, v in health.items() if k not in ("service", "http_status")},
            "ready": _readiness(latest.ready),
            "error": latest.error,
            "rates": None,
            "latency": None,
            "lag": latest.lag,
        }
        if not latest.reachable:
            return status
        window = [s for s in history if s.reachable and latest.at - s.at <= self.window_s]
        base = window[0] if len(window) > 1 else None
        if base is not None and latest.at > base.at:
            status["rates"] = {key: increase(window, key) / (latest.at - base.at) for key in latest.counters}
            status["rates_over_s"] = round(latest.at - base.at, 1)
        if latest.latency_buckets and latest.latency_buckets[-1][1] > 0:
            window = bucket_delta(latest.latency_buckets, base.latency_buckets) if base else []
            if window and window[-1][1] > 0:
                status["latency"] = _quantiles(window, f"last {round(latest.at - base.at)} s")
            else:
                status["latency"] = _quantiles(latest.latency_buckets, "since start")
        status["totals"] = latest.counters
        return status


def _group_of(process_name: str) -> str:
    """The consumer group of a service process: extract-1 -> wirestream-extract (the default group names)."""
    service, _, replica = process_name.rpartition("-")
    return f"wirestream-{service if replica.isdigit() and service else process_name}"


def _quantiles(buckets: list[tuple[float, float]], over: str) -> dict:
    return {"p50_s": histogram_quantile(0.5, buckets), "p95_s": histogram_quantile(0.95, buckets),
            "count": buckets[-1][1], "over": over}


def _readiness(ready: dict | None) -> dict | None:
    if ready is None:
        return None
    status = ready.get("status") or ("ready" if ready.get("http_status") == 200 else "not ready")
    reason = ready.get("reason") or ""
    if isinstance(ready.get("reasons"), dict):  # {"cause": "reason", ...} as shared/observability.py answers
        reason = "; ".join(f"{cause}: {why}" for cause, why in ready["reasons"].items())
    return {"status": str(status), "reason": str(reason), "ok": ready.get("http_status") == 200}
