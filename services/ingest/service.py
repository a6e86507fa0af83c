"""ingest: HTTP, a drop folder, feeds (and the CLI) -> parse any wire format -> news.raw."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from aiohttp import web

from shared import group_lag
from shared.kafka_io import ensure_topics
from shared.log_setup import configure_logging
from shared.observability import Health, serve_observability
from shared.settings import IngestSettings
from services.ingest.dropfolder import DropFolder, watch
from services.ingest.feeds import FeedPoller, parse_feed_setting, run_poller
from services.ingest.http_api import build_app
from services.ingest.publisher import StoryPublisher

log = logging.getLogger(__name__)


# The beat loop runs every BEAT_S; three missed beats turn /healthz to 503.
BEAT_S = 5.0
STALE_AFTER_S = 3 * BEAT_S


async def _beat_while_connected(health: Health, publisher: StoryPublisher) -> None:
    """Beat while a working producer exists and Kafka answers; /healthz shows the producer's
    state (replacements, the last fatal error). A producer found in a fatal state is
    replaced here at the latest (a failed send replaces it at once); while it cannot be
    replaced there is no beat, so /healthz turns 503 after STALE_AFTER_S."""
    while True:
        usable = await asyncio.to_thread(publisher.check)
        if usable and await asyncio.to_thread(publisher.connected):
            health.beat(**publisher.state())
        await asyncio.sleep(BEAT_S)


def start_channels(settings: IngestSettings, stop: threading.Event) -> list[threading.Thread]:
    """The drop folder and the feed poller, each in its own thread with its own producer."""
    threads = []
    if settings.drop_dir:
        folder = DropFolder(Path(settings.drop_dir), StoryPublisher(settings, "wirestream-dropfolder"),
                            settings.max_item_bytes, state_file=Path(settings.state_dir) / "dropfolder.json")
        threads.append(threading.Thread(target=watch, args=(folder, settings.drop_scan_s, stop),
                                        name="dropfolder", daemon=True))
    sources = parse_feed_setting(settings.feeds, settings.feed_interval_s)
    if sources:
        poller = FeedPoller(StoryPublisher(settings, "wirestream-feeds"), Path(settings.state_dir) / "feeds.json",
                            settings.max_item_bytes, deadletter_topic=settings.topic_deadletter,
                            fetch_timeout_s=settings.feed_fetch_timeout_s)
        threads.append(threading.Thread(target=run_poller, args=(poller, sources, stop, settings.feed_concurrency),
                                        name="feeds", daemon=True))
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level)
    ensure_topics(settings)
    health = Health("ingest", stale_after_s=STALE_AFTER_S)
    serve_observability(health, settings.metrics_host, settings.metrics_port)
    publisher = StoryPublisher(settings)
    app = build_app(settings, publisher)
    stop_channels = threading.Event()
    start_channels(settings, stop_channels)
    # every stage's lag, even when its replicas are all down; trims what intermediates' readers committed
    group_lag.start(settings, stop_channels, trim=settings.trim_consumed_topics)

    async def start_beating(app: web.Application) -> None:
        app["beat"] = asyncio.create_task(_beat_while_connected(health, publisher))

    async def stop(app: web.Application) -> None:
        stop_channels.set()
        app["beat"].cancel()
        publisher.close()

    app.on_startup.append(start_beating)
    app.on_cleanup.append(stop)
    log.info("ingest API on http://%s:%d/v1/items", settings.http_host, settings.http_port)
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)
