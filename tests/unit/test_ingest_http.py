"""The ingest HTTP API's answers, with Kafka replaced by a recorder (unit tier only)."""

import asyncio
import json

from aiohttp.test_utils import TestClient, TestServer

from shared.settings import IngestSettings
from services.ingest.http_api import build_app
from services.ingest.admission import StoryLimits


class RecordingPublisher:
    limits = StoryLimits()  # Kafka's default broker limit

    def __init__(self, fail: bool = False):
        self.published = []
        self.fail = fail

    async def publish_async(self, stories, executor=None):
        if self.fail:
            raise ConnectionError("broker down")
        self.published.extend(stories)


def _call(settings, publisher, data, headers=None):
    async def run():
        async with TestClient(TestServer(build_app(settings, publisher))) as client:
            response = await client.post("/v1/items", data=data, headers=headers or {})
            return response.status, await response.json()

    return asyncio.run(run())


STORY = json.dumps({"guid": "g1", "source": "AFP", "headline": "H", "body": "B"}).encode()


def test_token_required_when_configured():
    settings = IngestSettings(api_token="s3cret")
    publisher = RecordingPublisher()
    assert _call(settings, publisher, STORY)[0] == 401
    assert _call(settings, publisher, STORY, {"Authorization": "Bearer wrong"})[0] == 401
    status, body = _call(settings, publisher, STORY, {"Authorization": "Bearer s3cret"})
    assert status == 202 and body["id"] == publisher.published[0].id


def test_kafka_unavailable_is_503_not_accepted():
    status, body = _call(IngestSettings(), RecordingPublisher(fail=True), STORY)
    assert status == 503
    assert "retry" in body["error"]["reason"]


def test_too_large_is_413():
    status, _ = _call(IngestSettings(max_item_bytes=2048), RecordingPublisher(), b"x" * 4096)
    assert status == 413


def test_wrong_json_types_are_a_400_naming_the_field_not_a_500():
    # dpa digitalwires with a number as teaser, and JSON nested deeper than any parser recurses.
    dpa = {"format": "digitalwires@1.0", "urn": "urn:newsml:dpa.com:20090101:1", "headline": "Wahl", "teaser": 5,
           "article_html": "<p>Berlin (dpa) - Die Wahl.</p>"}
    publisher = RecordingPublisher()
    status, body = _call(IngestSettings(), publisher, json.dumps(dpa).encode(),
                         {"Content-Type": "application/json"})
    assert (status, body["error"]["reason"]) == (400, "invalid field 'teaser': expected a string, got a number")
    status, body = _call(IngestSettings(), publisher, b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and "nested too deeply" in body["error"]["reason"]
    assert publisher.published == []


def test_a_version_elasticsearch_cannot_store_is_a_400_naming_the_field():
    publisher = RecordingPublisher()
    story = json.dumps({"guid": "g2", "source": "AFP", "headline": "H", "body": "B", "version": 10**30}).encode()
    status, body = _call(IngestSettings(), publisher, story)
    assert status == 400 and body["error"]["reason"].startswith("invalid field 'version'")
    g2 = b"""<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:1"
        version="1000000000000000000000000000000"><itemMeta><itemClass qcode="ninat:text"/></itemMeta>
        <contentMeta><headline>Vote</headline></contentMeta></newsItem>"""
    status, body = _call(IngestSettings(), publisher, g2, {"Content-Type": "application/xml"})
    assert status == 400 and body["error"]["reason"].startswith("invalid version")
    assert publisher.published == []


# -- issue 9 item 0: a story the broker would refuse is a 413 naming the limit ---------------

def test_a_story_over_the_broker_limit_is_413_and_small_stories_still_pass():
    publisher = RecordingPublisher()
    big = json.dumps({"guid": "g-big", "source": "AFP", "headline": "H", "body": "x" * 1_200_000}).encode()
    status, body = _call(IngestSettings(), publisher, big)
    assert status == 413
    limit = publisher.limits.max_story_bytes
    assert f"exceeds the limit of {limit} bytes" in body["error"]["reason"]
    status, body = _call(IngestSettings(), publisher, STORY)
    assert status == 202 and [s.guid for s in publisher.published] == ["g1"]


# -- item 11: items per request, parsing off the event loop, concurrency, slow bodies ------

def test_more_items_than_allowed_is_413_before_any_item_is_read(monkeypatch):
    from services.ingest.formats import envelope

    built = []
    original = envelope.story_from_envelope
    monkeypatch.setattr(envelope, "story_from_envelope", lambda item: built.append(1) or original(item))
    batch = json.dumps([{"guid": f"g{i}", "source": "AFP", "headline": "H", "body": "B"} for i in range(11)])
    publisher = RecordingPublisher()
    status, body = _call(IngestSettings(max_items_per_request=10), publisher, batch.encode())
    assert status == 413
    assert "11 items exceed the limit of 10 items per request" in body["error"]["reason"]
    assert built == [] and publisher.published == []
    status, body = _call(IngestSettings(max_items_per_request=11), publisher, batch.encode())
    assert status == 202 and len(body["accepted"]) == 11


def test_a_feed_with_more_entries_than_allowed_is_413():
    items = "".join(f"<item><title>T{i}</title><guid>g{i}</guid><description>D</description></item>"
                    for i in range(5))
    rss = f'<rss version="2.0"><channel><title>W</title>{items}</channel></rss>'.encode()
    status, body = _call(IngestSettings(max_items_per_request=4), RecordingPublisher(), rss,
                         {"Content-Type": "application/rss+xml"})
    assert status == 413 and "5 items exceed the limit of 4" in body["error"]["reason"]


def _blocking_parser(monkeypatch, release: "threading.Event", entered: "threading.Event",
                     unblocked: list | None = None):
    """parse_bytes that blocks on `release` (at most 10 s) for bodies starting with BLOCK: a
    parse that takes long. `unblocked` gets an entry when the blocking parse goes on."""
    import services.ingest.http_api as http_api

    original = http_api.parse_bytes

    def parse(data, **kwargs):
        if data.startswith(b"BLOCK"):
            entered.set()
            release.wait(10)
            if unblocked is not None:
                unblocked.append("parse went on")
            data = STORY
        return original(data, **kwargs)

    monkeypatch.setattr(http_api, "parse_bytes", parse)


def test_parsing_runs_off_the_event_loop_so_other_requests_are_answered_meanwhile(monkeypatch):
    import threading

    release, entered, unblocked = threading.Event(), threading.Event(), []
    _blocking_parser(monkeypatch, release, entered, unblocked)
    publisher = RecordingPublisher()

    async def run():
        async with TestClient(TestServer(build_app(IngestSettings(), publisher))) as client:
            slow = asyncio.create_task(client.post("/v1/items", data=b"BLOCK"))
            await asyncio.to_thread(entered.wait, 10)
            try:
                # With parsing on the event loop this request could not even be read before the
                # blocked parse gave up waiting.
                quick = await client.post("/v1/items", data=STORY)
                answered_while_blocked = not unblocked
            finally:
                release.set()
            return quick.status, answered_while_blocked, (await slow).status

    assert asyncio.run(run()) == (202, True, 202)


def test_requests_beyond_the_concurrency_limit_wait_then_get_503_with_retry_after(monkeypatch):
    import threading

    release, entered = threading.Event(), threading.Event()
    _blocking_parser(monkeypatch, release, entered)
    settings = IngestSettings(max_concurrent_requests=1, request_read_timeout_s=0.5)

    async def run():
        async with TestClient(TestServer(build_app(settings, RecordingPublisher()))) as client:
            holder = asyncio.create_task(client.post("/v1/items", data=b"BLOCK"))
            await asyncio.to_thread(entered.wait, 10)
            try:
                busy = await asyncio.wait_for(client.post("/v1/items", data=STORY), 20)
                busy_status, retry_after, reason = busy.status, busy.headers.get("Retry-After"), \
                    (await busy.json())["error"]["reason"]
            finally:
                release.set()
            held = await holder
            after = await client.post("/v1/items", data=STORY)  # the slot is free again
            return busy_status, retry_after, reason, held.status, after.status

    busy_status, retry_after, reason, held, after = asyncio.run(run())
    assert (busy_status, retry_after, held, after) == (503, "1", 202, 202)
    assert "max_concurrent_requests 1" in reason


def test_a_body_that_arrives_too_slowly_is_408_and_frees_its_slot():
    settings = IngestSettings(request_read_timeout_s=0.5, max_concurrent_requests=1)

    async def run():
        server = TestServer(build_app(settings, RecordingPublisher()))
        async with TestClient(server) as client:
            reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(b"POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n" + b'{"guid": ')  # ...and nothing more
            await writer.drain()
            head = await asyncio.wait_for(reader.read(4096), 20)
            writer.close()
            after = await client.post("/v1/items", data=STORY)
            return head, after.status

    head, after = asyncio.run(run())
    assert head.startswith(b"HTTP/1.1 408")
    assert b"request body not received within 0.5 s" in head
    assert after == 202


# -- item 14: tokens bound to sources, versions far in the future ---------------------------

def _story(source: str, guid: str = "g-src", **fields) -> bytes:
    return json.dumps({"guid": guid, "source": source, "headline": "H", "body": "B", **fields}).encode()


def test_a_token_may_publish_only_its_sources_and_403_names_the_source():
    settings = IngestSettings(api_tokens="tokA=AFP,Reuters;tokB=*", api_token="legacy")
    publisher = RecordingPublisher()
    a = {"Authorization": "Bearer tokA"}
    assert _call(settings, publisher, _story("AFP"), a)[0] == 202
    assert _call(settings, publisher, _story(" afp "), a)[0] == 202  # the same provider for story ids
    status, body = _call(settings, publisher, _story("dpa"), a)
    assert status == 403
    assert "may not publish source 'dpa'" in body["error"]["reason"]
    assert _call(settings, publisher, _story("dpa"), {"Authorization": "Bearer tokB"})[0] == 202
    assert _call(settings, publisher, _story("dpa"), {"Authorization": "Bearer legacy"})[0] == 202
    assert _call(settings, publisher, _story("dpa"), {"Authorization": "Bearer nope"})[0] == 401
    assert sorted(s.source for s in publisher.published) == [" afp ", "AFP", "dpa", "dpa"]


def test_a_token_bound_to_one_source_cannot_slip_another_into_a_batch():
    settings = IngestSettings(api_tokens="tokA=AFP")
    publisher = RecordingPublisher()
    batch = b"[" + _story("AFP", "g1") + b"," + _story("Reuters", "g2") + b"]"
    status, body = _call(settings, publisher, batch, {"Authorization": "Bearer tokA"})
    assert status == 202 and [s.guid for s in publisher.published] == ["g1"]
    assert body["rejected"] == [{"index": 1, "status": 403, "reason": body["rejected"][0]["reason"]}]
    assert "'Reuters'" in body["rejected"][0]["reason"]


def test_a_token_may_contain_equals_signs():
    settings = IngestSettings(api_tokens="dG9rZW4==AFP")
    assert _call(settings, RecordingPublisher(), _story("AFP"), {"Authorization": "Bearer dG9rZW4="})[0] == 202
    assert _call(settings, RecordingPublisher(), _story("dpa"), {"Authorization": "Bearer dG9rZW4="})[0] == 403
    assert _call(settings, RecordingPublisher(), _story("AFP"), {"Authorization": "Bearer dG9rZW4"})[0] == 401


def test_a_kill_at_the_largest_version_is_refused_so_it_cannot_pin_the_story():
    publisher = RecordingPublisher()
    kill = _story("AFP", pub_status="canceled", version=2**63 - 1)
    status, body = _call(IngestSettings(), publisher, kill)
    assert status == 400
    assert body["error"]["reason"].startswith("invalid field 'version': 9223372036854775807 is above the highest")
    assert publisher.published == []
    assert _call(IngestSettings(), publisher, _story("AFP", pub_status="canceled", version=3))[0] == 202


def test_a_record_the_broker_refuses_as_too_large_is_413_not_a_503_to_retry():
    from kafka.errors import MessageSizeTooLargeError

    class RefusingPublisher(RecordingPublisher):
        async def publish_async(self, stories, executor=None):
            raise MessageSizeTooLargeError()

    status, body = _call(IngestSettings(), RefusingPublisher(), STORY)
    assert status == 413 and "limit is lower than" in body["error"]["reason"]
