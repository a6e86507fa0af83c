"""The desk's web application: pages and /api/ on one aiohttp server.

    GET /                   search: query, facets, date range, attention chart, results
    GET /story/{id}         one story, entities marked at their offsets
    GET /pipeline           every service's health, rates, latency, lag; latest dead letters
    GET /api/search         the same parameters as the page URL (services/desk/params.py)
    GET /api/facets         ...
    GET /api/histogram      ...  (+ split=lang, interval=auto|hour|day|week|month)
    GET /api/story/{id}
    GET /api/pipeline
    GET /api/deadletters

Read-only. Every page is server-rendered from Jinja2 templates with autoescaping on, so
story text (hostile input) is text wherever it appears; the small script only draws the
charts and refreshes the pipeline page. The Content-Security-Policy allows nothing but
this origin, so the page loads nothing from any other host.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import jinja2
from aiohttp import web

from shared import metrics
from shared.contract import ENTITY_LABELS, Story, is_web_url
from shared.elastic import stored_entities
from services.desk.deadletters import DeadLetterTail
from services.desk.marking import marked_story, offset_pairs
from services.desk.params import ParamError, SearchParams, parse_params
from services.desk.pipeline import PipelineMonitor
from services.desk.query import QueryError
from services.desk.search import SearchRefused, SearchUnavailable, StoryIndex
from services.desk.titles import story_title

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
STORY_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
ENTITY_ORDER = ENTITY_LABELS
INDEX_ONLY_FIELDS = frozenset({"entity_list", "entity_keys", "entity_names"})

INDEX_KEY = web.AppKey("index", StoryIndex)
MONITOR_KEY = web.AppKey("monitor", PipelineMonitor)
DEADLETTERS_KEY = web.AppKey("deadletters", DeadLetterTail)
TEMPLATES_KEY = web.AppKey("templates", jinja2.Environment)
CONTEXT_KEY = web.AppKey("context", dict)
POLLER_KEY = web.AppKey("poller", asyncio.Task)


class BadRequest(ValueError):
    def __init__(self, reason: str, param: str | None = None) -> None:
        super().__init__(reason)
        self.param = param


# ---------------------------------------------------------------- templates --

def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PACKAGE_DIR / "templates")),
        autoescape=True,  # every template, whatever its name: story text is hostile input
        undefined=jinja2.ChainableUndefined,  # documents indexed before a field existed lack it
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_time
    env.filters["rate"] = format_rate
    env.filters["seconds"] = format_seconds
    return env


def format_time(value) -> str:
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed.tzinfo else parsed.strftime("%Y-%m-%d %H:%M")


def format_rate(value) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}/s" if value >= 0.1 or value == 0 else f"{value * 60:.1f}/min"


def format_seconds(value) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def render(request: web.Request, name: str, status: int = 200, **context) -> web.Response:
    template = request.app[TEMPLATES_KEY].get_template(name)
    html = template.render(**request.app[CONTEXT_KEY], path=request.path, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


# ------------------------------------------------------------------- errors --

def api_error(status: int, reason: str, param: str | None = None) -> web.Response:
    error = {"status": status, "reason": reason}
    if param:
        error["param"] = param
    return web.json_response({"error": error}, status=status)


def classify(exc: Exception) -> tuple[int, str, str | None]:
    if isinstance(exc, ParamError):
        return 400, str(exc), exc.name
    if isinstance(exc, BadRequest):
        return 400, str(exc), exc.param
    if isinstance(exc, QueryError):
        return 400, f"q: {exc}", "q"
    if isinstance(exc, SearchRefused):
        return 400, f"Elasticsearch refused the search: {exc}", None
    if isinstance(exc, SearchUnavailable):
        return 503, str(exc), None
    raise exc


def params_of(request: web.Request) -> SearchParams:
    return parse_params(request.query)


def story_id_of(request: web.Request) -> str:
    story_id = request.match_info["id"]
    if not STORY_ID.fullmatch(story_id):
        raise BadRequest("id: a story id is 1-200 letters, digits and . _ : -", "id")
    return story_id


# ---------------------------------------------------------------------- api --

async def api_search(request: web.Request) -> web.Response:
    try:
        params = params_of(request)
        body = await request.app[INDEX_KEY].search(params)
    except Exception as exc:  # noqa: BLE001 (classify re-raises what it does not know)
        return api_error(*classify(exc))
    return web.json_response({"params": dict_of(params), **body})


async def api_facets(request: web.Request) -> web.Response:
    try:
        params = params_of(request)
        body = await request.app[INDEX_KEY].facets(params)
    except Exception as exc:  # noqa: BLE001
        return api_error(*classify(exc))
    return web.json_response({"params": dict_of(params), **body})


async def api_histogram(request: web.Request) -> web.Response:
    try:
        params = params_of(request)
        body = await request.app[INDEX_KEY].histogram(params)
    except Exception as exc:  # noqa: BLE001
        return api_error(*classify(exc))
    return web.json_response({"params": dict_of(params), **body})


async def api_story(request: web.Request) -> web.Response:
    try:
        _no_params(request)
        source = await request.app[INDEX_KEY].story(story_id_of(request))
    except Exception as exc:  # noqa: BLE001
        return api_error(*classify(exc))
    if source is None:
        return api_error(404, f"no visible story with id {request.match_info['id']} (killed, embargoed or unknown)")
    return web.json_response(story_json(source))


async def api_pipeline(request: web.Request) -> web.Response:
    try:
        _no_params(request)
    except BadRequest as exc:
        return api_error(400, str(exc), exc.param)
    return web.json_response(await pipeline_state(request.app, with_deadletters=False))


async def api_deadletters(request: web.Request) -> web.Response:
    try:
        _no_params(request)
    except BadRequest as exc:
        return api_error(400, str(exc), exc.param)
    return web.json_response(await request.app[DEADLETTERS_KEY].latest())


def _no_params(request: web.Request) -> None:
    if request.query:
        unknown = sorted(set(request.query.keys()))
        raise BadRequest(f"{unknown[0]}: unknown parameter{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)}; this endpoint takes none", unknown[0])


def dict_of(params: SearchParams) -> dict:
    return {
        "q": params.q, "lang": list(params.lang), "source": list(params.source), "format": list(params.format),
        "place": list(params.place), "entity": [f"{label}:{key}" for label, key in params.entity],
        "since": params.since, "until": params.until, "sort": params.sort, "size": params.size,
        "offset": params.offset, "split": params.split, "interval": params.interval,
    }


def story_json(source: dict) -> dict:
    """The document with every envelope field present (None when a document predates it) and its title."""
    source = {**dict.fromkeys([*Story.model_fields, "indexed_at"]), **source}
    source.pop("schema_version", None)
    title = story_title(source.get("headline"), source.get("body"))
    entities = [{**entity, "offsets": [list(pair) for pair in offset_pairs(entity.get("offsets"))]}
                for entity in stored_entities(source)]
    # The flat index fields (decision 16) are how the index finds entities; readers get the list.
    shown = {k: v for k, v in source.items() if k not in INDEX_ONLY_FIELDS}
    return {**shown, "entities": entities, "title": title.text, "title_derived": title.derived}


async def pipeline_state(app: web.Application, with_deadletters: bool) -> dict:
    index = app[INDEX_KEY]
    state = app[MONITOR_KEY].status()
    elasticsearch: dict = {"url": index.url, "error": None}
    try:
        counted, per_minute = await asyncio.gather(index.count(), index.indexed_per_minute())
        elasticsearch.update(counted)
    except SearchUnavailable as exc:
        elasticsearch["error"] = str(exc)
        per_minute = []
    state["elasticsearch"] = elasticsearch
    state["stories_indexed"] = elasticsearch.get("stories")
    state["indexed_per_minute"] = per_minute
    latencies = [s["latency"] for s in state["services"] if s.get("latency")]
    state["end_to_end"] = max(latencies, key=lambda lat: lat["count"]) if latencies else None
    if with_deadletters:
        state["deadletters"] = await app[DEADLETTERS_KEY].latest()
    return state


# -------------------------------------------------------------------- pages --

async def page_search(request: web.Request) -> web.Response:
    params = SearchParams()
    try:
        params = params_of(request)
        index = request.app[INDEX_KEY]
        results, facets = await index.search_and_facets(params)
    except Exception as exc:  # noqa: BLE001
        status, reason, param = classify(exc)
        return render(request, "search.html", status=status, params=params, error=reason,
                      error_kind="refused" if status == 400 else "unavailable",
                      results=None, facets=None, no_stories=False, filters=active_filters(params, {}),
                      raw_q=request.query.get("q", "") if isinstance(request.query.get("q"), str) else "")
    filtered = bool(params.q or params.lang or params.source or params.format or params.place or params.entity
                    or params.since or params.until)
    no_stories = results["total"] == 0 and not filtered
    return render(request, "search.html", params=params, error=None, error_kind=None, results=results,
                  facets=facets["facets"], no_stories=no_stories, filters=active_filters(params, facets["facets"]),
                  raw_q=params.q)


def active_filters(params: SearchParams, facets: dict) -> list[dict]:
    names = {(v["label"], v["value"]): v["name"] for label in ("PERSON", "ORG", "LOC") for v in facets.get(label, [])}
    chips = []
    for name, title in (("lang", "language"), ("source", "source"), ("format", "format"), ("place", "place")):
        chips += [{"kind": title, "text": value, "url": params.toggle(name, value)} for value in getattr(params, name)]
    chips += [{"kind": label, "text": names.get((label, key), key), "url": params.toggle("entity", (label, key))}
              for label, key in params.entity]
    for name in ("since", "until"):
        if getattr(params, name):
            chips.append({"kind": name, "text": getattr(params, name), "url": params.url(**{name: "", "offset": 0})})
    return chips


async def page_story(request: web.Request) -> web.Response:
    try:
        _no_params(request)
        source = await request.app[INDEX_KEY].story(story_id_of(request))
    except Exception as exc:  # noqa: BLE001
        status, reason, _ = classify(exc)
        return render(request, "story.html", status=status, story=None, error=reason)
    if source is None:
        return render(request, "story.html", status=404, story=None,
                      error="No visible story has this id: it may have been killed, be under embargo, "
                            "or not be indexed yet.")
    story = story_json(source)
    headline, paragraphs = marked_story(source.get("headline") or "", source.get("body") or "",
                                        stored_entities(source))
    entities = sorted(story["entities"], key=lambda e: (ENTITY_ORDER.index(e["label"]) if e.get("label") in
                                                        ENTITY_ORDER else 99, -(e.get("count") or 0), e.get("text") or ""))
    for entity in entities:
        if entity.get("label") in ("PERSON", "ORG", "LOC", "MISC") and entity.get("key"):
            entity["more_url"] = "/" + SearchParams(entity=((entity["label"], entity["key"]),)).url()
    return render(request, "story.html", story=story, headline_segments=headline, paragraphs=paragraphs,
                  entities=entities, error=None, link_ok=_web_link(story.get("link")))


def _web_link(link) -> bool:
    return isinstance(link, str) and is_web_url(link)


async def page_pipeline(request: web.Request) -> web.Response:
    try:
        _no_params(request)
    except BadRequest as exc:
        return render(request, "pipeline.html", status=400, state=None, error=str(exc))
    state = await pipeline_state(request.app, with_deadletters=True)
    return render(request, "pipeline.html", state=state, error=None)


async def not_found(request: web.Request) -> web.Response:
    if request.path.startswith("/api/"):
        return api_error(404, f"no such endpoint {request.path}")
    return render(request, "error.html", status=404, error=f"Nothing here: {request.path}")


# --------------------------------------------------------------- middleware --

@web.middleware
async def observe(request: web.Request, handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        if status == 404:
            status = 404
            return await not_found(request)
        raise
    except Exception:  # noqa: BLE001 (a bug: logged with its trace, answered without one)
        log.exception("desk request %s failed", request.path_qs)
        if request.path.startswith("/api/"):
            return api_error(500, "internal error in the desk (see its log)")
        return render(request, "error.html", status=500, error="Internal error in the desk; its log has the details.")
    finally:
        metrics.DESK_REQUESTS.labels(route, str(status)).inc()
        metrics.DESK_REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "public, max-age=3600"


# ---------------------------------------------------------------------- app --

def build_app(index: StoryIndex, monitor: PipelineMonitor, deadletters: DeadLetterTail,
              poll_s: float = 5.0, context: dict | None = None) -> web.Application:
    app = web.Application(middlewares=[observe])
    app[INDEX_KEY] = index
    app[MONITOR_KEY] = monitor
    app[DEADLETTERS_KEY] = deadletters
    app[TEMPLATES_KEY] = templates()
    app[CONTEXT_KEY] = {"es_url": index.url, "alias": index.alias, **(context or {})}
    app.router.add_get("/", page_search)
    app.router.add_get("/story/{id}", page_story)
    app.router.add_get("/pipeline", page_pipeline)
    app.router.add_get("/api/search", api_search)
    app.router.add_get("/api/facets", api_facets)
    app.router.add_get("/api/histogram", api_histogram)
    app.router.add_get("/api/story/{id}", api_story)
    app.router.add_get("/api/pipeline", api_pipeline)
    app.router.add_get("/api/deadletters", api_deadletters)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    app.on_response_prepare.append(security_headers)

    async def poll_pipeline(app: web.Application) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await monitor.poll_once(session)
                except Exception:  # noqa: BLE001 (one bad scrape must not stop the page's updates)
                    log.exception("pipeline poll failed")
                await asyncio.sleep(poll_s)

    async def start(app: web.Application) -> None:
        app[POLLER_KEY] = asyncio.create_task(poll_pipeline(app))

    async def stop(app: web.Application) -> None:
        app[POLLER_KEY].cancel()
        await index.es.close()
        await asyncio.to_thread(deadletters.close)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
