"""The ingest HTTP API's answers, with Kafka replaced by a recorder (unit tier only)."""

import asyncio
import json

from aiohttp.test_utils import TestClient, TestServer

from shared.settings import IngestSettings
from services.ingest.http_api import build_app


class RecordingPublisher:
    def __init__(self, fail: bool = False):
        self.published = []
        self.fail = fail

    async def publish_async(self, stories):
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
