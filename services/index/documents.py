"""Story envelope -> Elasticsearch document. Pure."""

from __future__ import annotations

import json
from datetime import datetime

from shared.contract import Story
from shared.elastic import LANGUAGE_ANALYZERS


def story_document(story: Story, indexed_at: datetime) -> dict:
    doc = story.model_dump(mode="json", exclude={"schema_version", "entities"})
    doc["indexed_at"] = indexed_at.isoformat()
    doc.update(entity_fields(story))
    if story.language in LANGUAGE_ANALYZERS:
        # Also indexed with the language's stemming and stop words (not kept in _source).
        doc["lang"] = {story.language: story.text}
    return doc


def entity_fields(story: Story) -> dict:
    """The flat entity fields of shared/elastic.py's mapping (decision 16): keys and names
    per label for search and facets, and the whole list as one JSON string for display."""
    keys: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    listed = []
    for entity in story.entities:
        if entity.key:
            keys.setdefault(entity.label, set()).add(entity.key)
        names.setdefault(entity.label, set()).add(entity.text)
        listed.append({
            **entity.model_dump(mode="json", exclude={"offsets"}, exclude_none=True),
            "offsets": [value for pair in entity.offsets for value in pair],
        })
    return {
        "entity_keys": {label: sorted(values) for label, values in keys.items()},
        "entity_names": {label: sorted(values) for label, values in names.items()},
        "entity_list": json.dumps(listed, ensure_ascii=False, separators=(",", ":")),
    }
