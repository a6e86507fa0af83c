#!/bin/sh
# One-shot `es-users` job (docker-compose.yml), once Elasticsearch is healthy:
#   - sets the password of the built-in kibana_system user (KIBANA_SYSTEM_PASSWORD)
#   - role + user `wirestream`: writes and manages the news-* indices, aliases and
#     templates, nothing else (WIRESTREAM_ELASTICSEARCH_PASSWORD)
#   - role + user `exporter`: read-only monitoring for the Prometheus exporter
#     (ES_EXPORTER_PASSWORD)
# Idempotent: re-running it re-applies the roles and the current passwords,
# which is how passwords are rotated (deploy/README.md, "Rotate secrets").
set -eu
ES_URL="${ES_URL:-https://elasticsearch:9200}"
CA=/certs/ca/ca.crt

# Passwords go into JSON bodies: refuse characters that would need escaping
# rather than send a broken request.
for name in ELASTIC_PASSWORD KIBANA_SYSTEM_PASSWORD WIRESTREAM_ELASTICSEARCH_PASSWORD ES_EXPORTER_PASSWORD; do
  eval "value=\${$name:-}"
  case "$value" in
    ''|*[!A-Za-z0-9._~+=-]*) echo "setup-users.sh: $name must be set and use only letters, digits and ._~+=-" >&2; exit 1 ;;
  esac
  if [ "${#value}" -lt 12 ]; then echo "setup-users.sh: $name must be at least 12 characters" >&2; exit 1; fi
done

es() {
  method="$1"; path="$2"; body="$3"
  curl -fsS --retry 10 --retry-delay 3 --retry-all-errors --cacert "$CA" -u "elastic:$ELASTIC_PASSWORD" \
    -X "$method" "$ES_URL$path" -H 'Content-Type: application/json' -d "$body" > /dev/null
  echo "$method $path: ok"
}

es POST /_security/user/kibana_system/_password "{\"password\": \"$KIBANA_SYSTEM_PASSWORD\"}"
es PUT /_security/role/wirestream '{
  "cluster": ["monitor", "manage_index_templates", "manage_ilm"],
  "indices": [{"names": ["news*"], "privileges": ["all"]}]
}'
es PUT /_security/user/wirestream "{\"password\": \"$WIRESTREAM_ELASTICSEARCH_PASSWORD\", \"roles\": [\"wirestream\"]}"
es PUT /_security/role/metrics_exporter '{
  "cluster": ["monitor"],
  "indices": [{"names": ["*"], "privileges": ["monitor"]}]
}'
es PUT /_security/user/exporter "{\"password\": \"$ES_EXPORTER_PASSWORD\", \"roles\": [\"metrics_exporter\"]}"
