"""The group watchdog's thread: reads the committed offsets of this member's group on
its whole source topic from the broker (with its own clients, shared/group_lag.py
poll_broker), and exits the service when a partition with lag has not moved for
`2 x stall_after_s` (shared/runner/progress.py, GroupProgress)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer

from shared.group_lag import partition_offsets, poll_broker
from shared.runner.crash_only import exit_now
from shared.runner.failures import EXIT_STUCK
from shared.runner.progress import GroupProgress
from shared.settings import CommonSettings


def watch_forever(settings: CommonSettings, group: str, topic: str, service: str, waiting: Callable[[], bool],
                  stop: threading.Event, interval_s: float = 5.0,
                  on_stalled: Callable[[str], None] | None = None) -> None:
    progress = GroupProgress(2 * settings.stall_after_s)
    on_stalled = on_stalled or (lambda reason: exit_now(EXIT_STUCK, reason))

    def check(admin: KafkaAdminClient, consumer: KafkaConsumer) -> None:
        ends, committed = partition_offsets(admin, consumer, group, topic)
        stalled = progress.observe(ends, committed, waiting=waiting())
        if stalled:
            on_stalled(f"{service}: partitions of group {group} stopped moving with nobody fetching them "
                       f"(or their owner stuck): {'; '.join(stalled)}; restarting to rejoin the group")

    # A watchdog that cannot read the broker waits; it never kills for that.
    poll_broker(settings, f"wirestream-{service}-watch", check, stop, interval_s, "the group's offsets")


def start(settings: CommonSettings, group: str, topic: str, service: str, waiting: Callable[[], bool],
          stop: threading.Event | None = None, interval_s: float = 5.0,
          on_stalled: Callable[[str], None] | None = None) -> threading.Thread:
    thread = threading.Thread(target=watch_forever, name="group-watch", daemon=True,
                              args=(settings, group, topic, service, waiting, stop or threading.Event()),
                              kwargs={"interval_s": interval_s, "on_stalled": on_stalled})
    thread.start()
    return thread
