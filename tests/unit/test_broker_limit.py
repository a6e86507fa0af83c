"""Reading the broker's record limit never stops a service from starting."""

from __future__ import annotations

from shared import kafka_io
from shared.limits import KAFKA_DEFAULT_MAX_MESSAGE_BYTES
from shared.settings import CommonSettings


class _NoidaLikeAdmin:
    """What noida-db gives kafka-python: no configs, and a cluster answer that
    kafka-python's describe_cluster fails on with KeyError('endpoint_type')."""

    def describe_configs(self, resources, config_filter=None):
        return {}

    def describe_cluster(self):
        raise KeyError("endpoint_type")

    def close(self):
        pass


def test_a_broker_that_reports_no_limit_gives_kafkas_default(monkeypatch):
    monkeypatch.setattr(kafka_io, "wait_for_admin", lambda settings: _NoidaLikeAdmin())
    assert kafka_io.broker_max_message_bytes(CommonSettings()) == KAFKA_DEFAULT_MAX_MESSAGE_BYTES
