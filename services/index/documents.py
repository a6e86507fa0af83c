"""Story envelope -> Elasticsearch document. Pure."""

from __future__ import annotations

from datetime import datetime

from shared.contract import Story
from shared.elastic import LANGUAGE_ANALYZERS


def story_document(story: Story, indexed_at: datetime) -> dict:
    doc = story.model_dump(mode="json", exclude={"schema_version"})
    doc["indexed_at"] = indexed_at.isoformat()
    doc["entities"] = [
        {**entity, "offsets": [value for pair in entity["offsets"] for value in pair]}
        for entity in doc["entities"]
    ]
    if story.language in LANGUAGE_ANALYZERS:
        # Also indexed with the language's stemming and stop words (not kept in _source).
        doc["lang"] = {story.language: story.text}
    return doc
