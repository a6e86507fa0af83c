"""Stories the desk tests share: the two seeds through ingest, and hostile ones straight to the index."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

from tests.integration.conftest import search_ids, wait_until

XSS_HEADLINE = "<script>window.__xss=1;alert('xss-headline')</script> Zqxhostile markets"
XSS_BODY = ("Tokyo (AFP) - <img src=x onerror=\"window.__xss=2;alert('xss-body')\"> said "
            "<a href=\"javascript:window.__xss=3\">click</a> &amp; &lt;b&gt; Zqxhostile Evilcorp.")
XSS_ENTITY = "<img src=x onerror=window.__xss=4>Evilcorp"
XSS_REASON = "<img src=x onerror=\"window.__xss=5;alert('xss-deadletter')\"> refused"


def ingest_seeds(running_stack, es, seeds_dir) -> dict[str, str]:
    """{'en': id, 'fr': id} of the two seed stories, once both are searchable."""
    english, french = sorted(seeds_dir.glob("*.txt"))
    ids = {}
    for name, path in (("en", english), ("fr", french)):
        status, body = running_stack.post("/v1/items", path.read_bytes(), content_type="text/plain; charset=utf-8")
        assert status == 202, body
        ids[name] = body["id"]
    wait_until(lambda: len(search_ids(es, list(ids.values()))) == 2, timeout_s=180, what="both seed stories")
    return ids


def index_hostile_story(running_stack, es, producer) -> str:
    """A story whose every text field is an attack, written to news.enriched (ingest would strip markup)."""
    story_id = f"xss-{uuid.uuid4().hex[:8]}"
    text = f"{XSS_HEADLINE}\n\n{XSS_BODY}"
    start = text.index("Evilcorp")
    envelope = {
        "id": story_id, "headline": XSS_HEADLINE, "body": XSS_BODY, "language": "en",
        "source": "<svg onload=window.__xss=6>", "byline": "<u onclick=window.__xss=7>By</u> Evil",
        "dateline": {"text": "Tokyo (AFP) -", "place": "\"><script>window.__xss=8</script>", "agency": "AFP"},
        "entities": [{"text": XSS_ENTITY, "label": "ORG", "key": XSS_ENTITY.lower(), "count": 1,
                      "offsets": [[start, start + len("Evilcorp")]], "method": "model"}],
    }
    producer.send("news.enriched", key=story_id.encode(), value=json.dumps(envelope).encode(),
                  headers=[("schema-version", b"1")]).get(timeout=30)
    wait_until(lambda: search_ids(es, [story_id]), timeout_s=60, what="the hostile story in the index")
    return story_id


def send_hostile_deadletter(producer) -> None:
    record = {"service": "index", "reason_class": "<b>hostile</b>", "reason": XSS_REASON,
              "origin": {"topic": "news.enriched", "partition": 0, "offset": 1, "key": "xss"},
              "story_id": "xss", "failed_at": datetime.now(timezone.utc).isoformat(),
              "payload": {"encoding": "utf-8", "data": "<script>window.__xss=9</script>"}}
    producer.send("news.deadletter", key=b"xss", value=json.dumps(record).encode()).get(timeout=30)


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
