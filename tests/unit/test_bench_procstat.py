"""The arithmetic behind bench/results/e2e.json: /proc parsing, per-window usage, percentiles."""

from __future__ import annotations

import os

import pytest

from bench import procstat
from bench.e2e import percentiles
from bench.procstat import Reading, Snapshot

HZ = procstat.HZ


def test_stat_parsing_survives_spaces_and_parentheses_in_the_command_name():
    fields = ["S", "77"] + ["0"] * 9 + [str(3 * HZ), str(HZ)] + ["0"] * 30
    ppid, cpu = procstat.parse_stat(f"1234 (py (x) y) {' '.join(fields)}")
    assert (ppid, cpu) == (77, 4.0)


def test_machine_busy_counts_everything_but_idle_and_iowait():
    line = f"cpu  {HZ} {HZ} {HZ} {100 * HZ} {50 * HZ} {HZ} {HZ} {HZ} 0 0\ncpu0 1 2 3"
    assert procstat.machine_busy_seconds(line) == 6.0


def test_status_fields_in_kilobytes():
    status = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
    assert procstat.parse_status_kb(status, "VmHWM") == 204800
    assert procstat.parse_status_kb(status, "VmRSS") == 102400
    assert procstat.parse_status_kb(status, "VmSwap") == 0


def test_descendants_follow_the_whole_tree():
    ppids = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1}
    assert sorted(procstat.descendants(10, ppids)) == [11, 12, 13]
    assert procstat.descendants(20, ppids) == []


def _reading(name: str, cpu: float, rss_mb: int = 100, hwm_mb: int = 200, written: int = 0) -> Reading:
    return Reading(name, cpu, rss_mb * 1024, hwm_mb * 1024, written)


def test_usage_over_a_window_counts_started_and_exited_processes():
    a = Snapshot(t=100.0, procs={1: _reading("index", 5.0), 2: _reading("extract/worker", 50.0, written=10**6)},
                 machine_busy_s=1000.0, harness_cpu_s=1.0)
    b = Snapshot(t=110.0,
                 procs={1: _reading("index", 6.0),  # still running: 1 s in the window
                        2: _reading("extract/worker", 58.0, hwm_mb=300, written=3 * 10**6),  # exited: last reading
                        3: _reading("extract/worker", 1.0, hwm_mb=250)},  # restarted inside the window: from zero
                 machine_busy_s=1015.0, harness_cpu_s=2.0)
    series = [(99.0, 10**9, 9.0), (105.0, 400 * 1024, 1.0), (109.0, 500 * 1024, 3.0), (111.0, 10**9, 9.0)]
    figures = procstat.usage(a, b, series, stories=100)
    worker = figures["processes"]["extract/worker"]
    assert worker["pids"] == [2, 3]
    assert worker["cpu_s"] == pytest.approx(9.0)
    assert worker["cores"] == pytest.approx(0.9)
    assert worker["cpu_ms_per_story"] == pytest.approx(90.0)
    assert worker["peak_rss_mb"] == 300
    assert worker["written_mb"] == pytest.approx(2.0)
    assert figures["processes"]["index"]["cores"] == pytest.approx(0.1)
    assert figures["stack"]["cpu_s"] == pytest.approx(10.0)
    assert figures["stack"]["peak_rss_mb_sum_of_peaks"] == 500
    assert figures["stack"]["peak_rss_mb_of_sum"] == 500  # samples outside the window do not count
    machine = figures["machine"]
    assert machine["machine_cores"] == pytest.approx(1.5)
    assert machine["harness_cores"] == pytest.approx(0.1)
    assert machine["other_cores"] == pytest.approx(1.5 - 1.0 - 0.1)
    assert machine["loadavg_1m_mean"] == pytest.approx(2.0)
    assert machine["machine_busy"] is True


def test_a_machine_doing_only_our_work_is_not_busy():
    a = Snapshot(0.0, {1: _reading("noida-db", 0.0)}, machine_busy_s=0.0, harness_cpu_s=0.0)
    b = Snapshot(10.0, {1: _reading("noida-db", 5.0)}, machine_busy_s=6.5, harness_cpu_s=0.5)
    assert procstat.usage(a, b, [])["machine"]["machine_busy"] is False


def test_the_sampler_reads_this_process():
    sampler = procstat.Sampler(discover=lambda: {os.getpid(): "me"}, interval_s=0.05).start()
    try:
        first = sampler.snapshot()
        sum(i * i for i in range(200_000))
        last = sampler.snapshot()
    finally:
        sampler.stop()
    me = procstat.usage(first, last, sampler.series)["processes"]["me"]
    assert me["pids"] == [os.getpid()]
    assert me["peak_rss_mb"] > 1
    assert me["cpu_s"] >= 0
    assert last.procs[os.getpid()].cpu_s >= first.procs[os.getpid()].cpu_s
    assert last.harness_cpu_s == 0.0  # this process is watched, so it is not counted as harness too


def test_percentiles_are_nearest_rank():
    values = [i / 100 for i in range(100, 0, -1)]  # 0.01 .. 1.00, unsorted
    figures = percentiles(values)
    assert (figures["p50_s"], figures["p95_s"], figures["p99_s"], figures["max_s"]) == (0.5, 0.95, 0.99, 1.0)
    assert percentiles([0.3])["p99_s"] == 0.3
    assert percentiles([])["p50_s"] is None
