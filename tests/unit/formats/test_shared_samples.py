"""Every real sample in ../shared/data parses, with its format detected untold.

Research-only sets are read in place (never copied); each test skips cleanly
when the shared data is absent.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from shared.contract import Dateline
from services.ingest.formats import InputError, detect_format, parse_bytes
from services.ingest.formats.common import parse_datetime
from tests.conftest import shared_data_dir

DATA = shared_data_dir()
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not available at {DATA}")

# Each MANIFEST format folder and the detector's name for it.
WIRE_FORMATS = {
    "anpa_1312_ap_plaintext": "anpa1312", "iptc7901_dpa_plaintext": "iptc7901", "newsml-1.2": "newsml-1.2",
    "newsml-g2": "newsml-g2", "ninjs_json": "ninjs", "nitf": "nitf", "ap_media_api_json": "ninjs",
}
# Filed under newsml-g2 in the MANIFEST, but one is an NITF document and one an Atom feed:
# the detector reads the content, not the folder.
ACTUAL_FORMAT = {"handle_invalid_fields.xml": "nitf", "wenn.xml": "atom"}
# Samples that carry no text at all: a correct answer is a rejection that says so.
NO_TEXT = {"aap-finance-lite.xml"}  # NITF with an empty hedline and an empty body.content


def _manifest() -> list[tuple[str, str]]:
    path = DATA / "wire_agency_samples" / "MANIFEST.tsv"
    if not path.exists():
        return []
    with path.open() as handle:
        return [(row["file"], row["format_dir"]) for row in csv.DictReader(handle, delimiter="\t")]


def _has_text(result) -> bool:
    return any(story.headline.strip() or story.body.strip() for story in result.stories)


@pytest.mark.parametrize("name, folder", _manifest() or [("missing", "missing")])
def test_wire_agency_samples_parse_with_detected_format(name, folder):
    path = DATA / "wire_agency_samples" / folder / name
    if not path.exists():
        pytest.skip("wire agency samples not available")
    data = path.read_bytes()
    expected = ACTUAL_FORMAT.get(name, WIRE_FORMATS[folder])
    assert detect_format(data) == expected
    if name in NO_TEXT:
        with pytest.raises(InputError, match="without headline or body"):
            parse_bytes(data)
        return
    result = parse_bytes(data)
    assert result.format == expected
    assert _has_text(result), result.errors


def _digest(text: str) -> str:
    return "blake2:" + hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


UNCHECKED = object()
# Per-sample golden values for the fields the parsers read from each wire's own place:
# (file, headline, source, guid, version, dateline place, dateline agency). The AP and
# Reuters samples are for test use only and may not be copied, so their headlines are
# given as a digest (the failure message shows the headline parsed); dpa's may be quoted
# (IPTC 7901 samples from superdesk-core tests/io/fixtures, text (c) dpa).
WIRE_GOLDENS = [
    ("iptc7901_dpa_plaintext/IPTC7901.txt", "Germany Social Democrats: Coalition talks with Merkel could fail",
     "dpa", None, 1, "Berlin", "dpa"),
    ("iptc7901_dpa_plaintext/dpa_copyright.txt", "Impressum", "dpa", None, 1, None, None),
    ("iptc7901_dpa_plaintext/dpa_four_line.txt", "Switzerland joins list of countries resisting UN migration pact",
     "dpa", None, 1, "Geneva", "dpa"),
    ("iptc7901_dpa_plaintext/dpa_two_by_line.txt", "Chiefs-Rams 2.0? Would be a fun Super Bowl, but don't count on it",
     "dpa", None, 1, "San Diego", "tca/dpa"),
    ("iptc7901_dpa_plaintext/dpa_two_line.txt", "Peace talks on Yemen to take place in Sweden next month, Mattis says",
     "dpa", None, 1, "Washington", "dpa"),
    # ANPA: guid = header keyword + filing date + the trailer's year; "Nth Ld" is version N+1.
    ("anpa_1312_ap_plaintext/anpa-1.tst", "blake2:dbd872112de3", "AP", "BC-LT--Argentina-CancerB 11-13-13", 1,
     "BUENOS AIRES, Argentina", "AP"),
    ("anpa_1312_ap_plaintext/anpa-2.tst", "blake2:39df6852846c", "AP", "BC-US--Ethanol-LosingGra 11-13-13", 2,
     "ROSCOE, South Dakota", "AP"),
    ("anpa_1312_ap_plaintext/ap_anpa-1.tst", "blake2:f949c540dbd4", "AP", "BC-BKN--Heat-Hawks 02-20-16", 2,
     "ATLANTA", "AP"),
    ("anpa_1312_ap_plaintext/ap_anpa-2.tst", "blake2:91f38457ccc0", "AP", "BC-BBO--BaseballExpanded 05-17-16", 1,
     None, None),
    ("anpa_1312_ap_plaintext/ap_anpa-3.tst", "blake2:b3efc67855d2", "AP", "BC-US--GiantLobsterDeath 08-29-16", 2,
     "CHATHAM, Mass.", "AP"),
    ("anpa_1312_ap_plaintext/ap_anpa-4.tst", "blake2:833f45996ce9", "AP", "BC-AS--China-DaringEscap 05-09-17", 4,
     "BEIJING", "AP"),
    ("anpa_1312_ap_plaintext/ap_anpa-5.tst", "", "AP", None, 1, "HONOLULU", "AP"),  # a news alert: no headline line
    ("anpa_1312_ap_plaintext/ap_anpa-7.tst", "blake2:55128721cf28", "AP", "BC-10ThingstoKnow-Today 09-04-19", 1,
     None, None),
    ("newsml-g2/tag_reuters.com_2014_newsml_KBN0FL0NN_version_5.xml", "blake2:c174d1c93803", "reuters.com",
     "tag_reuters.com_2014_newsml_KBN0FL0NN", 5, "DAMASCUS", "Reuters"),
    ("newsml-g2/tag_reuters.com_2014_newsml_KBN0FL0ZP_version_2.xml", "blake2:84c2da611e09", "reuters.com",
     "tag_reuters.com_2014_newsml_KBN0FL0ZP", 2, "BEIRUT", "Reuters"),
    ("newsml-g2/tag_reuters.com_0000_newsml_ISS149709_1618095828.xml", "blake2:733ce7b2c6df", "reuters.com",
     "tag:reuters.com,0000:newsml_ISS149709", 1618095828, None, "Gracenote"),
    ("newsml-g2/tag_reuters.com_2018_newsml_MTZXEE13ZXCZES_2.xml", "blake2:ac2054d522e1", "reuters.com",
     "tag:reuters.com,2018:newsml_MTZXEE13ZXCZES", 2, None, "OPTA"),
    # Its dateline ("Jan 30 (Reuters) -") follows the by-line in one paragraph: not read yet.
    ("newsml-g2/tag_reuters.com_0000_newsml_L4N1FL0N0_1132689232.xml", "blake2:44dd177aed37", "reuters.com",
     "tag:reuters.com,0000:newsml_L4N1FL0N0", 1132689232, UNCHECKED, UNCHECKED),
]


@pytest.mark.parametrize("name, headline, source, guid, version, place, agency", WIRE_GOLDENS,
                         ids=[golden[0].split("/")[-1] for golden in WIRE_GOLDENS])
def test_wire_samples_give_their_golden_fields(name, headline, source, guid, version, place, agency):
    path = DATA / "wire_agency_samples" / name
    if not path.is_file():
        pytest.skip(f"{name} not available")
    story = parse_bytes(path.read_bytes()).stories[0]
    parsed_headline = _digest(story.headline) if headline.startswith("blake2:") else story.headline
    assert parsed_headline == headline, f"headline parsed: {story.headline!r}"
    assert (story.source, story.guid, story.version) == (source, guid, version)
    if place is not UNCHECKED:
        dateline = story.dateline
        assert (dateline.place if dateline else None, dateline.agency if dateline else None) == (place, agency)


def test_anpa_table_headings_stay_out_of_the_by_line():
    path = DATA / "wire_agency_samples" / "anpa_1312_ap_plaintext" / "ap_anpa-2.tst"
    if not path.is_file():
        pytest.skip("wire agency samples not available")
    story = parse_bytes(path.read_bytes()).stories[0]
    assert story.byline == "By The Associated Press"
    assert "AMERICAN LEAGUE" in story.body.split("\n\n")


def test_iptc7901_by_lines_are_not_headlines():
    folder = DATA / "wire_agency_samples" / "iptc7901_dpa_plaintext"
    if not folder.is_dir():
        pytest.skip("wire agency samples not available")
    bylines = {name: parse_bytes((folder / name).read_bytes()).stories[0].byline
               for name in ("dpa_four_line.txt", "dpa_two_by_line.txt")}
    assert bylines == {"dpa_four_line.txt": "By dpa correspondents",
                       "dpa_two_by_line.txt": "By Tom Krasovic, The San Diego Union-Tribune"}


@pytest.mark.parametrize("name, pub_status, embargo_until", [
    # docdata management-status="embargoed", date.release 20160909T000100+0100.
    ("pa3.xml", "usable", datetime(2016, 9, 8, 23, 1, tzinfo=timezone.utc)),
    # The IPTC sample: management-status="canceled" (and a date.release after its date.issue).
    ("nitf-fishing.xml", "canceled", datetime(2002, 2, 26, 14, 30, tzinfo=timezone.utc)),
    ("pa2.xml", "usable", None),  # doc-scope scope="SOCCER" is a topic, not a kill
    ("aap-sports.xml", "withheld", None),  # date.expire 20150320T160141 has passed
])
def test_nitf_samples_carry_their_status_and_embargo(name, pub_status, embargo_until):
    path = DATA / "wire_agency_samples" / "nitf" / name
    if not path.exists():
        pytest.skip("wire agency samples not available")
    story = parse_bytes(path.read_bytes()).stories[0]
    assert (story.pub_status, story.embargo_until) == (pub_status, embargo_until)


def test_newsml_1_2_afp_sample_keeps_its_subject_codes():
    path = DATA / "wire_agency_samples" / "newsml-1.2" / "afp.xml"
    if not path.exists():
        pytest.skip("wire agency samples not available")
    data = path.read_bytes()
    # Every code of the sample's SubjectCode elements, read here with a plain regex.
    blocks = re.findall(rb"<SubjectCode>(.*?)</SubjectCode>", data, re.S)
    codes = [code.decode() for block in blocks for code in re.findall(rb'FormalName="([^"]+)"', block)]
    assert len(codes) >= 8
    assert parse_bytes(data).stories[0].subjects == list(dict.fromkeys(codes))


def _g2_text_items() -> list[Path]:
    folder = DATA / "newsml-g2_iptc_examples"
    # The text items: a newsItem of class ninat:text with content, or a quoted NITF contentSet
    # (LISTING_16 carries events inline: see the non-text items below).
    return sorted(p for p in folder.glob("*.xml") if (b"<inlineXML" in p.read_bytes() or b"inlineData" in p.read_bytes())
                  and p not in folder.glob("LISTING_1[0-9]_*.xml"))


@pytest.mark.parametrize("path", _g2_text_items() or [Path("missing")], ids=lambda p: p.name)
def test_iptc_newsml_g2_text_items_parse(path):
    if not path.exists():
        pytest.skip("IPTC examples not available")
    result = parse_bytes(path.read_bytes())
    assert result.format == "newsml-g2"
    assert _has_text(result)


def test_iptc_non_text_items_are_rejected_with_a_reason():
    # LISTING_10..19: concept, knowledge, catalog and planning items, and events carried in a newsItem.
    folder = DATA / "newsml-g2_iptc_examples"
    if not folder.is_dir():
        pytest.skip("IPTC examples not available")  # only part of the shared data is here
    paths = sorted(folder.glob("LISTING_1[0-9]_*.xml"))
    assert len(paths) == 10  # the set is here: all ten must be, or a non-text case goes untested
    for path in paths:
        with pytest.raises(InputError, match="no text content"):
            parse_bytes(path.read_bytes())


NINJS = DATA / "ninjs_iptc_examples"
# The ninjs examples with no text at all, events and an event timeline: refused (or, for the
# timeline, every item reported) as "no text content". Every other example must give a story.
NINJS_WITHOUT_TEXT = {
    "3.0/20231004-UEFA-ChampionLeague.json", "3.0/20231005-65-addb-event.json", "3.0/simpleEvent.json",
    "3.0/collection/20231016-event-timeline-sample.json", "spec-doc-examples/3.1/008_event.json",
}


def _ninjs_files() -> list[Path]:
    return sorted(p for p in NINJS.rglob("*.json") if "not-valid" not in p.parts and "schema-extension" not in p.parts)


@pytest.mark.parametrize("path", _ninjs_files() or [Path("missing")], ids=lambda p: "/".join(p.parts[-2:]))
def test_ninjs_examples_parse_or_say_why(path):
    if not path.exists():
        pytest.skip("ninjs examples not available")
    if path.relative_to(NINJS).as_posix() in NINJS_WITHOUT_TEXT:
        try:
            result = parse_bytes(path.read_bytes())
        except InputError as exc:
            assert "no text content" in exc.reason
            return
        assert not result.stories and result.errors
        assert all("no text content" in error.reason for error in result.errors)
        return
    result = parse_bytes(path.read_bytes())
    assert result.format == "ninjs"
    assert _has_text(result), result.errors


def test_ninjs_examples_without_text_are_still_there():
    if not NINJS.is_dir():
        pytest.skip("ninjs examples not available")
    assert {p.relative_to(NINJS).as_posix() for p in _ninjs_files()} >= NINJS_WITHOUT_TEXT


@pytest.mark.parametrize("name", ["001_simple_example.json", "004_simple_text_article.json",
                                  "005_complex_text_article.json"])
def test_ninjs_1_6_headline_main_and_body_properties_are_read(name):
    path = NINJS / "spec-doc-examples" / "1.6" / name
    if not path.exists():
        pytest.skip("ninjs examples not available")
    story = parse_bytes(path.read_bytes()).stories[0]
    assert story.headline == "Captain of wrecked cruise ship on trial in Italy"
    assert story.body.startswith("GROSSETO, Italy (AP) -- The trial of the captain")
    assert story.body.rstrip().endswith("Schettino has denied wrongdoing.")


def test_invalid_ninjs_samples_are_rejected():
    if not NINJS.is_dir():
        pytest.skip("ninjs examples not available")
    paths = sorted((NINJS / "spec-doc-examples" / "not-valid").glob("*.json"))
    assert [p.name for p in paths] == ["008_extension.json"]
    # Invalid because of an undeclared extension property (the schemas allow no others).
    with pytest.raises(InputError) as info:
        parse_bytes(paths[0].read_bytes())
    assert "not ninjs properties: embargoedreason" in info.value.reason


def _dpa_pairs() -> list[tuple[Path, Path]]:
    folder = DATA / "dpa_digitalwires_json_and_newsmlg2"
    pairs = []
    for json_path in sorted((folder / "digitalwires_json").glob("*.json")):
        xml_path = folder / "newsml-g2_converted" / (json_path.stem + ".xml")
        if xml_path.exists():
            pairs.append((json_path, xml_path))
    return pairs


@pytest.mark.parametrize("json_path, xml_path", _dpa_pairs() or [(Path("x"), Path("y"))], ids=lambda p: p.name)
def test_dpa_json_and_its_newsml_g2_rendering_agree(json_path, xml_path):
    if not json_path.exists():
        pytest.skip("dpa samples not available")
    from_json = parse_bytes(json_path.read_bytes())
    from_xml = parse_bytes(xml_path.read_bytes())
    assert (from_json.format, from_xml.format) == ("dpa-digitalwires", "newsml-g2")
    a, b = from_json.stories[0], from_xml.stories[0]
    assert a.headline == b.headline
    assert a.body == b.body
    assert a.dateline == b.dateline  # text, place, agency and date
    assert a.guid == b.guid and a.id == b.id
    if json_path.stem in DPA_DATELINES:
        assert a.dateline == DPA_DATELINES[json_path.stem]


# dpa datelines the running-text dateline parser does not recognise (a slash in the place, a
# date with a year); both renderings carry them in a dateline field, so they are the dateline.
DPA_DATELINES = {
    "empty_paragraph": Dateline(text="MADRID, 21 Nov. 2024 (Europa Press) -", place="MADRID",
                                date="21 Nov. 2024", agency="Europa Press"),
    "rubix_multimedia_real": Dateline(text="Tel Aviv/Beirut (dpa) -", place="Tel Aviv/Beirut", agency="dpa"),
}


def _feed_pairs() -> list[tuple[Path, Path]]:
    root = DATA / "rss_atom_feeds_feed-rs"
    pairs = []
    for expected in sorted((root / "expected_parse").rglob("*.serde.json")):
        stem = expected.name[: -len(".serde.json")]
        sources = sorted((root / expected.parent.name).glob(stem + "*"))
        if sources:
            pairs.append((sources[0], expected))
    return pairs


def _same_url(a: str | None, b: str | None) -> bool:
    """feed-rs normalises URLs (lower-case host, '/' for an empty path)."""
    if a is None or b is None:
        return a == b
    sa, sb = urlsplit(a), urlsplit(b)
    return (sa.scheme, sa.netloc.lower(), sa.path or "/", sa.query, sa.fragment) == \
        (sb.scheme, sb.netloc.lower(), sb.path or "/", sb.query, sb.fragment)


@pytest.mark.parametrize("source, expected", _feed_pairs() or [(Path("x"), Path("y"))], ids=lambda p: p.name)
def test_feeds_agree_with_feed_rs_on_title_link_and_date(source, expected):
    if not source.exists():
        pytest.skip("feed samples not available")
    expected_feed = json.loads(expected.read_text())
    want = expected_feed["entries"]
    # feed-rs keeps a relative link as written; the envelope holds it resolved against the
    # feed's own address (its self link), since a relative link means nothing elsewhere.
    base = next((link["href"] for link in expected_feed.get("links") or [] if link.get("rel") == "self"), "")
    result = parse_bytes(source.read_bytes())
    assert len(result.stories) + len(result.errors) == len(want)
    # The stories in entry order, skipping the entries reported as errors.
    refused = {error.index for error in result.errors}
    stories = iter(result.stories)
    for index, wanted in enumerate(want):
        if index in refused:
            continue
        story = next(stories)
        assert story.headline == " ".join(((wanted.get("title") or {}).get("content") or "").split())
        href = (wanted.get("links") or [{}])[0].get("href")
        link = urljoin(base, href) if href else None
        if link and urlsplit(link).scheme not in ("http", "https"):
            link = None  # not a web address (rss_1.0_example_1 has the placeholder "記事1のURL"): no link
        assert _same_url(story.link, link)
        wanted_date = parse_datetime(wanted.get("published") or wanted.get("updated"))
        if wanted_date is not None:
            assert (story.published_at or story.updated_at) == wanted_date


# Feeds of the feed-rs set that are broken, not empty: refused with feedparser's reason.
BROKEN_FEEDS = {"rss_2.0_invalid_1.xml": "no element found"}  # ends after the channel header


def test_feeds_parse_and_non_feeds_are_refused():
    root = DATA / "rss_atom_feeds_feed-rs"
    if not root.is_dir():
        pytest.skip("feed samples not available")  # only part of the shared data is here
    feeds = sorted(p for kind in ("atom", "rss0", "rss1", "rss2", "jsonfeed") for p in (root / kind).glob("*"))
    assert feeds and BROKEN_FEEDS.keys() <= {path.name for path in feeds}
    for path in feeds:
        if path.name in BROKEN_FEEDS:
            with pytest.raises(InputError, match=BROKEN_FEEDS[path.name]):
                parse_bytes(path.read_bytes())
            continue
        result = parse_bytes(path.read_bytes())
        assert result.format in ("rss", "atom", "jsonfeed"), path
        assert result.stories, path
    documents = sorted((root / "xml").glob("*.xml"))  # plain XML documents, not feeds
    assert documents
    for path in documents:
        with pytest.raises(InputError, match="not a supported news format"):
            parse_bytes(path.read_bytes())


def test_reuters_sgml_yields_all_1000_documents():
    path = DATA / "reuters21578" / "reut2-000.sgm"
    if not path.exists():
        pytest.skip("Reuters-21578 not available")
    data = path.read_bytes()
    assert detect_format(data) == "reuters-sgml"
    result = parse_bytes(data, max_bytes=10_000_000)
    assert len(result.stories) + len(result.errors) == 1000
    assert len(result.stories) == 1000
    assert len({story.id for story in result.stories}) == 1000
    briefs = [story for story in result.stories if not story.body]
    assert briefs and all(story.headline for story in briefs)  # TYPE="BRIEF": headline-only stories
    first = result.stories[0]
    assert first.headline == "BAHIA COCOA REVIEW"
    assert first.dateline.place == "SALVADOR"
    assert first.subjects == ["cocoa"]
    assert first.published_at.year == 1987
