"""Credentials and TLS for Kafka and Elasticsearch, from settings to client arguments.

One place turns the `kafka_*` and `elasticsearch_*` security settings
(shared/settings.py) into the keyword arguments each client library takes, so
every client the services build (kafka-python producers, consumers and admin
clients in shared/kafka_io.py, the faust app in shared/runner/faust_host.py,
the Elasticsearch client in shared/elastic.py) connects the same way.

With the defaults (PLAINTEXT Kafka, no Elasticsearch credentials) every
function returns {}: the clients are built exactly as before, which is what
the embedded noida-db stack needs.
"""

from __future__ import annotations

import ssl
from typing import Any

from shared.settings import CommonSettings


def _uses_tls(settings: CommonSettings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def _uses_sasl(settings: CommonSettings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


def kafka_python_kwargs(settings: CommonSettings) -> dict[str, Any]:
    """Arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if _uses_sasl(settings):
        kwargs.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=_secret(settings.kafka_sasl_password),
        )
    if _uses_tls(settings):
        kwargs["ssl_check_hostname"] = settings.kafka_ssl_check_hostname
        if settings.kafka_ssl_cafile:
            kwargs["ssl_cafile"] = settings.kafka_ssl_cafile
        if settings.kafka_ssl_certfile:
            kwargs["ssl_certfile"] = settings.kafka_ssl_certfile
            kwargs["ssl_keyfile"] = settings.kafka_ssl_keyfile
    return kwargs


def kafka_ssl_context(settings: CommonSettings) -> ssl.SSLContext:
    """The TLS context for aiokafka (faust): trusted CA, optional client certificate."""
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def faust_app_kwargs(settings: CommonSettings) -> dict[str, Any]:
    """Arguments for faust.App: `broker_credentials` (faust hands them to aiokafka)."""
    import faust  # only the transform services need faust

    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    context = kafka_ssl_context(settings) if _uses_tls(settings) else None
    if _uses_sasl(settings):
        credentials = faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=_secret(settings.kafka_sasl_password),
            ssl_context=context,  # with a context faust says SASL_SSL, without SASL_PLAINTEXT
            mechanism=settings.kafka_sasl_mechanism,
        )
    else:
        credentials = faust.SSLCredentials(context)
    return {"broker_credentials": credentials}


def elasticsearch_kwargs(settings: CommonSettings) -> dict[str, Any]:
    """Arguments for elasticsearch.Elasticsearch: credentials, and TLS for https URLs."""
    kwargs: dict[str, Any] = {}
    if settings.elasticsearch_api_key is not None:
        kwargs["api_key"] = _secret(settings.elasticsearch_api_key)
    elif settings.elasticsearch_username:
        kwargs["basic_auth"] = (settings.elasticsearch_username, _secret(settings.elasticsearch_password))
    if settings.elasticsearch_url.startswith("https://"):
        if settings.elasticsearch_ca_certs:
            kwargs["ca_certs"] = settings.elasticsearch_ca_certs
        if not settings.elasticsearch_verify_certs:
            kwargs["verify_certs"] = False
    return kwargs
