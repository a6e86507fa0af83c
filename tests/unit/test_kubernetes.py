"""deploy/kubernetes, rendered with kustomize and validated offline.

The overlay is rendered by `kubectl kustomize` (kustomize built into kubectl;
the machine image ships kubectl). Core kinds are validated with
kubernetes-validate (the Kubernetes OpenAPI schemas, strict: unknown fields
fail); the operator resources (Strimzi, ECK, KEDA) against the schemas in
tests/fixtures/crd-schemas. Then the manifests must agree with the code: the
settings the services read, their ports, topics and consumer groups.
Skips without kubectl, fails without it under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.settings import SERVICE_SETTINGS, CommonSettings, ExtractSettings

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
OVERLAY = KUBERNETES / "overlays" / "production"
CRD_SCHEMAS = REPO / "tests" / "fixtures" / "crd-schemas"
KUBERNETES_VERSION = "1.31.0"  # the oldest minor still supported upstream when this was written
WORKLOADS = {"ingest", "langdetect", "extract", "index", "desk"}


def kustomize(path: Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl (kustomize) is missing under CI")
        pytest.skip("kubectl not installed: it renders the kustomization")
    result = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    return kustomize(OVERLAY)


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def config_map(docs: list[dict]) -> dict[str, str]:
    maps = [doc for name, doc in of_kind(docs, "ConfigMap").items() if name.startswith("wirestream-config")]
    assert len(maps) == 1
    return maps[0]["data"]


def served(deployment: dict) -> str:
    return container(deployment)["command"][-1]


# ------------------------------------------------------------------ schemas --

def test_base_and_overlay_render(rendered):
    assert len(kustomize(KUBERNETES / "base")) == len(rendered)
    kinds = {doc["kind"] for doc in rendered}
    assert {"Deployment", "PodDisruptionBudget", "Service", "ConfigMap", "Kafka", "KafkaTopic", "KafkaUser",
            "Elasticsearch", "Kibana", "ScaledObject"} <= kinds
    assert set(of_kind(rendered, "Deployment")) == WORKLOADS
    assert {doc["metadata"].get("namespace") for doc in rendered} == {"wirestream"}


def test_core_kinds_pass_kubernetes_validate_strictly(rendered):
    core = [doc for doc in rendered if "." not in doc["apiVersion"].split("/")[0] or doc["apiVersion"].startswith(
        ("apps/", "policy/", "batch/", "autoscaling/"))]
    assert len(core) >= 13
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validate_catches_a_bad_manifest(rendered):
    # The validator is not a no-op: a misspelt field and a wrong type fail.
    deployment = json.loads(json.dumps(of_kind(rendered, "Deployment")["extract"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment = json.loads(json.dumps(of_kind(rendered, "PodDisruptionBudget")["extract"]))
    deployment["spec"]["minAvailable"] = [1]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def crd_schema(doc: dict) -> dict:
    group, version = doc["apiVersion"].split("/")
    path = CRD_SCHEMAS / f"{group}_{version}_{doc['kind']}.json"
    assert path.is_file(), f"no schema for {doc['apiVersion']} {doc['kind']} in {CRD_SCHEMAS}"
    return json.loads(path.read_text())


def test_operator_resources_match_their_schemas(rendered):
    operator_docs = [doc for doc in rendered if doc["apiVersion"].split("/")[0].endswith(
        ("strimzi.io", "elastic.co", "keda.sh"))]
    assert {doc["kind"] for doc in operator_docs} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser",
                                                      "Elasticsearch", "Kibana", "ScaledObject",
                                                      "TriggerAuthentication"}
    for doc in operator_docs:
        jsonschema.validate(doc, crd_schema(doc))


@pytest.mark.parametrize("kind, breaks", [
    ("KafkaTopic", lambda spec: spec.update(partitions="four")),
    ("Kafka", lambda spec: spec["kafka"]["listeners"][0].update(type="internel")),
    ("KafkaUser", lambda spec: spec["authorization"]["acls"][0].update(operations=["Reed"])),
    ("Elasticsearch", lambda spec: spec.pop("nodeSets")),
    ("ScaledObject", lambda spec: spec["triggers"][0].pop("metadata")),
])
def test_the_operator_schemas_reject_mistakes(rendered, kind, breaks):
    doc = json.loads(json.dumps(next(d for d in rendered if d["kind"] == kind)))
    breaks(doc["spec"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, crd_schema(doc))


# ------------------------------------------------------ agreement with code --

def test_probes_resources_and_ports_follow_the_settings(rendered):
    for name, deployment in of_kind(rendered, "Deployment").items():
        box = container(deployment)
        assert box["command"][:2] == ["wirestream", "serve"]
        service = served(deployment)
        settings_class = SERVICE_SETTINGS.get(service)
        ports = {port["name"]: port["containerPort"] for port in box["ports"]}
        if settings_class is not None:
            assert ports["metrics"] == settings_class.model_fields["metrics_port"].default, name
        else:
            assert service == "desk" and ports["metrics"] == 9105  # services/desk lands from another branch
        assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, name
        assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, name
        assert box["startupProbe"]["httpGet"]["path"] == "/healthz", name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(box["resources"][kind]), f"{name}: {kind}"
        pod = deployment["spec"]["template"]
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(ports["metrics"])
    ingest = container(of_kind(rendered, "Deployment")["ingest"])
    assert {port["containerPort"] for port in ingest["ports"]} >= {8080}
    assert of_kind(rendered, "Service")["desk"]["spec"]["ports"][0]["port"] == 8000


def test_every_workload_has_a_disruption_budget_it_can_satisfy(rendered):
    deployments = of_kind(rendered, "Deployment")
    scaled = {so["spec"]["scaleTargetRef"]["name"]: so for so in of_kind(rendered, "ScaledObject").values()}
    covered = set()
    for pdb in of_kind(rendered, "PodDisruptionBudget").values():
        selector = pdb["spec"]["selector"]["matchLabels"]
        matches = [name for name, d in deployments.items()
                   if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, pdb["metadata"]["name"]
        name = matches[0]
        covered.add(name)
        replicas = scaled[name]["spec"]["minReplicaCount"] if name in scaled else deployments[name]["spec"]["replicas"]
        # minAvailable below the replica count, or a node drain waits for ever.
        assert pdb["spec"]["minAvailable"] < replicas, f"{name}: minAvailable {pdb['spec']['minAvailable']} >= {replicas}"
    assert covered == set(deployments)


def test_environment_is_settings_fields_that_validate(rendered, monkeypatch):
    shared = config_map(rendered)
    for name, deployment in of_kind(rendered, "Deployment").items():
        box = container(deployment)
        assert [source["configMapRef"]["name"] for source in box["envFrom"]] == [
            next(n for n in of_kind(rendered, "ConfigMap") if n.startswith("wirestream-config"))]
        env = dict(shared)
        for variable in box["env"]:
            env[variable["name"]] = variable.get("value", "from-a-secret")
        settings_class = SERVICE_SETTINGS.get(served(deployment), CommonSettings)
        for key in env:
            assert key.startswith("WIRESTREAM_"), f"{name}: {key}"
            assert key[len("WIRESTREAM_"):].lower() in settings_class.model_fields, f"{name}: {key} is not a setting"
        for field in settings_class.model_fields:
            monkeypatch.delenv(f"WIRESTREAM_{field.upper()}", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = settings_class()  # SASL without a password, a bad enum value... fail here
        assert settings.kafka_security_protocol == "SASL_SSL" and settings.elasticsearch_url.startswith("https://")
        mounts = {m["mountPath"] for m in box["volumeMounts"]}
        for path in (settings.kafka_ssl_cafile, settings.elasticsearch_ca_certs):
            assert str(Path(path).parent) in mounts, f"{name}: {path} is not mounted"


def test_clients_point_at_the_operator_made_services_and_secrets(rendered):
    settings = config_map(rendered)
    kafka = next(iter(of_kind(rendered, "Kafka").values()))
    elasticsearch = next(iter(of_kind(rendered, "Elasticsearch").values()))
    listener = kafka["spec"]["kafka"]["listeners"][0]
    assert settings["WIRESTREAM_KAFKA_BOOTSTRAP"] == f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
    assert listener["tls"] and listener["authentication"]["type"] == "scram-sha-512"
    assert settings["WIRESTREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert settings["WIRESTREAM_ELASTICSEARCH_URL"] == f"https://{elasticsearch['metadata']['name']}-es-http:9200"
    user = of_kind(rendered, "KafkaUser")[settings["WIRESTREAM_KAFKA_SASL_USERNAME"]]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    for deployment in of_kind(rendered, "Deployment").values():
        secrets = {v["secret"]["secretName"] for v in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v}
        assert secrets == {f"{kafka['metadata']['name']}-cluster-ca-cert",
                           f"{elasticsearch['metadata']['name']}-es-http-certs-public"}
    # The Secrets nobody generates must be in the runbook's list to create.
    runbook = (REPO / "deploy" / "README.md").read_text()
    for secret in ("wirestream-ingest", "wirestream-es-user"):
        assert "kubectl create secret" in runbook and secret in runbook, secret


def test_topics_match_the_settings(rendered):
    topics = of_kind(rendered, "KafkaTopic")
    defaults = {field: CommonSettings.model_fields[field].default
                for field in ("topic_raw", "topic_detected", "topic_enriched", "topic_deadletter")}
    assert set(topics) == set(defaults.values())
    partitions = int(config_map(rendered)["WIRESTREAM_TOPIC_PARTITIONS"])
    replication = int(config_map(rendered)["WIRESTREAM_TOPIC_REPLICATION"])
    for name, topic in topics.items():
        assert topic["spec"]["partitions"] == partitions, name  # else a service start would raise them
        assert topic["spec"]["replicas"] == replication, name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == next(iter(of_kind(rendered, "Kafka")))
    deadletter = topics[defaults["topic_deadletter"]]["spec"]["config"]["retention.ms"]
    assert deadletter == CommonSettings.model_fields["topic_deadletter_retention_ms"].default
    assert deadletter > 10 * topics[defaults["topic_detected"]]["spec"]["config"]["retention.ms"]
    # Issue 11 item 5: the raw topic is the reenrich archive, compacted as the services create it.
    raw = topics[defaults["topic_raw"]]["spec"]["config"]
    assert raw["cleanup.policy"] == CommonSettings.model_fields["topic_raw_cleanup_policy"].default == "compact"
    assert "retention.ms" not in raw


def test_index_generations_have_a_replica_on_the_cluster(rendered):
    """Issue 11 item 4: number_of_replicas 0 fits one node only; ECK runs several."""
    nodes = sum(node_set["count"] for node_set in
                next(iter(of_kind(rendered, "Elasticsearch").values()))["spec"]["nodeSets"])
    env = {item["name"]: item.get("value") for item in
           of_kind(rendered, "Deployment")["index"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    replicas = int(env["WIRESTREAM_INDEX_REPLICAS"])
    assert nodes >= 2 and 1 <= replicas < nodes


def test_extract_scales_on_its_consumer_lag(rendered):
    scaled = of_kind(rendered, "ScaledObject")["extract"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "extract"
    assert "replicas" not in of_kind(rendered, "Deployment")["extract"]["spec"], "KEDA owns extract's replica count"
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    extract = ExtractSettings.model_fields
    assert metadata["consumerGroup"] == extract["consumer_group"].default
    assert metadata["topic"] == extract["topic_detected"].default
    assert metadata["bootstrapServers"] == config_map(rendered)["WIRESTREAM_KAFKA_BOOTSTRAP"]
    assert metadata["sasl"] == "scram_sha512" and metadata["tls"] == "enable"
    # More replicas than partitions would sit idle.
    partitions = of_kind(rendered, "KafkaTopic")[metadata["topic"]]["spec"]["partitions"]
    assert scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= partitions
    auth = of_kind(rendered, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
    assert parameters == {"username", "password", "ca"}


def test_overlay_pins_the_image_and_sets_public_urls(rendered):
    for deployment in of_kind(rendered, "Deployment").values():
        image = container(deployment)["image"]
        repository, _, tag = image.rpartition(":")
        assert repository.startswith("registry.") and tag and tag not in ("latest", "local"), image
    kibana = next(iter(of_kind(rendered, "Kibana").values()))
    assert kibana["spec"]["config"]["server.publicBaseUrl"].startswith("https://")
    assert of_kind(rendered, "Deployment")["ingest"]["spec"]["replicas"] == 3
    elasticsearch = next(iter(of_kind(rendered, "Elasticsearch").values()))
    assert elasticsearch["spec"]["version"] == kibana["spec"]["version"]
