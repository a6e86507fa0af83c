"""One entity label set across languages and models.

Output labels: PERSON, ORG, LOC, MISC, DATE, MONEY, PERCENT, QUANTITY.

spaCy English (OntoNotes) -> ours:
    PERSON -> PERSON; ORG -> ORG; GPE, LOC, FAC -> LOC;
    NORP, EVENT, PRODUCT, WORK_OF_ART, LAW, LANGUAGE -> MISC;
    DATE -> DATE; MONEY -> MONEY; PERCENT -> PERCENT; QUANTITY -> QUANTITY;
    TIME, ORDINAL, CARDINAL -> dropped (bare numbers and clock times are noise
    for a news index; amounts with a unit come back as QUANTITY/MONEY from the
    rules, and times of day are not dates).
spaCy French (WikiNER) -> ours: PER -> PERSON, ORG, LOC, MISC unchanged.
"""

from __future__ import annotations

from shared.contract import ENTITY_LABELS

LABELS = ENTITY_LABELS
NAME_LABELS = frozenset({"PERSON", "ORG", "LOC", "MISC"})
VALUE_LABELS = frozenset({"DATE", "MONEY", "PERCENT", "QUANTITY"})

SPACY_TO_OURS: dict[str, str | None] = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
    "MISC": "MISC",
    "DATE": "DATE",
    "MONEY": "MONEY",
    "PERCENT": "PERCENT",
    "QUANTITY": "QUANTITY",
    "TIME": None,
    "ORDINAL": None,
    "CARDINAL": None,
}


def map_label(spacy_label: str) -> str | None:
    return SPACY_TO_OURS.get(spacy_label)
