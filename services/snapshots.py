"""`wirestream snapshot create|list|restore`: backups of the index generations.

A snapshot holds the live generations (the ones behind the read alias) with their
aliases, in the filesystem repository `snapshot_repository` at `snapshot_location`
(docker-compose.yml mounts the es-snapshots volume there and lists it in
`path.repo`). The repository is registered on first use.

Restore, by default, replaces: every current generation is deleted and the
snapshot's come back with their aliases, so searches never see a restored and a
current copy of one story. Stop the index service first (deploy/README.md,
"Restore a snapshot"); stories indexed after the snapshot come back from news.raw
with `wirestream reenrich`. `--rename-prefix` restores beside the live data instead,
under new names and without aliases, to look at.
"""

from __future__ import annotations

from datetime import datetime, timezone

from elasticsearch import Elasticsearch

from shared.generations import all_generations, live_generations
from shared.settings import IndexSettings


def ensure_repository(es: Elasticsearch, settings: IndexSettings) -> bool:
    """Register the filesystem repository when missing; True when it was registered."""
    found = es.options(ignore_status=404).snapshot.get_repository(name=settings.snapshot_repository)
    if found.meta.status == 200 and settings.snapshot_repository in found.body:
        return False
    es.snapshot.create_repository(name=settings.snapshot_repository,
                                  repository={"type": "fs", "settings": {"location": settings.snapshot_location}})
    return True


def default_name(settings: IndexSettings, now: datetime | None = None) -> str:
    # Snapshot names must be lower case; a timestamp sorts and says when.
    now = now or datetime.now(timezone.utc)
    return f"{settings.index_alias}-{now:%Y.%m.%d-%H%M%S}".lower()


def create(es: Elasticsearch, settings: IndexSettings, name: str | None = None) -> dict:
    """Snapshot the live generations (not a parked reenrich, not retired ones); waits for it."""
    ensure_repository(es, settings)
    indices = live_generations(es, settings)
    if not indices:
        raise RuntimeError(f"no generation behind {settings.index_alias} to snapshot")
    response = es.snapshot.create(repository=settings.snapshot_repository, snapshot=name or default_name(settings),
                                  indices=",".join(indices), include_global_state=False,
                                  wait_for_completion=True)
    return response["snapshot"]


def list_snapshots(es: Elasticsearch, settings: IndexSettings) -> list[dict]:
    ensure_repository(es, settings)
    found = es.snapshot.get(repository=settings.snapshot_repository, snapshot="_all")
    return sorted(found["snapshots"], key=lambda snap: snap.get("start_time_in_millis", 0))


def restore(es: Elasticsearch, settings: IndexSettings, name: str, rename_prefix: str | None = None) -> list[str]:
    """Restore snapshot `name`; returns the indices restored.

    Without `rename_prefix` the current generations (live, parked and retired) are
    deleted first and the snapshot's return with the read and write aliases as they were.
    With it, they are restored as `<prefix><name>` without aliases, beside the live data."""
    info = es.snapshot.get(repository=settings.snapshot_repository, snapshot=name)["snapshots"][0]
    indices = info["indices"]
    if rename_prefix:
        response = es.snapshot.restore(repository=settings.snapshot_repository, snapshot=name,
                                       indices=",".join(indices), include_aliases=False,
                                       rename_pattern="(.+)", rename_replacement=f"{rename_prefix}$1",
                                       include_global_state=False, wait_for_completion=True)
    else:
        current = all_generations(es, settings)
        if current:
            es.indices.delete(index=",".join(current))
        response = es.snapshot.restore(repository=settings.snapshot_repository, snapshot=name,
                                       indices=",".join(indices), include_aliases=True,
                                       include_global_state=False, wait_for_completion=True)
    return list(response["snapshot"]["indices"])


def describe(snapshot: dict) -> str:
    started = snapshot.get("start_time", "?")
    return (f"{snapshot['snapshot']:<32} {snapshot.get('state', '?'):<8} {started:<26} "
            f"{', '.join(snapshot.get('indices', []))}")
