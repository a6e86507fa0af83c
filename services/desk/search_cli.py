"""`wirestream search`: the desk's /api/search from a terminal, as a readable table.

It asks the running desk (the same API the page uses), so the CLI, the page and
scripts share one query language, one set of parameters and one set of errors.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import urllib.error
import urllib.request
from urllib.parse import urlencode

from shared.settings import DeskSettings


def desk_url(explicit: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    settings = DeskSettings()
    host = "127.0.0.1" if settings.desk_host in ("0.0.0.0", "::", "") else settings.desk_host
    return f"http://{host}:{settings.desk_port}"


def query_pairs(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if args.query:
        pairs.append(("q", args.query))
    pairs += [("lang", value) for value in args.lang]
    pairs += [("entity", value) for value in args.entity]
    pairs += [("source", value) for value in args.source]
    for name in ("since", "until"):
        if getattr(args, name):
            pairs.append((name, getattr(args, name)))
    if args.sort != "relevance":
        pairs.append(("sort", args.sort))
    pairs.append(("size", str(args.size)))
    return pairs


def fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.load(exc)
        except ValueError:
            return exc.code, {"error": {"status": exc.code, "reason": exc.reason}}


def table(body: dict, width: int) -> list[str]:
    hits = body.get("hits", [])
    total = body.get("total", 0)
    if not hits:
        return [f"no stories match ({total} in all)"]
    when_w, lang_w, source_w = 16, 4, 10
    title_w = max(20, width - when_w - lang_w - source_w - 6 - 34)
    lines = [f"{'time (UTC)':<{when_w}} {'lang':<{lang_w}} {'source':<{source_w}} {'title':<{title_w}} id"]
    for hit in hits:
        when = (hit.get("published_at") or hit.get("received_at") or "")[:16].replace("T", " ")
        title = hit.get("title") or ""
        if hit.get("title_derived"):
            title = "~ " + title  # derived from the lede: the story has no headline
        if len(title) > title_w:
            title = title[:title_w - 1] + "…"
        lines.append(f"{when:<{when_w}} {(hit.get('language') or '?'):<{lang_w}} "
                     f"{(hit.get('source') or '')[:source_w]:<{source_w}} {title:<{title_w}} {hit.get('id')}")
    shown = len(hits)
    lines.append(f"{shown} of {total} {'story' if total == 1 else 'stories'}"
                 + ("  (~ title derived from the lede: the story has no headline)"
                    if any(h.get("title_derived") for h in hits) else ""))
    return lines


def run_search(args: argparse.Namespace) -> int:
    base = desk_url(args.desk)
    url = f"{base}/api/search?{urlencode(query_pairs(args))}"
    try:
        status, body = fetch(url)
    except (urllib.error.URLError, OSError) as exc:
        print(f"error: the desk does not answer at {base} ({getattr(exc, 'reason', exc)}); start it with "
              "`make run` (or `wirestream serve desk`), or pass --desk URL", file=sys.stderr)
        return 2
    if status != 200:
        reason = (body.get("error") or {}).get("reason") or f"HTTP {status}"
        print(f"error: {reason}", file=sys.stderr)
        return 1 if status < 500 else 2
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    print("\n".join(table(body, shutil.get_terminal_size((120, 20)).columns)))
    return 0
