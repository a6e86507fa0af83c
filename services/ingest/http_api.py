"""The ingest HTTP API.

POST /v1/items  one story or a batch, in any supported format (detected from
                the content; Content-Type is a hint). 202 with the story ids
                once Kafka acknowledged them. Errors are JSON:
                400 unparseable or invalid, 401 missing/wrong bearer token,
                403 a source the token may not publish, 408 body too slow,
                413 too large (body, item count, or one story's record),
                415 not a news format, 503 Kafka unavailable or too busy.

The event loop only moves bytes: reading the body has a deadline, parsing and
encoding run in a bounded thread pool, and at most `max_concurrent_requests`
requests are in progress at once, so one huge or slow request cannot make the
others wait (see docs/decisions/0008-ingest-limits.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from kafka.errors import MessageSizeTooLargeError

from shared import metrics
from shared.settings import IngestSettings
from services.ingest.admission import Admitted, admit
from services.ingest.formats import InputError, parse_bytes
from services.ingest.publisher import StoryPublisher, StoryTooLarge
from services.ingest.tokens import TokenGrant, TokenTable

log = logging.getLogger(__name__)

OPEN_ACCESS = TokenGrant(token="", sources=None)


def error_response(status: int, reason: str, **extra: object) -> web.Response:
    metrics.HTTP_REQUESTS.labels(str(status)).inc()
    if status < 500:
        metrics.FAILURES.labels("ingest", f"http_{status}").inc()
    return web.json_response({"error": {"status": status, "reason": reason, **extra}}, status=status)


def _grant(request: web.Request, tokens: TokenTable) -> TokenGrant | None:
    if not tokens.required:
        return OPEN_ACCESS
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return tokens.grant_for(presented.strip())


def _rejections(admitted: Admitted) -> list[dict[str, object]]:
    return [{"index": err.index, "status": err.status, "reason": err.reason} for err in admitted.errors]


def build_app(settings: IngestSettings, publisher: StoryPublisher) -> web.Application:
    tokens = TokenTable.from_settings(settings.api_token, settings.api_tokens)  # a bad setting fails start-up
    workers = ThreadPoolExecutor(max_workers=settings.max_concurrent_requests, thread_name_prefix="ingest-http")
    slots = asyncio.Semaphore(settings.max_concurrent_requests)

    def parse_and_admit(data: bytes, content_type: str | None, grant: TokenGrant) -> Admitted:
        # Runs in the pool: parsing a 5 MB batch takes long enough to stall every other request.
        result = parse_bytes(data, content_type=content_type, max_bytes=settings.max_item_bytes,
                             max_items=settings.max_items_per_request)
        return admit(result, publisher.limits, grant.sources)

    async def post_items(request: web.Request) -> web.Response:
        grant = _grant(request, tokens)
        if grant is None:
            return error_response(401, "missing or wrong bearer token")
        if request.content_length is not None and request.content_length > settings.max_item_bytes:
            return error_response(413, f"body of {request.content_length} bytes exceeds the limit of "
                                       f"{settings.max_item_bytes} (WIRESTREAM_MAX_ITEM_BYTES)")
        try:
            await asyncio.wait_for(slots.acquire(), settings.request_read_timeout_s)
        except asyncio.TimeoutError:
            response = error_response(503, f"too many requests in progress (max_concurrent_requests "
                                           f"{settings.max_concurrent_requests}); retry later")
            response.headers["Retry-After"] = "1"
            return response
        try:
            return await handle(request, grant)
        finally:
            slots.release()

    async def handle(request: web.Request, grant: TokenGrant) -> web.Response:
        try:
            data = await asyncio.wait_for(request.read(), settings.request_read_timeout_s)
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, f"body exceeds the limit of {settings.max_item_bytes} bytes "
                                       "(WIRESTREAM_MAX_ITEM_BYTES)")
        except asyncio.TimeoutError:
            response = error_response(408, f"request body not received within {settings.request_read_timeout_s:g} s "
                                           "(WIRESTREAM_REQUEST_READ_TIMEOUT_S)")
            response.force_close()  # the rest of that body is never read
            return response
        metrics.MESSAGES_IN.labels("ingest").inc()
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            admitted = await loop.run_in_executor(workers, parse_and_admit, data,
                                                  request.headers.get("Content-Type"), grant)
        except InputError as exc:
            return error_response(exc.status, exc.reason)
        rejected = _rejections(admitted)
        if not admitted.stories:
            return error_response(admitted.only_status(), "no usable story in the item", format=admitted.format,
                                  rejected=rejected)
        try:
            await publisher.publish_async(admitted.stories, workers)
        except StoryTooLarge as exc:  # admission measured it already; a backstop, never sent
            return error_response(413, str(exc))
        except MessageSizeTooLargeError:
            # The broker's limit is lower than the one read at start-up (its configuration changed):
            # retrying would fail again, so not a 503. The poisoned producer is replaced already.
            return error_response(413, "the broker refused the record as too large: its limit is lower than "
                                       f"the {publisher.limits.broker_max_message_bytes} bytes read at start-up; "
                                       "restart ingest to read it again")
        except Exception as exc:  # noqa: BLE001 - any producer failure means "not accepted, retry"
            log.error("publishing to Kafka failed: %r", exc)
            return error_response(503, "could not hand the story to Kafka; retry later")
        metrics.MESSAGES_OUT.labels("ingest").inc(len(admitted.stories))
        metrics.BATCH_SECONDS.labels("ingest").observe(time.perf_counter() - started)
        metrics.HTTP_REQUESTS.labels("202").inc()
        accepted = [{"id": s.id, "version": s.version, "headline": s.headline[:200]} for s in admitted.stories]
        body: dict[str, object] = {"format": admitted.format, "accepted": accepted, "rejected": rejected}
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

    async def stop_workers(app: web.Application) -> None:
        workers.shutdown(wait=False, cancel_futures=True)

    app = web.Application(client_max_size=settings.max_item_bytes, middlewares=[json_errors])
    app.router.add_post("/v1/items", post_items)
    app.on_cleanup.append(stop_workers)
    return app
