"""Alerting rules and Prometheus configuration, checked by promtool.

promtool comes with Debian's `prometheus` package (.ci/run installs it). The
tests skip where it is missing, except under CI (the CI variable is set), where
a missing promtool is a failure: alerts nobody checked are worse than none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
EXPECTED_REPLICAS = PROMETHEUS_DIR / "expected-replicas.sh"


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("promtool is missing under CI: .ci/run must install Debian's prometheus package")
    pytest.skip("promtool not installed (apt-get install prometheus)")


def run(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules():
    result = run(promtool(), "check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_config():
    result = run(promtool(), "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts.yml" in result.stdout  # the rule file is loaded and checked with the config


def test_promtool_unit_tests_for_every_rule():
    result = run(promtool(), "test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_fail_when_a_rule_is_wrong(tmp_path):
    # The unit tests can fail: with a threshold changed they must.
    (tmp_path / "alerts.yml").write_text((PROMETHEUS_DIR / "alerts.yml").read_text().replace(
        "* 60 > 10", "* 60 > 1000"))
    (tmp_path / "alerts.test.yml").write_text((PROMETHEUS_DIR / "alerts.test.yml").read_text())
    result = run(promtool(), "test", "rules", "alerts.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "WirestreamDeadLettersHigh" in result.stdout + result.stderr


def _generate_expected_replicas(out: Path, **counts: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], **counts}
    return subprocess.run(["sh", str(EXPECTED_REPLICAS), str(out)], env=env, capture_output=True, text=True,
                          timeout=30)


def test_expected_replicas_rules_are_valid_and_drive_the_missing_replica_alert(tmp_path):
    generated = tmp_path / "generated" / "expected_replicas.yml"
    result = _generate_expected_replicas(generated, INGEST_REPLICAS="1", LANGDETECT_REPLICAS="1",
                                         EXTRACT_REPLICAS="3", INDEX_REPLICAS="1", DESK_REPLICAS="1")
    assert result.returncode == 0, result.stderr
    check = run(promtool(), "check", "rules", str(generated))
    assert check.returncode == 0, check.stdout + check.stderr

    # The generated recording rule and the real alert together: 3 extract replicas
    # expected, 2 up, so the alert fires; index has its 1 and stays quiet.
    (tmp_path / "alerts.yml").write_text((PROMETHEUS_DIR / "alerts.yml").read_text())
    (tmp_path / "replicas.test.yml").write_text("""
rule_files: [alerts.yml, generated/expected_replicas.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="wirestream-extract", instance="extract-1"}'
        values: '1x10'
      - series: 'up{job="wirestream-extract", instance="extract-2"}'
        values: '1x10'
      - series: 'up{job="wirestream-index", instance="index-1"}'
        values: '1x10'
      - series: 'up{job="wirestream-ingest", instance="ingest-1"}'
        values: '1x10'
      - series: 'up{job="wirestream-langdetect", instance="langdetect-1"}'
        values: '1x10'
      - series: 'up{job="wirestream-desk", instance="desk-1"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 8m
        alertname: WirestreamReplicasMissing
        exp_alerts:
          - exp_labels: {severity: warning, job: wirestream-extract}
            exp_annotations:
              summary: "wirestream-extract runs fewer replicas than the 3 configured"
              description: "Fewer than 3 replicas of wirestream-extract have been up for 5 minutes (compose: the *_REPLICAS variables in .env)."
""")
    result = run(promtool(), "test", "rules", "replicas.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("bad", ["", "two", "-1"])
def test_expected_replicas_refuses_a_count_that_is_not_a_number(tmp_path, bad):
    result = _generate_expected_replicas(tmp_path / "out.yml", INGEST_REPLICAS="1", LANGDETECT_REPLICAS="1",
                                         EXTRACT_REPLICAS=bad, INDEX_REPLICAS="1", DESK_REPLICAS="1")
    assert result.returncode != 0
    assert "EXTRACT_REPLICAS must be a whole number" in result.stderr
    assert not (tmp_path / "out.yml").exists()
