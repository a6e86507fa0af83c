"""The desk's pages and API against a recording Elasticsearch stand-in (real HTTP, fake answers).

What these pin down: hostile story text is inert on every page and in the API
(escaped, never markup), parameters are validated with 400s naming them, and
whatever a user sends, the desk asks Elasticsearch nothing but `_search` on the alias.
"""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from elasticsearch import AsyncElasticsearch

from services.desk.app import build_app
from services.desk.pipeline import PipelineMonitor
from services.desk.search import MARK_CLOSE, MARK_OPEN, StoryIndex
from services.extract.nlp.normalize import canonical_key

HEADLINE = '<script>alert("xss-headline")</script> Markets & "quotes"'
BODY = ('Tokyo (AFP) - <img src=x onerror=alert("xss-body")> said <a href="javascript:alert(1)">click</a> '
        '&amp; Evil Corp.\n\nSecond paragraph <iframe src="http://evil.example/"></iframe>.')
TEXT = f"{HEADLINE}\n\n{BODY}"
EVIL = '<b onmouseover=alert("xss-entity")>Evil Corp</b>'
STORY = {
    "id": "s1", "headline": HEADLINE, "body": BODY, "source": "<svg onload=alert('xss-source')>",
    "language": "en", "format": "json", "byline": "<u>By</u> Evil", "link": "javascript:alert('xss-link')",
    "dateline": {"text": "Tokyo (AFP) -", "place": '"><script>alert("xss-place")</script>', "agency": "AFP"},
    "published_at": "2024-05-01T10:00:00Z", "received_at": "2024-05-01T10:01:00Z", "pub_status": "usable",
    "version": 1, "guid": "<guid>",
    # As the index service stores it (decision 16): the list as one JSON string, keys and names flat.
    "entity_list": json.dumps([
        {"text": EVIL, "label": "ORG", "key": EVIL.lower(), "count": 1, "method": "model",
         "offsets": [TEXT.index("Evil Corp"), TEXT.index("Evil Corp") + 9]},
    ]),
    "entity_keys": {"ORG": [EVIL.lower()]}, "entity_names": {"ORG": [EVIL]},
}
NO_HEADLINE = {**STORY, "id": "s2", "headline": "", "body": "PARIS (AFP) - <b>Bold</b> claim made. More follows."}
DEADLETTER = {"service": "index", "reason_class": "<i>class</i>", "reason": '<img src=x onerror=alert("xss-dl")>',
              "origin": {"topic": "news.enriched", "partition": 0, "offset": 7, "key": "k"},
              "story_id": "s1", "failed_at": "2024-05-01T10:02:00Z", "payload_bytes": 10}
# Each as markup: the same words escaped (&lt;script&gt;...) are text and must be shown.
HOSTILE = ("<script>alert", "<img src", "<svg onload", "<iframe", "<b onmouseover", 'href="javascript:',
           "<b>Bold", "<u>By", "<i>class", "<p>json")


class FakeElasticsearch:
    """Answers like Elasticsearch 9 (product header included) and records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.stories = [STORY, NO_HEADLINE]
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.requests.append((request.method, request.path, body))
        headers = {"X-Elastic-Product": "Elasticsearch"}
        if not request.path.endswith("/_search"):
            return web.json_response({"error": "not expected"}, status=400, headers=headers)
        return web.json_response(self.answer(body), headers=headers)

    def answer(self, body: dict) -> dict:
        query = json.dumps(body.get("query", {}))
        hits = self.stories
        if '"ids"' in query:
            wanted = body["query"]["ids"]["values"]
            hits = [s for s in self.stories if s["id"] in wanted]
        response = {"hits": {"total": {"value": len(hits)}, "hits": [
            {"_id": s["id"], "_score": 1.0, "_source": s,
             "highlight": {"headline": [s["headline"].replace("Markets", f"{MARK_OPEN}Markets{MARK_CLOSE}")],
                           "body": [s["body"][:120].replace("said", f"{MARK_OPEN}said{MARK_CLOSE}")]}}
            for s in hits]}}
        aggs = body.get("aggs", {})
        if "entity_ORG" in aggs:
            response["aggregations"] = {
                name: {"buckets": [{"key": value, "doc_count": 2}]} for name, value in
                (("lang", "en"), ("source", STORY["source"]), ("format", "<p>json</p>"), ("place", STORY["dateline"]["place"]))
            }
            response["aggregations"]["entity_ORG"] = {"buckets": [
                {"key": canonical_key(EVIL), "doc_count": 2, "name": {"buckets": [
                    {"key": "Other Corp", "doc_count": 2}, {"key": EVIL, "doc_count": 2}]}}]}
        if "per_minute" in aggs:
            response["aggregations"] = {"per_minute": {"buckets": [{"key": 1714557600000, "doc_count": 2}]}}
        return response


class FakeDeadLetters:
    async def latest(self) -> dict:
        return {"topic": "news.deadletter", "records": [DEADLETTER], "error": None}

    def close(self) -> None:
        pass


def run(scenario, es_url: str | None = None):
    """Start the fake Elasticsearch and the desk app, run scenario(client, fake), stop both."""

    async def main():
        fake = FakeElasticsearch()
        es_server = TestServer(fake.app)
        await es_server.start_server()
        url = es_url or f"http://127.0.0.1:{es_server.port}"
        es = AsyncElasticsearch(url, max_retries=0, request_timeout=5)
        app = build_app(StoryIndex(es, "news", url), PipelineMonitor({}), FakeDeadLetters(), poll_s=60,
                        context={"deadletter_topic": "news.deadletter"})
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            return await scenario(client, fake)
        finally:
            await client.close()
            await es_server.close()

    return asyncio.run(main())


def keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | set().union(*(keys(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(keys(value) for value in node)) if node else set()
    return set()


def assert_inert(html: str) -> None:
    for marker in HOSTILE:
        assert marker not in html, f"{marker!r} unescaped in the page"
    # Attribute values hold escaped text too; none may break out of its quotes.
    assert '"><' + "script" not in html


# ------------------------------------------------------------------ safety --

def test_hostile_text_is_escaped_in_results_highlights_and_facets():
    async def scenario(client, fake):
        response = await client.get("/", params={"q": "markets"})
        html = await response.text()
        assert response.status == 200
        assert_inert(html)
        assert "&lt;script&gt;alert(" in html  # shown literally, as text
        assert "<mark>Markets</mark>" in html and "<mark>said</mark>" in html  # highlights are ours
        assert "&lt;svg onload=alert(" in html  # the source facet
        assert "&lt;b onmouseover=alert(" in html  # the entity facet's display name
        assert 'href="/?q=markets&amp;source=%3Csvg' in html  # filter links carry values URL-encoded

    run(scenario)


def test_hostile_text_is_escaped_on_the_story_page_with_entities_marked():
    async def scenario(client, fake):
        response = await client.get("/story/s1")
        html = await response.text()
        assert response.status == 200
        assert_inert(html)
        assert '<mark class="ent ent-ORG" data-label="ORG"' in html
        assert ">Evil Corp</mark>" in html
        assert "&lt;img src=x onerror=alert(" in html
        assert 'href="javascript:' not in html  # a link that is not http(s) is text, never a link
        assert "javascript:alert(&#39;xss-link&#39;)" in html

    run(scenario)


def test_a_story_indexed_with_nested_entities_before_decision_16_is_still_marked():
    legacy = {k: v for k, v in STORY.items() if not k.startswith("entity_")}
    legacy.update(id="old", entities=[{"text": "Evil Corp", "label": "ORG", "key": "evil corp", "count": 1,
                                       "method": "model", "value": None,
                                       "offsets": [TEXT.index("Evil Corp"), TEXT.index("Evil Corp") + 9]}])

    async def scenario(client, fake):
        fake.stories.append(legacy)
        html = await (await client.get("/story/old")).text()
        assert '<mark class="ent ent-ORG" data-label="ORG"' in html
        story = await (await client.get("/api/story/old")).json()
        assert story["entities"][0]["offsets"] == [[TEXT.index("Evil Corp"), TEXT.index("Evil Corp") + 9]]

    run(scenario)


def test_the_story_api_gives_the_entity_list_not_the_index_fields():
    async def scenario(client, fake):
        story = await (await client.get("/api/story/s1")).json()
        assert [e["text"] for e in story["entities"]] == [EVIL]
        assert story["entities"][0]["offsets"] == [[TEXT.index("Evil Corp"), TEXT.index("Evil Corp") + 9]]
        assert not {"entity_list", "entity_keys", "entity_names"} & set(story)

    run(scenario)


def test_hostile_dead_letter_reasons_are_escaped_on_the_pipeline_page():
    async def scenario(client, fake):
        html = await (await client.get("/pipeline")).text()
        assert_inert(html)
        assert "&lt;img src=x onerror=alert(&#34;xss-dl&#34;)&gt;" in html
        assert "&lt;i&gt;class&lt;/i&gt;" in html

    run(scenario)


def test_the_api_returns_text_not_html_and_highlights_as_segments():
    async def scenario(client, fake):
        body = await (await client.get("/api/search", params={"q": "markets"})).json()
        first = body["hits"][0]
        assert first["title"] == HEADLINE
        assert first["title_segments"][0] == ['<script>alert("xss-headline")</script> ', False]
        assert ["Markets", True] in first["title_segments"]
        assert all(isinstance(text, str) and isinstance(hit, bool) for s in first["snippets"] for text, hit in s)

    run(scenario)


def test_pages_send_a_content_security_policy_that_allows_only_this_origin():
    async def scenario(client, fake):
        for path in ("/", "/story/s1", "/pipeline", "/api/search", "/static/desk.js"):
            response = await client.get(path)
            policy = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in policy and "script-src 'self'" in policy, path
            assert "unsafe-inline" not in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"

    run(scenario)


def test_the_templates_load_nothing_from_another_host():
    async def scenario(client, fake):
        for path in ("/", "/story/s1", "/pipeline"):
            html = await (await client.get(path)).text()
            for attribute in re.findall(r'(?:src|href)="([^"]*)"', html):
                assert attribute.startswith(("/", "?", "#", "data:")), f"{path} refers to {attribute}"

    run(scenario)


# ------------------------------------------------------- only _search asked --

def test_whatever_a_user_sends_the_desk_only_searches_the_alias():
    hostile_requests = [
        ("/api/search", {"q": '{"script": {"source": "x"}}'}),
        ("/api/search", {"q": "_delete_by_query OR ../../_cluster/settings"}),
        ("/api/search", {"q": "headline:\"a\" -source:b", "source": "../_bulk", "place": "*"}),
        ("/api/facets", {"entity": "ORG:../../_all"}),
        ("/api/histogram", {"q": "x", "since": "2024-01-01", "until": "2024-01-03"}),
        ("/api/story/..%2F..%2F_cluster%2Fsettings", {}),
        ("/api/story/s1", {}),
        ("/story/_all", {}),
        ("/?index=other_index", {}),
        ("/", {"q": "regexp:/.*/"}),
        ("/api/search", {"q": "x", "sort": "_doc"}),
    ]

    async def scenario(client, fake):
        statuses = []
        for path, params in hostile_requests:
            statuses.append((await client.get(path, params=params)).status)
        assert fake.requests, "nothing reached Elasticsearch"
        for method, path, body in fake.requests:
            assert path == "/news/_search", path
            assert method in ("POST", "GET")
            assert not keys(body) & {"script", "query_string", "regexp", "wildcard", "script_fields"}, body
        return statuses

    statuses = run(scenario)
    assert statuses[-1] == 400 and statuses[-2] == 400 and statuses[-3] == 400  # regexp:, index=, sort=_doc


def test_a_story_is_fetched_with_an_ids_search_so_the_alias_filter_applies():
    async def scenario(client, fake):
        await client.get("/api/story/s1")
        assert fake.requests[-1][1] == "/news/_search"
        assert fake.requests[-1][2]["query"] == {"ids": {"values": ["s1"]}}

    run(scenario)


# ------------------------------------------------------------ validation --

def test_bad_parameters_answer_400_naming_the_parameter():
    async def scenario(client, fake):
        for params, name in (({"size": "1000"}, "size"), ({"offset": "99999"}, "offset"), ({"bogus": "1"}, "bogus"),
                             ({"q": "foo:bar"}, "q")):
            response = await client.get("/api/search", params=params)
            assert response.status == 400
            error = (await response.json())["error"]
            assert error["param"] == name and name in error["reason"]
        page = await client.get("/", params={"size": "1000"})
        assert page.status == 400
        assert "size: 1000 is out of range 1..100" in await page.text()
        assert (await client.get("/api/pipeline", params={"x": "1"})).status == 400
        assert (await client.get("/api/story/bad id!")).status == 400
        assert (await client.get("/api/nothing")).status == 404
        return len(fake.requests)

    assert run(scenario) == 0  # refused before anything reached Elasticsearch


# ---------------------------------------------------------- empty / errors --

def test_no_stories_yet_says_how_to_ingest():
    async def scenario(client, fake):
        fake.stories = []
        html = await (await client.get("/")).text()
        assert "No stories yet" in html and "wirestream ingest" in html
        html = await (await client.get("/", params={"q": "nothing"})).text()
        assert "Nothing matches this search" in html

    run(scenario)


def test_elasticsearch_unreachable_names_the_url():
    async def scenario(client, fake):
        page = await client.get("/")
        html = await page.text()
        assert page.status == 503
        assert "Elasticsearch is unreachable at http://127.0.0.1:9" in html
        assert "Traceback" not in html
        api = await client.get("/api/search")
        assert api.status == 503
        assert "http://127.0.0.1:9" in (await api.json())["error"]["reason"]
        pipeline = await (await client.get("/api/pipeline")).json()
        assert "unreachable" in pipeline["elasticsearch"]["error"]

    run(scenario, es_url="http://127.0.0.1:9")  # nothing listens on port 9


def test_derived_titles_are_marked_in_results_and_on_the_story_page():
    async def scenario(client, fake):
        body = await (await client.get("/api/search")).json()
        derived = next(hit for hit in body["hits"] if hit["id"] == "s2")
        assert derived["title"] == "<b>Bold</b> claim made." and derived["title_derived"] is True
        html = await (await client.get("/")).text()
        assert "derived title" in html and "&lt;b&gt;Bold&lt;/b&gt; claim made." in html
        story = await (await client.get("/api/story/s2")).json()
        assert story["title_derived"] is True
        page = await (await client.get("/story/s2")).text()
        assert "derived title" in page

    run(scenario)
