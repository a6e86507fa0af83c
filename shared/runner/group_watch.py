"""The group watchdog's thread: reads the committed offsets of this member's group on
its whole source topic from the broker, and exits the service when a partition with
lag has not moved for `2 x stall_after_s` (shared/runner/progress.py, GroupProgress).

It uses its own kafka-python clients (an admin client and a consumer without a group),
so it never touches the consumer that does the work, from whichever host it runs in."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from shared.group_lag import committed_offsets
from shared.kafka_io import bootstrap_servers, kafka_python_kwargs
from shared.runner.crash_only import exit_now
from shared.runner.failures import EXIT_STUCK
from shared.runner.progress import GroupProgress
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


def sample(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str, topic: str):
    """(ends, committed) per (topic, partition) of the whole topic."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    if not partitions:
        return {}, {}
    ends = consumer.end_offsets(partitions)
    starts = consumer.beginning_offsets(partitions)
    committed = committed_offsets(admin, group, partitions)
    # Records below the log start (retention, trimming) can never be read: not lag.
    return ({(tp.topic, tp.partition): ends.get(tp) for tp in partitions},
            {(tp.topic, tp.partition): max(committed.get(tp, 0), starts.get(tp, 0)) for tp in partitions})


def watch_forever(settings: CommonSettings, group: str, topic: str, service: str, waiting: Callable[[], bool],
                  stop: threading.Event, interval_s: float = 5.0,
                  on_stalled: Callable[[str], None] | None = None) -> None:
    progress = GroupProgress(2 * settings.stall_after_s)
    on_stalled = on_stalled or (lambda reason: exit_now(EXIT_STUCK, reason))
    admin = consumer = None
    while not stop.is_set():
        try:
            if admin is None:
                admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(settings),
                                         client_id=f"wirestream-{service}-watch", **kafka_python_kwargs(settings))
                consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers(settings), group_id=None,
                                         enable_auto_commit=False, **kafka_python_kwargs(settings))
            ends, committed = sample(admin, consumer, group, topic)
            stalled = progress.observe(ends, committed, waiting=waiting())
            if stalled:
                on_stalled(f"{service}: partitions of group {group} stopped moving with nobody fetching them "
                           f"(or their owner stuck): {'; '.join(stalled)}; restarting to rejoin the group")
        except Exception as exc:  # noqa: BLE001 - a watchdog that cannot read the broker waits, never kills
            log.debug("group watchdog could not read the broker: %r", exc)
            for client in (admin, consumer):
                if client is not None:
                    client.close()
            admin = consumer = None
        stop.wait(interval_s)


def start(settings: CommonSettings, group: str, topic: str, service: str, waiting: Callable[[], bool],
          stop: threading.Event | None = None, interval_s: float = 5.0,
          on_stalled: Callable[[str], None] | None = None) -> threading.Thread:
    thread = threading.Thread(target=watch_forever, name="group-watch", daemon=True,
                              args=(settings, group, topic, service, waiting, stop or threading.Event()),
                              kwargs={"interval_s": interval_s, "on_stalled": on_stalled})
    thread.start()
    return thread
