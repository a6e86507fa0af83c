"""langdetect: news.raw -> news.detected, adding language and confidence.

A faust-streaming agent hosted by shared.runner.faust_host; the processing is
`detect_languages`, a pure function over a batch.
"""

from __future__ import annotations

from functools import partial

from shared.contract import Story
from shared.log_setup import configure_logging
from shared.runner import TransformStage
from shared.runner.faust_host import run_transform
from shared.settings import LangdetectSettings
from services.langdetect.language import identify_language


def detect_languages(stories: list[Story], und_threshold: float) -> list[Story]:
    detected = []
    for story in stories:
        guess = identify_language(story.headline, story.body, story.declared_language, und_threshold)
        detected.append(story.model_copy(update={"language": guess.code, "language_confidence": guess.confidence}))
    return detected


def make_detector(und_threshold: float):
    """Built inside the stage's worker process (picklable: a module-level function)."""
    return partial(detect_languages, und_threshold=und_threshold)


def build_stage(settings: LangdetectSettings) -> TransformStage:
    return TransformStage(
        name="langdetect",
        source_topic=settings.topic_raw,
        sink_topic=settings.topic_detected,
        make_process=partial(make_detector, settings.und_threshold),
        batch_size=settings.batch_size,
        batch_wait_s=settings.batch_wait_s,
    )


def main() -> None:
    settings = LangdetectSettings()
    configure_logging(settings.log_level)
    run_transform(build_stage(settings), settings, settings.consumer_group, settings.metrics_port)
