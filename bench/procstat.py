"""CPU, memory and disk writes of named processes, and of the whole machine, from /proc.

A `Sampler` thread reads, every `interval_s`, for each process a `discover()`
callback names (pid -> name, e.g. "extract/worker"):
  /proc/<pid>/stat    utime + stime: CPU seconds of all the process's threads
  /proc/<pid>/status  VmRSS (now) and VmHWM (the process's peak RSS since it started)
  /proc/<pid>/io      write_bytes: bytes the process caused to be written to storage
and for the machine /proc/stat (CPU busy in all cores) and /proc/loadavg, plus
the harness itself (this process and its children, e.g. a spaCy pool).

`usage(a, b)` turns two snapshots into per-name figures for the window between
them. A process that exits keeps its last reading; one that starts inside the
window counts from zero. Linux only; reading /proc costs the harness well under
1 % of a core at 0.5 s.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class Reading:
    name: str
    cpu_s: float
    rss_kb: int
    hwm_kb: int
    write_bytes: int


@dataclass(frozen=True)
class Snapshot:
    t: float  # time.monotonic()
    procs: dict[int, Reading]  # every process seen so far, with its last reading
    machine_busy_s: float  # CPU seconds used by everything on the machine since boot
    harness_cpu_s: float  # this process and its descendants that are not watched


def parse_stat(text: str) -> tuple[int, float]:
    """(ppid, cpu seconds) from /proc/<pid>/stat; the command name may hold spaces and parentheses."""
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / HZ


def parse_status_kb(text: str, key: str) -> int:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def machine_busy_seconds(proc_stat: str) -> float:
    """CPU seconds all cores spent not idle (user, nice, system, irq, softirq, steal)."""
    values = [int(v) for v in proc_stat.splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / HZ


def read_process(pid: int, name: str) -> Reading | None:
    try:
        _, cpu_s = parse_stat((PROC / str(pid) / "stat").read_text())
        status = (PROC / str(pid) / "status").read_text()
    except (OSError, ValueError):
        return None
    try:
        io = (PROC / str(pid) / "io").read_text()
        written = parse_status_kb(io, "write_bytes")
    except OSError:
        written = 0
    return Reading(name, cpu_s, parse_status_kb(status, "VmRSS"), parse_status_kb(status, "VmHWM"), written)


def parents() -> dict[int, int]:
    """pid -> ppid for every process now."""
    out = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = parse_stat((entry / "stat").read_text())[0]
            except (OSError, ValueError):
                continue
    return out


def descendants(pid: int, ppids: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent in ppids.items():
        children.setdefault(parent, []).append(child)
    out, todo = [], list(children.get(pid, []))
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def load_average() -> float:
    return float((PROC / "loadavg").read_text().split()[0])


@dataclass
class Sampler:
    """Samples the processes `discover` names every `interval_s` in a daemon thread.

    `discover` is called at start, at every snapshot and every `rediscover_s`;
    the result is merged with what was seen before, so exited processes keep
    their last figures."""

    discover: Callable[[], dict[int, str]]
    interval_s: float = 0.5
    rediscover_s: float = 2.0
    series: list[tuple[float, int, float]] = field(default_factory=list)  # (t, sum of VmRSS kB, loadavg 1 min)
    _names: dict[int, str] = field(default_factory=dict)
    _last: dict[int, Reading] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._rediscover()
        self._thread = threading.Thread(target=self._run, name="procstat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _rediscover(self) -> None:
        found = self.discover()
        with self._lock:
            self._names.update(found)

    def _sample(self) -> None:
        with self._lock:
            names = dict(self._names)
        rss_now = 0
        for pid, name in names.items():
            reading = read_process(pid, name)
            if reading is not None and (pid not in self._last or reading.cpu_s >= self._last[pid].cpu_s):
                rss_now += reading.rss_kb
                with self._lock:
                    self._last[pid] = reading
        self.series.append((time.monotonic(), rss_now, load_average()))

    def _run(self) -> None:
        next_discovery = time.monotonic() + self.rediscover_s
        while not self._stop.wait(self.interval_s):
            if time.monotonic() >= next_discovery:
                self._rediscover()
                next_discovery = time.monotonic() + self.rediscover_s
            self._sample()

    def snapshot(self) -> Snapshot:
        self._rediscover()
        self._sample()
        ppids = parents()
        with self._lock:
            watched = set(self._last)
            procs = dict(self._last)
        own = [p for p in [os.getpid(), *descendants(os.getpid(), ppids)] if p not in watched]
        harness = sum(r.cpu_s for p in own if (r := read_process(p, "harness")) is not None)
        return Snapshot(time.monotonic(), procs, machine_busy_seconds((PROC / "stat").read_text()), harness)


def usage(a: Snapshot, b: Snapshot, series: list[tuple[float, int, float]], stories: int | None = None) -> dict:
    """Per-name and whole-machine figures for the window between snapshots a and b."""
    wall = b.t - a.t
    per_name: dict[str, dict] = {}
    for pid, reading in b.procs.items():
        before = a.procs.get(pid)
        cpu = reading.cpu_s - (before.cpu_s if before else 0.0)
        written = reading.write_bytes - (before.write_bytes if before else 0)
        entry = per_name.setdefault(reading.name, {"pids": [], "cpu_s": 0.0, "peak_rss_mb": 0.0, "written_mb": 0.0})
        entry["pids"].append(pid)
        entry["cpu_s"] += cpu
        entry["peak_rss_mb"] = max(entry["peak_rss_mb"], reading.hwm_kb / 1024)
        entry["written_mb"] += written / 1e6
    for entry in per_name.values():
        entry["cores"] = entry["cpu_s"] / wall if wall > 0 else 0.0
        if stories:
            entry["cpu_ms_per_story"] = 1000 * entry["cpu_s"] / stories
    stack_cpu = sum(e["cpu_s"] for e in per_name.values())
    window = [s for s in series if a.t <= s[0] <= b.t]
    machine_cores = (b.machine_busy_s - a.machine_busy_s) / wall if wall > 0 else 0.0
    harness_cores = (b.harness_cpu_s - a.harness_cpu_s) / wall if wall > 0 else 0.0
    stack_cores = stack_cpu / wall if wall > 0 else 0.0
    whole = {
        "cpu_s": stack_cpu,
        "cores": stack_cores,
        "peak_rss_mb_sum_of_peaks": sum(e["peak_rss_mb"] for e in per_name.values()),
        "peak_rss_mb_of_sum": max((s[1] for s in window), default=0) / 1024,
        "written_mb": sum(e["written_mb"] for e in per_name.values()),
    }
    if stories:
        whole["cpu_ms_per_story"] = 1000 * stack_cpu / stories
    other = machine_cores - stack_cores - harness_cores
    machine = {
        "wall_s": wall,
        "machine_cores": machine_cores,
        "stack_cores": stack_cores,
        "harness_cores": harness_cores,
        "other_cores": other,
        "loadavg_1m_mean": sum(s[2] for s in window) / len(window) if window else load_average(),
        "machine_busy": other > 0.2,
    }
    return {"processes": per_name, "stack": whole, "machine": machine}

