"""desk: the read-only news desk (web pages + /api/) on the `news` alias and the pipeline's metrics."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from elasticsearch import AsyncElasticsearch

from shared.log_setup import configure_logging
from shared.observability import Health, serve_observability
from shared.settings import DeskSettings
from services.desk.app import build_app
from services.desk.deadletters import DeadLetterTail
from services.desk.pipeline import PipelineMonitor, parse_services
from services.desk.search import StoryIndex

log = logging.getLogger(__name__)


def make_app(settings: DeskSettings) -> web.Application:
    # No retries: a desk request should say "Elasticsearch unreachable" quickly, not hang.
    es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=settings.desk_search_timeout_s,
                            max_retries=0, retry_on_timeout=False)
    index = StoryIndex(es, settings.index_alias, settings.elasticsearch_url)
    monitor = PipelineMonitor(parse_services(settings.desk_services), window_s=settings.desk_rate_window_s)
    deadletters = DeadLetterTail(settings.kafka_bootstrap, settings.topic_deadletter, settings.desk_deadletter_tail)
    return build_app(index, monitor, deadletters, poll_s=settings.desk_poll_s,
                     context={"kafka_bootstrap": settings.kafka_bootstrap, "deadletter_topic": settings.topic_deadletter})


async def _beat(health: Health) -> None:
    # The desk is alive while its event loop runs; Elasticsearch being down is a page state, not a crash.
    while True:
        health.beat()
        await asyncio.sleep(5)


def main() -> None:
    settings = DeskSettings()
    configure_logging(settings.log_level)
    health = Health("desk")
    serve_observability(health, settings.metrics_host, settings.metrics_port)
    app = make_app(settings)
    beat_key = web.AppKey("beat", asyncio.Task)

    async def start_beating(app: web.Application) -> None:
        app[beat_key] = asyncio.create_task(_beat(health))

    async def stop_beating(app: web.Application) -> None:
        app[beat_key].cancel()

    app.on_startup.append(start_beating)
    app.on_cleanup.append(stop_beating)
    log.info("desk on http://%s:%d/", settings.desk_host, settings.desk_port)
    web.run_app(app, host=settings.desk_host, port=settings.desk_port, print=None, access_log=None)
