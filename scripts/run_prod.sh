#!/usr/bin/env bash
# Production mode (`make run-prod`): the same bot on shared infrastructure, the way Rasa
# deployments grow.
#   * Rasa's SQL tracker store on PostgreSQL (DATABASE_URL; cases too unless
#     CASES_DATABASE_URL), Rasa's Redis lock store and our channels' shared state
#     (REDIS_URL), Rasa's pika event broker and the durable inbound queue (RABBITMQ_URL);
#   * PROD_REPLICAS (2) Rasa servers on 127.0.0.1:RASA_PORT.. with the HTTP API behind
#     RASA_API_TOKEN (generated per run when unset, saved in $RUN_DIR/api_token), one
#     decision service (external NLU + actions) and the hotline forwarder;
#   * nginx (Debian's) on PROD_PORT (8080), TLS with PROD_TLS_CERT/PROD_TLS_KEY (a
#     self-signed pair is generated when unset), exposing only the channel webhooks and
#     /demo/, rate-limiting REST and demo per client address (PROD_RATE, PROD_BURST).
# A process that dies is started again (kill -9 a replica: the conversation continues
# from PostgreSQL). Ctrl-C / SIGTERM stops everything. Logs: $RUN_DIR/*.log, without
# phone numbers or message texts (deploy/logging.yml).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/teman}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export CASES_DATABASE_URL="${CASES_DATABASE_URL:-$DATABASE_URL}"
export TEMAN_TRACKER_STORE_URL="$DATABASE_URL"
REPLICAS="${PROD_REPLICAS:-2}"
PROD_PORT="${PROD_PORT:-8080}"
PROD_BIND="${PROD_BIND:-0.0.0.0}"
RASA_PORT="${RASA_PORT:-5005}"
ACTION_PORT="${ACTION_PORT:-5055}"
RUN_DIR="${TEMAN_RUN_DIR:-$ROOT/var/prod}"
export TEMAN_REPLICAS="$REPLICAS"
export TEMAN_LOGGING_CONFIG="$ROOT/deploy/logging.yml"
# Rasa's listen backlog (Rasa reads SANIC_BACKLOG; its default 100 overflowed under 200
# concurrent conversations on one busy replica: connections reset after ~110 s).
export SANIC_BACKLOG="${SANIC_BACKLOG:-1024}"
# Queues and keys of this deployment (several deployments may share the services).
export TEMAN_REDIS_PREFIX="${TEMAN_REDIS_PREFIX:-teman}"
mkdir -p "$RUN_DIR/pids"
chmod 700 "$RUN_DIR"
rm -f "$RUN_DIR/ready"

if [ "$REPLICAS" -lt 1 ]; then echo "[prod] PROD_REPLICAS must be >= 1" >&2; exit 2; fi
t0=$(now)
"$ROOT/scripts/setup_system.sh"
"$ROOT/scripts/setup_env.sh" all
echo "[prod] checking PostgreSQL, Redis${RABBITMQ_URL:+, RabbitMQ} ..."
"$ACTIONS_PY" -m tools.prod_check
echo "[run] checking the search index (a first build fine-tunes the encoder: minutes) ..."
"$ACTIONS_PY" -m tools.build_index
"$ROOT/scripts/train.sh"

# Channels, as in run_bot.sh.
creds="$RUN_DIR/credentials.yml"
write_credentials prod "$creds"

# Every replica shares the sender map file (one machine) unless told otherwise.
export SENDER_MAP_PATH="${SENDER_MAP_PATH:-$RUN_DIR/sender_map.db}"

TEMAN_SERVICE_TOKEN="$("$ACTIONS_PY" -c 'import secrets; print(secrets.token_hex(16))')"
export TEMAN_SERVICE_TOKEN
if [ -z "${RASA_API_TOKEN:-}" ]; then
    RASA_API_TOKEN="$("$ACTIONS_PY" -c 'import secrets; print(secrets.token_hex(24))')"
    echo "[prod] RASA_API_TOKEN not set: generated one for this run ($RUN_DIR/api_token)" >&2
fi
(umask 077 && printf '%s\n' "$RASA_API_TOKEN" > "$RUN_DIR/api_token")
endpoints="$RUN_DIR/endpoints.yml"
(umask 077 && "$ACTIONS_PY" -m tools.write_endpoints "$endpoints" \
    --service-url "http://127.0.0.1:$ACTION_PORT" --token "$TEMAN_SERVICE_TOKEN")

# TLS: the operator's certificate, or a self-signed one for trying it out.
cert="${PROD_TLS_CERT:-}"; key="${PROD_TLS_KEY:-}"
if [ -z "$cert" ] || [ -z "$key" ]; then
    cert="$RUN_DIR/tls/selfsigned.crt"; key="$RUN_DIR/tls/selfsigned.key"
    if [ ! -f "$cert" ]; then
        mkdir -p "$RUN_DIR/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$key" -out "$cert" 2>/dev/null
    fi
    echo "[prod] PROD_TLS_CERT/PROD_TLS_KEY not set: using a self-signed certificate" \
         "(Meta and Twilio need a real one)" >&2
fi
upstreams=()
for i in $(seq 0 $((REPLICAS - 1))); do upstreams+=(--upstream "127.0.0.1:$((RASA_PORT + i))"); done
"$ACTIONS_PY" -m tools.write_nginx "$RUN_DIR/nginx.conf" --run-dir "$RUN_DIR" \
    --port "$PROD_PORT" --bind "$PROD_BIND" --cert "$cert" --key "$key" \
    --rate "${PROD_RATE:-2r/s}" --burst "${PROD_BURST:-20}" "${upstreams[@]}"
nginx -t -q -p "$RUN_DIR/" -c "$RUN_DIR/nginx.conf"

# -- processes ------------------------------------------------------------------------
declare -A pid_of=()
names=(service forwarder)
[ -n "${RABBITMQ_URL:-}" ] && names+=(analytics)
for i in $(seq 0 $((REPLICAS - 1))); do names+=("rasa$i"); done
names+=(nginx)

start() {
    local name="$1" log="$RUN_DIR/$1.log"
    case "$name" in
        service)
            "$ACTIONS_PY" -m teman.service --host 127.0.0.1 --port "$ACTION_PORT" >>"$log" 2>&1 & ;;
        forwarder)
            "$ACTIONS_PY" -m teman.cases.forwarder >>"$log" 2>&1 & ;;
        analytics)  # aggregate counts only, from Rasa's event broker (RABBITMQ_URL)
            "$ACTIONS_PY" -m teman.analytics.consumer >>"$log" 2>&1 & ;;
        rasa*)
            local i="${name#rasa}"
            TEMAN_REPLICA_INDEX="$i" "$RASA_BIN" run --model models/current.tar.gz \
                --enable-api --auth-token "$RASA_API_TOKEN" -i 127.0.0.1 -p "$((RASA_PORT + i))" \
                --credentials "$creds" --endpoints "$endpoints" \
                --logging-config-file "$ROOT/deploy/logging.yml" >>"$log" 2>&1 & ;;
        nginx)
            nginx -p "$RUN_DIR/" -c "$RUN_DIR/nginx.conf" -g "daemon off;" >>"$log" 2>&1 & ;;
    esac
    pid_of[$name]=$!
    echo "${pid_of[$name]}" > "$RUN_DIR/pids/$name.pid"
}

stopping=0
cleanup() {
    trap - INT TERM EXIT
    stopping=1
    local pids=()
    for n in "${!pid_of[@]}"; do pids+=("${pid_of[$n]}"); done
    if [ "${#pids[@]}" -gt 0 ]; then stop_pids prod 60 "${pids[@]}"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for n in "${names[@]}"; do start "$n"; done
echo "[prod] starting the decision service, $REPLICAS Rasa replicas and nginx ..."
if ! wait_for_http "http://127.0.0.1:$ACTION_PORT/health" 900 "${pid_of[service]}"; then
    echo "[prod] decision service did not start; see $RUN_DIR/service.log" >&2
    tail -n 30 "$RUN_DIR/service.log" >&2; exit 1
fi
for i in $(seq 0 $((REPLICAS - 1))); do
    if ! wait_for_http "http://127.0.0.1:$((RASA_PORT + i))/status?token=$RASA_API_TOKEN" 900 \
        "${pid_of[rasa$i]}"; then
        echo "[prod] Rasa replica $i did not start; see $RUN_DIR/rasa$i.log" >&2
        tail -n 30 "$RUN_DIR/rasa$i.log" >&2; exit 1
    fi
done
if ! curl -ksf -o /dev/null "https://127.0.0.1:$PROD_PORT/demo/"; then
    echo "[prod] nginx does not answer on port $PROD_PORT; see $RUN_DIR/nginx-error.log" >&2
    tail -n 30 "$RUN_DIR/nginx-error.log" "$RUN_DIR/nginx.log" >&2 || true; exit 1
fi
cat <<MSG
[prod] set-up and start-up $(elapsed "$t0") s. Teman Migrasi (production mode) is ready:
        demo page:  https://localhost:$PROD_PORT/demo/
        REST chat:  curl -sk https://localhost:$PROD_PORT/webhooks/rest/webhook -d '{"sender":"me","message":"halo"}'
        HTTP API:   http://127.0.0.1:$RASA_PORT.. (this machine only, ?token= from $RUN_DIR/api_token)
        logs:       $RUN_DIR/*.log
      Press Ctrl-C to stop.
MSG
echo "ready" > "$RUN_DIR/ready"

# Supervise: a process that exits is started again (systemd would do this on a server).
while true; do
    for n in "${names[@]}"; do
        if ! kill -0 "${pid_of[$n]}" 2>/dev/null; then
            wait "${pid_of[$n]}" 2>/dev/null || true
            [ "$stopping" = 1 ] && exit 0
            echo "[prod] $n exited; starting it again ($(date -u +%H:%M:%S))" >&2
            start "$n"
        fi
    done
    sleep 0.5
done
