from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from shared.contract import ENTITY_LABELS, Story, story_id, story_text


def test_id_from_provider_and_guid_ignores_text_and_version():
    a = story_id("AFP", "urn:newsml:afp.com:20191225:ABC", "Headline one", "Body")
    b = story_id("afp ", "urn:newsml:afp.com:20191225:ABC", "Headline two, corrected", "Other body")
    assert a == b
    assert a != story_id("Reuters", "urn:newsml:afp.com:20191225:ABC")


def test_id_without_guid_comes_from_normalised_text():
    a = story_id(None, None, "Nissan  number three resigns", "Body text.")
    assert a == story_id(None, "  ", "nissan number three resigns ", "Body  text.")
    assert a != story_id(None, None, "Nissan number three resigns", "Another body.")


def test_story_roundtrips_through_json():
    story = Story(id="x1", headline="H", body="B", published_at=datetime(2019, 12, 25, tzinfo=timezone.utc),
                  entities=[{"text": "Nissan", "label": "ORG", "offsets": [(3, 9)]}])
    again = Story.from_json(story.to_json())
    assert again == story
    assert again.entities[0].offsets == [(3, 9)]


def test_control_characters_are_stripped_but_newlines_kept():
    story = Story(id="x", headline="A\x00B\x07", body="line one\n\nline\ttwo\x1b")
    assert story.headline == "AB"
    assert story.body == "line one\n\nline\ttwo"


def test_wrong_types_are_rejected_with_the_field_named():
    with pytest.raises(ValidationError) as info:
        Story.model_validate({"id": "x", "headline": ["a"]})
    assert "headline" in str(info.value)


def test_story_text_joins_headline_and_body():
    assert story_text("H", "B") == "H\n\nB"
    assert story_text("", "B") == "B"
    assert Story(id="x", headline="H", body="B").text == "H\n\nB"


def test_link_is_an_absolute_web_url_or_nothing():
    assert Story(id="x", link=" https://example.com/news/1 ").link == "https://example.com/news/1"
    assert Story(id="x", link="").link is None
    for bad in ("javascript:alert(1)", "/news/1", "file:///etc/passwd", "https://exa mple.com/",
                "https://example.com/" + "a" * 2100):
        with pytest.raises(ValidationError) as info:
            Story(id="x", link=bad)
        assert "link" in str(info.value)


def test_every_envelope_field_is_mapped_in_the_index():
    # The template is dynamic: false, so a field missing here lands in _source but cannot be searched.
    from shared.elastic import story_mappings

    properties = story_mappings()["properties"]
    assert set(Story.model_fields) - {"schema_version", "entities"} <= set(properties)
    # entities are indexed flat, one field per label (decision 16)
    for field in ("entity_keys", "entity_names"):
        assert set(properties[field]["properties"]) == set(ENTITY_LABELS)
    assert properties["link"]["type"] == "keyword"  # one value to match, not text to analyse


def test_the_index_document_carries_the_link():
    from services.index.documents import story_document

    document = story_document(Story(id="x", headline="H", link="https://example.com/a"),
                              datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert document["link"] == "https://example.com/a"


def test_version_fits_elasticsearch_external_versioning():
    assert Story(id="x", version=2**63 - 1).version == 2**63 - 1
    for bad in (2**63, 10**30, -1):
        with pytest.raises(ValidationError) as info:
            Story(id="x", version=bad)
        assert "version" in str(info.value)
