"""Security settings -> client arguments (shared/connection_security.py).

The arguments are checked against what each client library accepts, and fed
through the real constructors that do not connect (faust.App, aiokafka's
clients, elasticsearch.Elasticsearch), so a misspelt keyword fails here, not
on the first production deploy.
"""

from __future__ import annotations

import asyncio
import base64
import ssl

import certifi
import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from elasticsearch import Elasticsearch
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from shared.connection_security import elasticsearch_kwargs, faust_app_kwargs, kafka_python_kwargs
from shared.settings import CommonSettings, ExtractSettings, IndexSettings

CA_FILE = certifi.where()  # any PEM bundle of CA certificates will do


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in CommonSettings.model_fields:
        monkeypatch.delenv(f"WIRESTREAM_{name.upper()}", raising=False)


def sasl_ssl(**overrides) -> CommonSettings:
    values = dict(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="wirestream",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=CA_FILE,
    )
    values.update(overrides)
    return ExtractSettings(**values)


# ------------------------------------------------------------------ defaults --

def test_defaults_add_nothing_so_the_embedded_stack_connects_as_before():
    settings = IndexSettings()
    assert kafka_python_kwargs(settings) == {}
    assert faust_app_kwargs(settings) == {}
    assert elasticsearch_kwargs(settings) == {}


# -------------------------------------------------------------- kafka-python --

def test_sasl_ssl_for_kafka_python():
    assert kafka_python_kwargs(sasl_ssl()) == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "wirestream",
        "sasl_plain_password": "s3cret",
        "ssl_check_hostname": True,
        "ssl_cafile": CA_FILE,
    }


def test_sasl_plaintext_sends_no_tls_options():
    settings = ExtractSettings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u",
                               kafka_sasl_password="p", kafka_ssl_cafile=CA_FILE)
    kwargs = kafka_python_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert not any(key.startswith("ssl_") for key in kwargs)


def test_mutual_tls_for_kafka_python():
    settings = ExtractSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=CA_FILE,
                               kafka_ssl_certfile="/certs/client.crt", kafka_ssl_keyfile="/certs/client.key",
                               kafka_ssl_check_hostname=False)
    assert kafka_python_kwargs(settings) == {
        "security_protocol": "SSL",
        "ssl_check_hostname": False,
        "ssl_cafile": CA_FILE,
        "ssl_certfile": "/certs/client.crt",
        "ssl_keyfile": "/certs/client.key",
    }


@pytest.mark.parametrize("client", [KafkaProducer, KafkaConsumer, KafkaAdminClient])
def test_every_kafka_python_client_accepts_the_arguments(client):
    # kafka-python refuses unknown configs ("Unrecognized configs"); these are its known ones.
    for settings in (sasl_ssl(), sasl_ssl(kafka_ssl_certfile="c.pem", kafka_ssl_keyfile="k.pem")):
        unknown = set(kafka_python_kwargs(settings)) - set(client.DEFAULT_CONFIG)
        assert not unknown, f"{client.__name__} does not take {unknown}"


def test_shared_kafka_clients_pass_the_arguments(monkeypatch):
    from shared import kafka_io

    seen: dict[str, dict] = {}

    def recorder(name):
        def build(*args, **kwargs):
            seen[name] = kwargs

            class Client:
                def subscribe(self, topics):
                    pass
            return Client()
        return build

    monkeypatch.setattr(kafka_io, "KafkaProducer", recorder("producer"))
    monkeypatch.setattr(kafka_io, "KafkaConsumer", recorder("consumer"))
    monkeypatch.setattr(kafka_io, "KafkaAdminClient", recorder("admin"))
    settings = sasl_ssl()
    kafka_io.make_producer(settings, "p")
    kafka_io.make_consumer(settings, "g", ["news.raw"])
    kafka_io.wait_for_admin(settings)
    for name in ("producer", "consumer", "admin"):
        assert seen[name]["security_protocol"] == "SASL_SSL", name
        assert seen[name]["sasl_plain_password"] == "s3cret", name


# --------------------------------------------------------------- faust/aiokafka --

def test_sasl_ssl_for_faust_reaches_aiokafka_as_sasl_ssl():
    credentials = faust_app_kwargs(sasl_ssl())["broker_credentials"]
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("wirestream", "s3cret")
    context = auth["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0, "the CA file was not loaded"


def test_sasl_plaintext_for_faust_has_no_tls():
    settings = ExtractSettings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u",
                               kafka_sasl_password="p")
    auth = credentials_to_aiokafka_auth(faust_app_kwargs(settings)["broker_credentials"])
    assert auth["security_protocol"] == "SASL_PLAINTEXT"
    assert auth["ssl_context"] is None


def test_ssl_only_for_faust():
    settings = ExtractSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=CA_FILE, kafka_ssl_check_hostname=False)
    auth = credentials_to_aiokafka_auth(faust_app_kwargs(settings)["broker_credentials"])
    assert auth["security_protocol"] == "SSL"
    assert auth["ssl_context"].check_hostname is False


def test_faust_app_and_aiokafka_clients_accept_the_credentials():
    kwargs = faust_app_kwargs(sasl_ssl())
    app = faust.App("wirestream-test", broker="kafka://127.0.0.1:1", **kwargs)
    assert app.conf.broker_credentials is kwargs["broker_credentials"]
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)

    async def build_clients():
        # The constructors validate the security arguments; nothing connects before start().
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **auth)
        consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", **auth)
        await consumer.stop()
        await producer.stop()

    asyncio.run(build_clients())


# ------------------------------------------------------------- elasticsearch --

def test_user_and_password_with_a_ca_for_https():
    settings = IndexSettings(elasticsearch_url="https://elasticsearch:9200", elasticsearch_username="wirestream",
                             elasticsearch_password="pw", elasticsearch_ca_certs=CA_FILE)
    kwargs = elasticsearch_kwargs(settings)
    assert kwargs == {"basic_auth": ("wirestream", "pw"), "ca_certs": CA_FILE}
    es = Elasticsearch(settings.elasticsearch_url, **kwargs)
    assert es._headers["authorization"] == "Basic " + base64.b64encode(b"wirestream:pw").decode()
    node = es.transport.node_pool.all()[0]
    assert node.config.ca_certs == CA_FILE and node.config.verify_certs


def test_api_key():
    settings = IndexSettings(elasticsearch_url="https://es:9200", elasticsearch_api_key="aWQ6a2V5")
    es = Elasticsearch(settings.elasticsearch_url, **elasticsearch_kwargs(settings))
    assert es._headers["authorization"] == "ApiKey aWQ6a2V5"


def test_tls_options_are_left_out_for_http_urls():
    # elasticsearch-py refuses TLS options for an http:// node ("TLS options require scheme to be 'https'").
    settings = IndexSettings(elasticsearch_url="http://es:9200", elasticsearch_ca_certs=CA_FILE,
                             elasticsearch_verify_certs=False)
    assert elasticsearch_kwargs(settings) == {}


def test_make_client_uses_the_settings():
    from shared.elastic import make_client

    settings = IndexSettings(elasticsearch_url="https://es:9200", elasticsearch_username="u",
                             elasticsearch_password="p", elasticsearch_ca_certs=CA_FILE)
    es = make_client(settings)
    assert es._headers["authorization"].startswith("Basic ")
    assert es.transport.node_pool.all()[0].config.ca_certs == CA_FILE


# ---------------------------------------------------------------- validation --

@pytest.mark.parametrize("values, named", [
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"}, "WIRESTREAM_KAFKA_SASL_PASSWORD"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "WIRESTREAM_KAFKA_SASL_USERNAME"),
    ({"kafka_ssl_certfile": "c.pem"}, "WIRESTREAM_KAFKA_SSL_KEYFILE"),
    ({"elasticsearch_username": "u"}, "WIRESTREAM_ELASTICSEARCH_PASSWORD"),
    ({"elasticsearch_username": "u", "elasticsearch_password": "p", "elasticsearch_api_key": "k"},
     "WIRESTREAM_ELASTICSEARCH_API_KEY"),
    ({"kafka_security_protocol": "SSL_SASL"}, "kafka_security_protocol"),
])
def test_incomplete_or_wrong_security_settings_fail_at_start_naming_the_variable(values, named):
    with pytest.raises(ValueError, match=named):
        IndexSettings(**values)


def test_passwords_do_not_show_in_the_settings_repr():
    settings = sasl_ssl(elasticsearch_username="u", elasticsearch_password="es-secret")
    assert "s3cret" not in repr(settings) and "es-secret" not in repr(settings)
