"""Our own JSON envelope: one story object, or an array of them (a batch).

Fields are those of shared.contract.Story; unknown fields are ignored. The id
is always recomputed from source + guid (or the text), and received_at is the
moment ingest got it, whatever the sender claims.
"""

from __future__ import annotations

from pydantic import ValidationError

from shared.contract import Story, story_id, utcnow
from services.ingest.formats.common import require_text
from services.ingest.formats.errors import InputError, ItemError, ParseResult, check_item_count

_IGNORED_ON_INPUT = {"id", "received_at", "schema_version"}


def story_from_envelope(obj: object) -> Story:
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object for a story, got {type(obj).__name__}")
    fields = {key: value for key, value in obj.items() if key not in _IGNORED_ON_INPUT}
    try:
        draft = Story.model_validate({**fields, "id": "pending"})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "story"
        raise InputError(f"invalid field '{where}': {first.get('msg')}") from exc
    require_text(draft.headline, draft.body, draft.pub_status, draft.guid, "story has neither headline nor body")
    return draft.model_copy(update={
        "id": story_id(draft.source, draft.guid, draft.headline, draft.body),
        "format": "envelope",
        "received_at": utcnow(),
    })


def parse_envelope(document: object) -> ParseResult:
    if isinstance(document, list):
        result = ParseResult(format="envelope")
        if not document:
            raise InputError("empty batch")
        check_item_count(len(document))
        for index, item in enumerate(document):
            try:
                result.stories.append(story_from_envelope(item))
            except InputError as exc:
                result.errors.append(ItemError(index, exc.reason))
        return result
    return ParseResult(format="envelope", stories=[story_from_envelope(document)])
