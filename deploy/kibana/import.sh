#!/bin/sh
# One-shot importer (the `kibana-import` service in docker-compose.yml): posts
# every deploy/kibana/*.ndjson to Kibana's saved objects API once Kibana is
# healthy, then makes the `news` data view Kibana's default. overwrite=true
# makes it idempotent: re-running it resets the objects to what is committed.
set -eu

KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
# With Elasticsearch security on, Kibana's APIs need a user (compose passes elastic's).
AUTH=""
if [ -n "${KIBANA_PASSWORD:-}" ]; then
  AUTH="${KIBANA_USER:-elastic}:$KIBANA_PASSWORD"
fi
DIR="$(dirname "$0")"
DATA_VIEW_ID="wirestream-news"

for file in "$DIR"/*.ndjson; do
  echo "importing $file into $KIBANA_URL"
  response=$(curl -sS --retry 10 --retry-delay 5 --retry-all-errors ${AUTH:+-u "$AUTH"} \
    -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" \
    -H "kbn-xsrf: true" \
    --form "file=@$file")
  echo "$response"
  case "$response" in
    *'"success":true'*) ;;
    *) echo "import of $file failed" >&2; exit 1 ;;
  esac
done

curl -sS --fail --retry 5 --retry-delay 5 --retry-all-errors ${AUTH:+-u "$AUTH"} \
  -X POST "$KIBANA_URL/api/data_views/default" \
  -H "kbn-xsrf: true" -H "Content-Type: application/json" \
  -d "{\"data_view_id\": \"$DATA_VIEW_ID\", \"force\": true}"
echo
echo "Kibana saved objects imported; dashboard: $KIBANA_URL/app/dashboards#/view/wirestream-news-dashboard"
