"""The ingest HTTP API.

POST /v1/items  one story or a batch, in any supported format (detected from
                the content; Content-Type is a hint). 202 with the story ids
                once Kafka acknowledged them. Errors are JSON:
                400 unparseable or invalid, 401 missing/wrong bearer token,
                413 too large, 415 not a news format, 503 Kafka unavailable.
"""

from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web

from shared import metrics
from shared.settings import IngestSettings
from services.ingest.formats import InputError, parse_bytes
from services.ingest.publisher import StoryPublisher

log = logging.getLogger(__name__)


def error_response(status: int, reason: str, **extra: object) -> web.Response:
    metrics.HTTP_REQUESTS.labels(str(status)).inc()
    if status < 500:
        metrics.FAILURES.labels("ingest", f"http_{status}").inc()
    return web.json_response({"error": {"status": status, "reason": reason, **extra}}, status=status)


def _authorized(request: web.Request, token: str | None) -> bool:
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def build_app(settings: IngestSettings, publisher: StoryPublisher) -> web.Application:
    async def post_items(request: web.Request) -> web.Response:
        if not _authorized(request, settings.api_token):
            return error_response(401, "missing or wrong bearer token")
        if request.content_length is not None and request.content_length > settings.max_item_bytes:
            return error_response(413, f"body of {request.content_length} bytes exceeds {settings.max_item_bytes}")
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, f"body exceeds {settings.max_item_bytes} bytes")
        metrics.MESSAGES_IN.labels("ingest").inc()
        started = time.perf_counter()
        try:
            result = parse_bytes(data, content_type=request.headers.get("Content-Type"),
                                 max_bytes=settings.max_item_bytes)
        except InputError as exc:
            return error_response(exc.status, exc.reason)
        rejected = [{"index": err.index, "reason": err.reason} for err in result.errors]
        if not result.stories:
            return error_response(400, "no usable story in the item", format=result.format, rejected=rejected)
        try:
            await publisher.publish_async(result.stories)
        except Exception as exc:  # noqa: BLE001 - any producer failure means "not accepted, retry"
            log.error("publishing to Kafka failed: %r", exc)
            return error_response(503, "could not hand the story to Kafka; retry later")
        metrics.MESSAGES_OUT.labels("ingest").inc(len(result.stories))
        metrics.BATCH_SECONDS.labels("ingest").observe(time.perf_counter() - started)
        metrics.HTTP_REQUESTS.labels("202").inc()
        accepted = [{"id": s.id, "version": s.version, "headline": s.headline[:200]} for s in result.stories]
        body: dict[str, object] = {"format": result.format, "accepted": accepted, "rejected": rejected}
        if len(accepted) == 1:
            body["id"] = accepted[0]["id"]
        return web.json_response(body, status=202)

    @web.middleware
    async def json_errors(request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                return error_response(exc.status, exc.reason)
            raise
        except Exception:  # noqa: BLE001 - a bug answers 500 JSON; the server keeps serving
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, "internal error")

    app = web.Application(client_max_size=settings.max_item_bytes, middlewares=[json_errors])
    app.router.add_post("/v1/items", post_items)
    return app
