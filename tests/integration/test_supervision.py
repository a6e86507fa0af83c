"""Crash-only services under the embedded stack's supervisor (issue 9 items 6, 11b).

Every service stops within seconds of SIGTERM, committing what it finished, and
leaves no worker or resource-tracker children behind, whether it stops on SIGTERM,
is killed with SIGKILL, or exits on its own; a worker that hangs is replaced by its
service, and the supervisor restarts what exited.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest

from services import stack
from tests.integration.conftest import _alive, search_ids, wait_until


@pytest.mark.parametrize("service", ["langdetect", "extract"])
def test_sigterm_stops_a_transform_within_seconds_and_leaves_no_children(running_stack, service):
    """It took 61-63 s (faust waiting for aiokafka's fetch task), and make down then
    SIGKILLed it and left the worker and resource tracker running."""
    pid = running_stack.pid(service)
    children = stack.descendants(pid)
    assert children, f"{service} runs its stage in a worker process"
    os.kill(pid, signal.SIGTERM)  # the main process only, as `docker stop` does
    wait_until(lambda: not _alive(pid), timeout_s=20, interval_s=0.1, what=f"{service} exiting after SIGTERM")
    wait_until(lambda: not any(_alive(child) for child in children), timeout_s=10,
               what=f"{service}'s children {sorted(children)} gone")
    running_stack.wait_restarted(service, pid)
    log = (running_stack.config.run_dir / "logs" / f"{service}.log").read_text(errors="replace")
    assert "stopped on SIGTERM" in log


def test_sigkill_leaves_no_worker_behind_and_the_supervisor_restarts(running_stack):
    pid = running_stack.pid("extract")
    children = stack.descendants(pid)
    os.kill(pid, signal.SIGKILL)  # the main process only: its worker must not outlive it
    wait_until(lambda: not any(_alive(child) for child in children), timeout_s=10,
               what=f"extract's children {sorted(children)} gone after SIGKILL of their parent")
    running_stack.wait_restarted("extract", pid)


def test_a_hung_worker_is_replaced_and_the_story_still_arrives(running_stack, es):
    """A worker that never returned only turned /healthz to 503 and nobody restarted it.
    Now its service kills and replaces it (without exiting: a story that hangs the stage
    would hang a restarted service too) and processes the batch again."""
    pid = running_stack.pid("langdetect")
    workers = stack.stage_workers(pid)
    assert len(workers) == 1, "one stage worker (beside multiprocessing's resource tracker)"
    for worker in workers:
        os.kill(worker, signal.SIGSTOP)  # hung: alive, never answering
    run = uuid.uuid4().hex[:8]
    status, body = running_stack.post("/v1/items", json.dumps(
        {"guid": f"hung-{run}", "source": "TEST", "headline": f"Hung stage {run}",
         "body": "Officials in Paris said on Monday that the stage would recover."}).encode())
    assert status == 202
    deadline_s = float(running_stack.config.extra_env["WIRESTREAM_STAGE_DEADLINE_S"])
    started = time.monotonic()
    wait_until(lambda: search_ids(es, [body["id"]]), timeout_s=deadline_s + 180,
               what="the story searchable after the worker was replaced")
    print(f"searchable {time.monotonic() - started:.0f}s after the worker hung")
    log = (running_stack.config.run_dir / "logs" / "langdetect.log").read_text(errors="replace")
    assert "replacing the worker process" in log
    assert not any(_alive(worker) for worker in workers), "the hung worker was killed"
    assert running_stack.pid("langdetect") == pid, "the service itself kept running"
    assert stack.descendants(pid) - workers, "a new worker took over"
