"""Crash-only exits: a service that cannot go on exits at once and is restarted.

Offsets are committed only after the downstream write is confirmed, so exiting at
any point loses nothing: the restarted service reads from the last commit. What an
exit must not leave behind is its children (the stage's worker process and
multiprocessing's resource tracker): they hold memory and, for a worker, a model.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a worker process must
    not outlive a service that was killed with SIGKILL or exited with os._exit)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not fatal: the supervisor's group kill still reaches us
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable")
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def kill_children() -> None:
    for child in multiprocessing.active_children():
        try:
            child.kill()
        except (OSError, AttributeError):
            pass


def exit_now(code: int, reason: str) -> None:
    """Exit the process at once, uncommitted work left for the restart to redo."""
    log.critical("exiting (%d): %s", code, reason)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
    kill_children()
    os._exit(code)
