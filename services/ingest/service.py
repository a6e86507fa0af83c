"""ingest: HTTP (and the CLI) -> parse any wire format -> news.raw."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from shared.kafka_io import ensure_topics
from shared.log_setup import configure_logging
from shared.observability import Health, serve_observability
from shared.settings import IngestSettings
from services.ingest.http_api import build_app
from services.ingest.publisher import StoryPublisher

log = logging.getLogger(__name__)


async def _beat_while_connected(health: Health, publisher: StoryPublisher) -> None:
    while True:
        if await asyncio.to_thread(publisher.connected):
            health.beat()
        await asyncio.sleep(5)


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level)
    ensure_topics(settings)
    health = Health("ingest")
    serve_observability(health, settings.metrics_host, settings.metrics_port)
    publisher = StoryPublisher(settings)
    app = build_app(settings, publisher)

    async def start_beating(app: web.Application) -> None:
        app["beat"] = asyncio.create_task(_beat_while_connected(health, publisher))

    async def stop(app: web.Application) -> None:
        app["beat"].cancel()
        publisher.close()

    app.on_startup.append(start_beating)
    app.on_cleanup.append(stop)
    log.info("ingest API on http://%s:%d/v1/items", settings.http_host, settings.http_port)
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)
