"""The feed poller against a real HTTP server on loopback and the test stack's Kafka."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.settings import IngestSettings
from services.ingest.feeds import FeedPoller, FeedSource
from services.ingest.publisher import StoryPublisher
from tests.integration.conftest import wait_until

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test wire</title><link>http://example.invalid/</link>
<description>test</description>
<item><title>Port strike ends {run}</title><link>http://example.invalid/1</link>
<guid>urn:test:feed:{run}:1</guid><pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate>
<description>Dock workers returned to work on Monday.</description></item>
<item><title>Rail fares frozen {run}</title><link>http://example.invalid/2</link>
<guid>urn:test:feed:{run}:2</guid><pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate>
<description>The government froze rail fares for a year.</description></item>
</channel></rss>"""


def _serve(body: bytes, validator: str, value: str):
    """A feed on loopback that answers 304 when the request carries `value` back in the
    conditional header for `validator` (ETag -> If-None-Match, Last-Modified ->
    If-Modified-Since); returns the server and the list of statuses it answered."""
    conditional = {"ETag": "If-None-Match", "Last-Modified": "If-Modified-Since"}[validator]
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.headers.get(conditional) == value:
                requests.append("304")
                self.send_response(304)
                self.end_headers()
                return
            requests.append("200")
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header(validator, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, requests


@pytest.fixture
def feed_server():
    run = uuid.uuid4().hex[:8]
    server, requests = _serve(RSS.format(run=run).encode(), "ETag", '"v1"')
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml", requests, run
    server.shutdown()


def test_feed_items_are_sent_once_and_polls_are_conditional(running_stack, es, feed_server, tmp_path):
    url, requests, run = feed_server
    settings = IngestSettings(kafka_bootstrap=running_stack.bootstrap)
    publisher = StoryPublisher(settings, client_id="test-feeds")
    state = tmp_path / "feeds.json"
    try:
        first = FeedPoller(publisher, state, settings.max_item_bytes).poll(FeedSource(url, 60))
        assert (first.status, first.sent) == ("new", 2)
        # A new poller (a restart) remembers the ETag: the server answers 304.
        again = FeedPoller(publisher, state, settings.max_item_bytes).poll(FeedSource(url, 60))
        assert again.status == "not-modified"
        assert requests == ["200", "304"]
        # Even without the ETag, items already sent are not sent again.
        forgetful = FeedPoller(publisher, state, settings.max_item_bytes)
        forgetful.state[url].pop("etag")
        third = forgetful.poll(FeedSource(url, 60))
        assert (third.status, third.sent, third.skipped) == ("new", 0, 2)
    finally:
        publisher.close()
    es.indices.refresh(index="news")
    def searchable() -> int:
        es.indices.refresh(index="news")
        return es.count(index="news", query={"prefix": {"guid": f"urn:test:feed:{run}:"}})["count"]

    wait_until(lambda: searchable() == 2, timeout_s=60, what="both feed items searchable, once each")


BROKEN_ITEM_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test wire</title><link>http://example.invalid/</link>
<description>test</description>
<item><title>Harbour reopens {run}</title><guid>urn:test:feed-lm:{run}:1</guid>
<description>The harbour reopened after the storm.</description></item>
<item><guid>urn:test:feed-lm:{run}:2</guid></item>
</channel></rss>"""
LAST_MODIFIED = "Mon, 23 Nov 2026 09:00:00 GMT"


@pytest.fixture
def last_modified_server():
    """A feed that validates only by Last-Modified (no ETag), with one entry that has no text."""
    run = uuid.uuid4().hex[:8]
    server, requests = _serve(BROKEN_ITEM_RSS.format(run=run).encode(), "Last-Modified", LAST_MODIFIED)
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml", requests, run
    server.shutdown()


def test_last_modified_polls_and_an_unusable_entry_is_dead_lettered_once(running_stack, last_modified_server,
                                                                         deadletters, tmp_path):
    url, requests, run = last_modified_server
    settings = IngestSettings(kafka_bootstrap=running_stack.bootstrap)
    publisher = StoryPublisher(settings, client_id="test-feeds-lm")
    state = tmp_path / "feeds.json"
    try:
        first = FeedPoller(publisher, state, settings.max_item_bytes).poll(FeedSource(url, 60))
        assert (first.status, first.sent, first.rejected) == ("new", 1, 1)
        again = FeedPoller(publisher, state, settings.max_item_bytes).poll(FeedSource(url, 60))
        assert again.status == "not-modified"
        assert requests == ["200", "304"]
        # Fetched again in full (validator forgotten): the broken entry is not reported twice.
        forgetful = FeedPoller(publisher, state, settings.max_item_bytes)
        forgetful.state[url].pop("last_modified")
        third = forgetful.poll(FeedSource(url, 60))
        assert (third.status, third.sent, third.rejected) == ("new", 0, 1)
    finally:
        publisher.close()

    def letters():
        return [d for d in deadletters() if d["origin"]["topic"] == url]

    found = wait_until(letters, timeout_s=30, what="the feed's dead letter")
    assert len(found) == 1
    assert found[0]["service"] == "ingest" and found[0]["reason_class"] == "feed_item_rejected"
    assert "neither title nor content" in found[0]["reason"]
