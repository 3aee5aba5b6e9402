#!/usr/bin/env bash
# Starts the peer mock servers that `omnisim bench --cases peers` measures
# beside omnisim, each serving one stateless stub:
#   POST /v1/inventory/adjust -> 200 {"sku":"HOT","location":"web","available":1,"on_hand":1}
#
#   WireMock standalone (npm package `wiremock`, needs Java 17+) on 127.0.0.1:8089
#   Mountebank (npm package `mountebank`) admin on 127.0.0.1:2525, imposter on 127.0.0.1:4545
#
# Usage: benches/peers/start.sh        install (first time) and start both
#        benches/peers/start.sh stop   stop them
# Not run in CI. Installs into benches/peers/node_modules (git-ignored).
# Then: cargo run --release -- bench --cases peers
set -euo pipefail
cd "$(dirname "$0")"
WIREMOCK_PORT="${WIREMOCK_PORT:-8089}"
MB_PORT="${MB_PORT:-2525}"
IMPOSTER_PORT="${IMPOSTER_PORT:-4545}"
STUB='{"sku":"HOT","location":"web","available":1,"on_hand":1}'

stop() {
  for f in .wiremock.pid .mountebank.pid; do
    if [[ -f $f ]]; then
      # Each server runs in its own process group (setsid): stop the whole group,
      # npx's node wrapper and the JVM or node server under it.
      kill -- "-$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
    fi
  done
}

if [[ "${1:-}" == "stop" ]]; then
  stop
  exit 0
fi

command -v npm >/dev/null || { echo "npm is needed (apt-get install npm)" >&2; exit 2; }
command -v java >/dev/null || { echo "Java 17+ is needed for WireMock (apt-get install openjdk-17-jre-headless)" >&2; exit 2; }
if [[ ! -d node_modules/wiremock || ! -d node_modules/mountebank ]]; then
  npm install --no-audit --no-fund --no-save wiremock@3 mountebank@2
fi
stop

wait_for() { # url
  for _ in $(seq 120); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "timed out waiting for $1" >&2
  return 1
}

# WireMock: no request journal, so it does not grow per request (its fairest setting).
setsid npx --no-install wiremock --port "$WIREMOCK_PORT" --bind-address 127.0.0.1 \
  --no-request-journal --disable-banner > wiremock.log 2>&1 < /dev/null &
echo $! > .wiremock.pid
wait_for "http://127.0.0.1:$WIREMOCK_PORT/__admin/mappings"
curl -fsS -X POST "http://127.0.0.1:$WIREMOCK_PORT/__admin/mappings" \
  -H 'content-type: application/json' \
  -d "{\"request\":{\"method\":\"POST\",\"url\":\"/v1/inventory/adjust\"},\"response\":{\"status\":200,\"jsonBody\":$STUB}}" > /dev/null

setsid npx --no-install mb --port "$MB_PORT" --host 127.0.0.1 > mountebank.log 2>&1 < /dev/null &
echo $! > .mountebank.pid
wait_for "http://127.0.0.1:$MB_PORT/imposters"
curl -fsS -X POST "http://127.0.0.1:$MB_PORT/imposters" -H 'content-type: application/json' -d "{
  \"port\": $IMPOSTER_PORT, \"protocol\": \"http\", \"host\": \"127.0.0.1\",
  \"stubs\": [{\"predicates\": [{\"equals\": {\"method\": \"POST\", \"path\": \"/v1/inventory/adjust\"}}],
               \"responses\": [{\"is\": {\"statusCode\": 200,
                  \"headers\": {\"Content-Type\": \"application/json\"}, \"body\": $STUB}}]}]}" > /dev/null

echo "WireMock standalone: http://127.0.0.1:$WIREMOCK_PORT   (OMNISIM_BENCH_WIREMOCK_URL)"
echo "Mountebank imposter: http://127.0.0.1:$IMPOSTER_PORT   (OMNISIM_BENCH_MOUNTEBANK_URL)"
echo "Now: cargo run --release -- bench --cases peers   Stop: $0 stop"
