#!/bin/sh
# One-shot `certs` job (docker-compose.yml): a private CA and the TLS
# certificates of Elasticsearch (HTTP) and Kafka (SASL_SSL listeners), made
# with elasticsearch-certutil from the Elasticsearch image, into the `certs`
# volume. Idempotent: existing certificates are kept; to rotate them, see
# deploy/README.md ("Rotate secrets").
#
#   /certs/ca/ca.crt                      the CA every client trusts (world-readable)
#   /certs/ca/ca.key                      the CA key (root only)
#   /certs/elasticsearch/elasticsearch.{crt,key}
#   /certs/kafka/kafka.p12                PKCS#12 keystore, password KAFKA_KEYSTORE_PASSWORD (.env)
#
# KAFKA_PUBLIC_HOST (from .env) goes into Kafka's certificate, so remote clients
# that connect to it by that name can verify the broker.
set -eu
certutil=/usr/share/elasticsearch/bin/elasticsearch-certutil
cd /certs

if [ -f ca/ca.crt ] && [ -f elasticsearch/elasticsearch.crt ] && [ -f kafka/kafka.p12 ]; then
  echo "certificates already in the certs volume; keeping them"
  exit 0
fi

public_host="${KAFKA_PUBLIC_HOST:-localhost}"
case "$public_host" in
  *[!0-9.]*) kafka_names="dns: [kafka, localhost, \"$public_host\"]" ;;
  *)         kafka_names="dns: [kafka, localhost]
    ip: [\"$public_host\"]" ;;
esac

work=$(mktemp -d)
"$certutil" ca --silent --pem --days "${CERT_DAYS:-825}" --out "$work/ca.zip"
unzip -oq "$work/ca.zip" -d /certs

cat > "$work/instances.yml" <<INSTANCES
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: ["127.0.0.1"]
  - name: kafka
    $kafka_names
INSTANCES
"$certutil" cert --silent --pem --days "${CERT_DAYS:-825}" --in "$work/instances.yml" \
  --ca-cert ca/ca.crt --ca-key ca/ca.key --out "$work/pem.zip"
unzip -oq "$work/pem.zip" -d /certs

# Kafka reads a PKCS#12 keystore, with the password compose also gives the broker.
: "${KAFKA_KEYSTORE_PASSWORD:?KAFKA_KEYSTORE_PASSWORD is not set}"
mkdir -p kafka
cat > "$work/kafka.yml" <<INSTANCES
instances:
  - name: kafka
    $kafka_names
INSTANCES
"$certutil" cert --silent --days "${CERT_DAYS:-825}" --in "$work/kafka.yml" \
  --ca-cert ca/ca.crt --ca-key ca/ca.key --pass "$KAFKA_KEYSTORE_PASSWORD" --out "$work/p12.zip"
unzip -oq "$work/p12.zip" -d "$work/p12"
cp "$work/p12/kafka/kafka.p12" kafka/kafka.p12
rm -rf "$work"

# Elasticsearch and Kafka run as uid 1000; the services, Kibana and the exporter only need ca.crt.
chown -R root:root /certs
chmod 755 /certs /certs/ca
chmod 644 ca/ca.crt
chmod 600 ca/ca.key
chown -R 1000:0 elasticsearch kafka
chmod 750 elasticsearch kafka
chmod 640 elasticsearch/* kafka/*
echo "certificates created in the certs volume (CA: /certs/ca/ca.crt)"
