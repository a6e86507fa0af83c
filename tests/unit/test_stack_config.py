"""The embedded stack's configuration: ports that move together (issue 9 item 11d),
and the supervisor's programs."""

from __future__ import annotations

from pathlib import Path

from services.cli import build_parser, _stack_config
from services.stack import StackConfig, programs, supervisor_conf


def test_a_second_stack_moves_every_port_with_port_offset(monkeypatch, tmp_path):
    for name in ("KAFKA_BOOTSTRAP", "ELASTICSEARCH_URL", "HTTP_PORT", "DESK_PORT"):
        monkeypatch.delenv(f"WIRESTREAM_{name}", raising=False)
    first = _stack_config(build_parser().parse_args(["up", "--run-dir", str(tmp_path / "a")]))
    second = _stack_config(build_parser().parse_args(["up", "--run-dir", str(tmp_path / "b"), "--port-offset", "1000"]))
    ports = lambda c: [c.kafka_port, c.elasticsearch_port, c.http_port, c.desk_port, *c.metrics_ports.values()]
    assert ports(first) == [9092, 9200, 8080, 8000, 9101, 9102, 9103, 9104, 9105]
    assert ports(second) == [port + 1000 for port in ports(first)]
    assert not set(ports(first)) & set(ports(second))


def test_metrics_port_base_moves_only_the_metrics_ports(tmp_path):
    config = _stack_config(build_parser().parse_args(["up", "--run-dir", str(tmp_path), "--metrics-port-base", "19101"]))
    assert list(config.metrics_ports.values()) == [19101, 19102, 19103, 19104, 19105]


def test_every_replica_is_its_own_supervised_program_with_its_own_port_and_member_id():
    config = StackConfig(run_dir=Path("/tmp/x"), extract_replicas=2)
    names = [(p.name, p.metrics_port) for p in programs(config)]
    assert names == [("ingest", 9101), ("langdetect", 9102), ("extract", 9103), ("extract-1", 9113),
                     ("index", 9104), ("desk", 9105)]
    conf = supervisor_conf(config, programs(config))
    assert "[program:extract-1]" in conf
    assert 'WIRESTREAM_INSTANCE_ID="extract-1"' in conf and 'WIRESTREAM_METRICS_PORT="9113"' in conf
    assert "stopasgroup=true" in conf and "autorestart=true" in conf and "startretries=5" in conf
