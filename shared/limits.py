"""Size limits every stage agrees on, decided once here.

A limit that a later stage enforces must be checked at ingest, so that 202 means
the story will be searchable. The hard one is Kafka's record size: the broker
refuses a record larger than its `max.message.bytes` (topic) / `message.max.bytes`
(broker), and kafka-python's producer then aborts every later send too. A story
only grows on its way through the pipeline (language, entities), so ingest keeps a
reserve for that growth, and extract trims its entity list to fit the rest
(`entities_truncated`), never producing a record the broker would refuse.
"""

from __future__ import annotations

# Kafka's own default for message.max.bytes (1 MiB + the record batch overhead);
# noida-db enforces about this and does not report it through DescribeConfigs.
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588

# What a record batch of one record adds around key + value + headers
# (batch header 61 bytes, record framing, varints), with room to spare.
RECORD_FRAMING_BYTES = 512

# Room a raw story must leave in a record for what langdetect and extract add:
# language fields and at least a useful entity list. Extract fills whatever room is
# left and flags a story whose entities it had to cut.
ENRICHMENT_RESERVE_BYTES = 128 * 1024

# Entities kept per story: far more than any reader uses (a 73 KB story of percentages
# gives 12,000). It was first set under Elasticsearch's limit of 10,000 nested objects
# per document; entities are no longer nested (decision 16), the cap stays.
MAX_ENTITIES_PER_STORY = 1000
# Offsets kept per entity (its count stays exact).
MAX_OFFSETS_PER_ENTITY = 100


def max_record_value_bytes(broker_max_message_bytes: int, key_and_headers_bytes: int = 256) -> int:
    """The largest record value the broker takes, given its limit."""
    return broker_max_message_bytes - RECORD_FRAMING_BYTES - key_and_headers_bytes


def max_raw_story_bytes(broker_max_message_bytes: int) -> int:
    """The largest encoded story ingest may publish: the record limit minus the
    reserve for enrichment downstream."""
    return max_record_value_bytes(broker_max_message_bytes) - ENRICHMENT_RESERVE_BYTES


def describe_story_limit(broker_max_message_bytes: int) -> str:
    """How the raw-story limit follows from the broker's, for error messages and docs."""
    framing = broker_max_message_bytes - max_record_value_bytes(broker_max_message_bytes)
    return (f"{max_raw_story_bytes(broker_max_message_bytes)} bytes: the broker's record limit of "
            f"{broker_max_message_bytes} bytes, less {framing} for framing, key and headers and "
            f"{ENRICHMENT_RESERVE_BYTES} reserved for language and entities")
