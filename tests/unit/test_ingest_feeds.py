"""The feed poller against loopback HTTP servers, with Kafka replaced by a recorder:
a dripping server cannot hold up the other feeds (issue 9 item 10), and a feed's
stories keep their ids when its title changes (item 15)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.contract import story_id
from services.ingest.admission import StoryLimits
from services.ingest.feeds import FeedPoller, FeedSource, parse_feed_setting, run_poller

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{title}</title><link>http://example.invalid/</link><description>d</description>
<item><title>Port strike ends</title><guid>urn:test:feed:1</guid>
<description>Dock workers returned to work.</description></item></channel></rss>"""


class RecordingPublisher:
    limits = StoryLimits()

    def __init__(self):
        self.published = []
        self.letters = []

    def publish(self, stories):
        self.published.extend(stories)

    def publish_dead_letters(self, letters, topic):
        self.letters.extend(letters)


class FeedServer:
    """Loopback feed server. `drip` : send headers and then one byte every `drip` seconds, forever
    (until stopped). Otherwise answers the current `body`."""

    def __init__(self, body: str = "", drip: float | None = None):
        self.body = body
        self.requests = 0
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests += 1
                data = server.body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(10_000_000 if drip else len(data)))
                self.end_headers()
                if drip is None:
                    self.wfile.write(data)
                    return
                while not server.stopped.wait(drip):
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/feed.xml"

    def close(self):
        self.stopped.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers():
    made = []

    def make(**kwargs) -> FeedServer:
        made.append(FeedServer(**kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_a_fetch_has_a_total_deadline_not_a_per_read_timeout(servers, tmp_path):
    drip = servers(drip=0.2)  # every read returns in 0.2 s; the response never ends
    poller = FeedPoller(RecordingPublisher(), tmp_path / "feeds.json", 1_000_000, fetch_timeout_s=1.0)
    result = poller.poll(FeedSource(drip.url, 60))
    assert result.status == "error"
    assert "no complete response within 1 s" in result.reason


def test_a_dripping_feed_does_not_stop_the_other_feeds_from_being_polled(servers, tmp_path):
    # The dripping feed comes first: polled one after the other, the good one would wait for
    # it to finish, which it never does (a byte every 0.2 s keeps any per-read timeout happy).
    drip = servers(drip=0.2)
    good = servers(body=RSS.format(title="Good wire"))
    publisher = RecordingPublisher()
    poller = FeedPoller(publisher, tmp_path / "feeds.json", 1_000_000, fetch_timeout_s=600)
    stop = threading.Event()
    thread = threading.Thread(target=run_poller, args=(poller, [FeedSource(drip.url, 60), FeedSource(good.url, 60)],
                                                       stop, 2), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not publisher.published and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.guid for s in publisher.published] == ["urn:test:feed:1"]
        assert drip.requests == 1  # its fetch is still running: the drip did not block the good feed
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_feeds_are_polled_at_most_feed_concurrency_at_a_time(servers, tmp_path):
    drips = [servers(drip=0.2) for _ in range(3)]
    good = servers(body=RSS.format(title="Good wire"))
    publisher = RecordingPublisher()
    poller = FeedPoller(publisher, tmp_path / "feeds.json", 1_000_000, fetch_timeout_s=1.0)
    in_flight, most = [0], [0]
    fetch = poller.fetch

    async def counting_fetch(source, session):
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            return await fetch(source, session)
        finally:
            in_flight[0] -= 1

    poller.fetch = counting_fetch
    stop = threading.Event()
    sources = [FeedSource(d.url, 60) for d in drips] + [FeedSource(good.url, 60)]
    thread = threading.Thread(target=run_poller, args=(poller, sources, stop, 2), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not publisher.published and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.guid for s in publisher.published] == ["urn:test:feed:1"]  # after the drips' deadlines
        assert most[0] == 2
    finally:
        stop.set()
        thread.join(10)


# -- item 15: a stable provider -----------------------------------------------------------

def test_feed_setting_names_a_provider_and_defaults_to_the_host():
    sources = parse_feed_setting("bbc=https://feeds.example.com/news/rss.xml|60,"
                                 "https://other.example.org/feed?format=rss&x=1, "
                                 "Example News = https://example.net/a.xml", 300)
    assert [(s.provider, s.interval_s) for s in sources] == [("bbc", 60.0), ("other.example.org", 300.0),
                                                             ("Example News", 300.0)]
    assert sources[1].url == "https://other.example.org/feed?format=rss&x=1"
    with pytest.raises(ValueError, match="http"):
        parse_feed_setting("name=ftp://example.com/feed", 60)


def test_a_feed_that_changes_its_title_keeps_its_story_ids(servers, tmp_path):
    server = servers(body=RSS.format(title="Example News"))
    publisher = RecordingPublisher()
    source = FeedSource(server.url, 60)
    FeedPoller(publisher, tmp_path / "a.json", 1_000_000).poll(source)
    server.body = RSS.format(title="Example News - Top stories")
    FeedPoller(publisher, tmp_path / "b.json", 1_000_000).poll(source)  # fresh state: sent again
    first, second = publisher.published
    assert first.id == second.id == story_id("127.0.0.1", "urn:test:feed:1")
    assert first.source == second.source == "127.0.0.1"


def test_the_same_guid_in_two_feeds_of_one_named_provider_is_one_story(servers, tmp_path):
    world, business = servers(body=RSS.format(title="World")), servers(body=RSS.format(title="Business"))
    publisher = RecordingPublisher()
    poller = FeedPoller(publisher, tmp_path / "feeds.json", 1_000_000)
    for source in parse_feed_setting(f"example={world.url},example={business.url}", 60):
        poller.poll(source)
    assert {s.id for s in publisher.published} == {story_id("example", "urn:test:feed:1")}
    assert {s.source for s in publisher.published} == {"example"}


def test_an_entry_refused_by_admission_is_dead_lettered_once(servers, tmp_path, monkeypatch):
    import services.ingest.admission as admission

    ceilings = iter(range(20261204120000, 20261204120100))  # the ceiling moves with the clock
    monkeypatch.setattr(admission, "max_version_now", lambda now=None: next(ceilings))
    future = RSS.format(title="W").replace("<description>Dock", "<pubDate>Sat, 01 Jan 2039 00:00:00 GMT</pubDate>"
                                                              "<description>Dock")
    server = servers(body=future)
    publisher = RecordingPublisher()
    poller = FeedPoller(publisher, tmp_path / "feeds.json", 1_000_000)
    for _ in range(3):  # the reason names the version ceiling: a new number on every poll
        poller.poll(FeedSource(server.url, 60))
    assert publisher.published == []
    assert len(publisher.letters) == 1 and "invalid field 'version'" in publisher.letters[0].reason
