"""The desk in a real browser: Debian's headless Chromium driven by Playwright.

Skips when no browser is found (apt-get install chromium; pip install playwright), but
FAILS when the CI variable is set: CI must run these (.ci/run installs Chromium).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import wait_until
from tests.integration.desk_fixtures import (XSS_BODY, XSS_HEADLINE, XSS_REASON, index_hostile_story, ingest_seeds,
                                             send_hostile_deadletter)
from tools.chromium import launch, missing_reason

pytestmark = [pytest.mark.integration, pytest.mark.browser]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def browser():
    reason = missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the browser tests cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


class Visit:
    """A page that records every request it makes and every dialog and error it meets."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, path: str):
        self.page.goto(self.base + path, wait_until="networkidle")
        return self.page

    def ids(self) -> list[str]:
        return self.page.locator("li.hit").evaluate_all("nodes => nodes.map(n => n.dataset.id)")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, running_stack):
    visit = Visit(browser, running_stack.desk)
    yield visit
    visit.close()
    assert not visit.errors, f"JavaScript errors: {visit.errors}"
    assert not visit.dialogs, f"dialogs opened: {visit.dialogs}"
    foreign = [url for url in visit.requests
               if urlsplit(url).scheme not in ("data", "about", "blob") and urlsplit(url).hostname not in LOOPBACK]
    assert not foreign, f"requests to other hosts: {foreign}"


@pytest.fixture(scope="module")
def seeds(running_stack, es, seeds_dir):
    return ingest_seeds(running_stack, es, seeds_dir)


def test_seed_stories_are_found_by_a_query_and_by_an_entity_facet(visit, seeds):
    page = visit.open('/?q="Jun Seki"')
    assert seeds["en"] in visit.ids()
    page = visit.open("/?q=Mitsubishi+OR+Seki&size=100")
    facet = page.locator('[data-facet="ORG"] a[data-value="ORG:nissan"]')
    assert facet.locator(".name").inner_text() == "Nissan"
    facet.click()
    page.wait_for_load_state("networkidle")
    assert "entity=ORG%3Anissan" in page.url
    assert {seeds["en"], seeds["fr"]} <= set(visit.ids())
    assert page.locator('.chips a', has_text="Nissan").count() == 1


def test_a_facet_click_narrows_results_and_survives_a_reload_and_the_back_button(visit, seeds):
    # Other tests' stories may still be arriving, so this checks what the filter means
    # (the seeds in or out, every result French) rather than exact result sets.
    page = visit.open("/?q=Renault+OR+Nissan&size=100")
    assert {seeds["en"], seeds["fr"]} <= set(visit.ids())
    languages = lambda: set(page.locator("li.hit .lang").all_inner_texts())  # noqa: E731
    assert {"en", "fr"} <= languages()
    fr = page.locator('[data-facet="lang"] a[data-value="fr"]')
    fr.click()
    page.wait_for_load_state("networkidle")
    assert "lang=fr" in page.url

    def narrowed() -> bool:
        ids = set(visit.ids())
        return seeds["fr"] in ids and seeds["en"] not in ids and languages() == {"fr"}

    assert narrowed()
    assert fr.get_attribute("aria-pressed") == "true"
    page.reload(wait_until="networkidle")
    assert narrowed() and fr.get_attribute("aria-pressed") == "true"
    # Clicking the selected value again removes the filter; the back button brings it back.
    fr.click()
    page.wait_for_load_state("networkidle")
    assert "lang=fr" not in page.url and seeds["en"] in set(visit.ids())
    page.go_back(wait_until="networkidle")
    assert "lang=fr" in page.url and narrowed()


def test_the_attention_chart_draws_and_splits_by_language(visit, seeds):
    page = visit.open("/?q=Renault")
    page.wait_for_selector('#attention[data-drawn="1"] canvas')
    page.get_by_role("link", name="split by language").click()
    page.wait_for_selector('#attention[data-drawn="1"] canvas')
    assert "split=lang" in page.url
    legend = page.locator("#attention .u-legend").inner_text()
    assert "en" in legend and "fr" in legend


def test_the_story_page_marks_jun_seki_as_person_and_nissan_as_org(visit, seeds):
    page = visit.open(f"/story/{seeds['en']}")
    people = page.locator('.text mark[data-label="PERSON"]').all_inner_texts()
    orgs = page.locator('.text mark[data-label="ORG"]').all_inner_texts()
    assert "Jun Seki" in people
    assert "Nissan" in orgs
    assert page.locator("h1 .derived").is_visible()  # the AFP seed has no headline
    more = page.locator("tr[data-label=PERSON]", has_text="Jun Seki").get_by_role("link", name="more about")
    more.click()
    page.wait_for_load_state("networkidle")
    assert "entity=PERSON%3Ajun+seki" in page.url and seeds["en"] in visit.ids()


def test_the_pipeline_page_shows_every_service_healthy_and_the_count_indexed(visit, seeds, running_stack):
    page = visit.open("/pipeline")

    def all_healthy():
        page.reload(wait_until="networkidle")
        rows = page.locator("tr[data-service]")
        health = {rows.nth(i).get_attribute("data-service"): rows.nth(i).get_attribute("data-health")
                  for i in range(rows.count())}
        return health if health and all(value == "ok" for value in health.values()) else None

    health = wait_until(all_healthy, timeout_s=90, interval_s=2, what="every service healthy on the pipeline page")
    assert {"ingest", "langdetect", "extract", "index"} <= set(health)
    assert int(page.locator("#stories-indexed").inner_text()) >= 2
    page.wait_for_selector('#indexed-chart[data-drawn="1"] canvas')


def test_hostile_story_text_renders_inert_everywhere(visit, running_stack, es, producer):
    story_id = index_hostile_story(running_stack, es, producer)
    send_hostile_deadletter(producer)
    pages = ["/?q=Zqxhostile", f"/story/{story_id}"]
    for path in pages:
        page = visit.open(path)
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img[onerror], svg[onload], [onclick], a[href^='javascript:']").count() == 0, path
        assert page.locator("script:not([src])").count() == 0, path
    page = visit.open("/?q=Zqxhostile")
    assert page.get_by_text(XSS_HEADLINE.split(" Zqx")[0], exact=False).count() >= 1  # shown literally
    assert page.get_by_text("<svg onload=window.__xss=6>").count() >= 1  # the source facet
    page = visit.open(f"/story/{story_id}")
    assert page.locator("h1").inner_text().startswith("<script>window.__xss=1")
    assert "<img src=x onerror=" in page.locator(".text").inner_text()
    assert XSS_BODY.split(" said")[0].split("- ")[1] in page.locator(".text").inner_text()
    assert page.locator('.text mark[data-label="ORG"]').inner_text() == "Evilcorp"

    def hostile_letter_shown():
        page = visit.open("/pipeline")
        return page if page.get_by_text(XSS_REASON).count() else None

    page = wait_until(hostile_letter_shown, timeout_s=30, interval_s=2, what="the hostile dead letter on the page")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[onerror]").count() == 0
    assert re.search(r"<b>hostile</b>", page.locator("table.deadletters").inner_text())
