#!/usr/bin/env bash
# Set up (if needed), build the index and train (only when inputs changed), then run the
# decision service (Rasa's external NLU + action server), the hotline forwarder and the
# Rasa server until Ctrl-C / SIGTERM.
# Ports: RASA_PORT (5005), ACTION_PORT (5055). Everything binds to BIND_HOST (127.0.0.1).
# Rasa's HTTP API is on only when RASA_API_TOKEN is set, and then needs that token.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

RASA_PORT="${RASA_PORT:-5005}"
ACTION_PORT="${ACTION_PORT:-5055}"
BIND_HOST="${BIND_HOST:-127.0.0.1}"
RUN_DIR="${TEMAN_RUN_DIR:-$ROOT/var/run}"
mkdir -p "$RUN_DIR"
rm -f "$RUN_DIR/ready"

t0=$(now)
"$ROOT/scripts/setup_system.sh"
"$ROOT/scripts/setup_env.sh" all
t_setup=$(elapsed "$t0")

t1=$(now)
echo "[run] checking the search index (a first build fine-tunes the encoder: minutes) ..."
"$ACTIONS_PY" -m tools.build_index
t_index=$(elapsed "$t1")

t2=$(now)
"$ROOT/scripts/train.sh"
t_train=$(elapsed "$t2")

# Runtime channel and endpoint files: optional channels only when configured.
creds="$RUN_DIR/credentials.yml"
write_credentials run "$creds"
if { [ -n "${WHATSAPP_APP_SECRET:-}" ] || [ -n "${TWILIO_AUTH_TOKEN:-}" ]; } && [ -z "${SENDER_ID_KEY:-}" ]; then
    echo "[run] WhatsApp/Twilio variables found but SENDER_ID_KEY is not set: those channels stay off" >&2
    echo "[run] (it keys conversations by a hash of the number; see docs/channels.md)" >&2
fi

# Rasa and the decision service share a per-run secret: nothing else on the machine can
# post parse results or run actions.
TEMAN_SERVICE_TOKEN="$("$ACTIONS_PY" -c 'import secrets; print(secrets.token_hex(16))')"
export TEMAN_SERVICE_TOKEN
# The `kb` command publishes knowledge edits through the service's admin endpoint with a
# per-run token it finds in admin.json (owner-only).
TEMAN_ADMIN_TOKEN="$("$ACTIONS_PY" -c 'import secrets; print(secrets.token_hex(16))')"
export TEMAN_ADMIN_TOKEN
(umask 077 && printf '{"url": "http://127.0.0.1:%s", "token": "%s"}\n' "$ACTION_PORT" \
    "$TEMAN_ADMIN_TOKEN" > "$RUN_DIR/admin.json")
# The channels post photos to the service's OCR endpoint (bot/channels/media.py).
export TEMAN_SERVICE_URL="http://127.0.0.1:$ACTION_PORT"
endpoints="$RUN_DIR/endpoints.yml"
"$ACTIONS_PY" -m tools.write_endpoints "$endpoints" \
    --service-url "http://127.0.0.1:$ACTION_PORT" --token "$TEMAN_SERVICE_TOKEN"

api_args=()
if [ -n "${RASA_API_TOKEN:-}" ]; then
    api_args=(--enable-api --auth-token "$RASA_API_TOKEN")
    status_url="http://127.0.0.1:$RASA_PORT/status?token=$RASA_API_TOKEN"
else
    echo "[run] RASA_API_TOKEN not set: Rasa's HTTP API (trackers, events, models) stays off" >&2
    status_url="http://127.0.0.1:$RASA_PORT/"
fi

pids=()
cleanup() {
    trap - INT TERM EXIT
    rm -f "$RUN_DIR/admin.json"
    if [ "${#pids[@]}" -gt 0 ]; then stop_pids run 40 "${pids[@]}"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t3=$(now)
"$ACTIONS_PY" -m teman.service --host "$BIND_HOST" --port "$ACTION_PORT" \
    >"$RUN_DIR/service.log" 2>&1 &
pids+=($!)
service_pid=$!
"$ACTIONS_PY" -m teman.cases.forwarder >"$RUN_DIR/forwarder.log" 2>&1 &
pids+=($!)
# Analytics (aggregate counts only) from Rasa's event broker, when RabbitMQ is configured.
if [ -n "${RABBITMQ_URL:-}" ]; then
    "$ACTIONS_PY" -m teman.analytics.consumer >"$RUN_DIR/analytics.log" 2>&1 &
    pids+=($!)
fi
"$RASA_BIN" run --model models/current.tar.gz "${api_args[@]}" -i "$BIND_HOST" -p "$RASA_PORT" \
    --credentials "$creds" --endpoints "$endpoints" >"$RUN_DIR/rasa.log" 2>&1 &
pids+=($!)
rasa_pid=$!

echo "[run] starting the decision service and Rasa ..."
if ! wait_for_http "http://127.0.0.1:$ACTION_PORT/health" 600 "$service_pid"; then
    echo "[run] decision service did not start; last lines of $RUN_DIR/service.log:" >&2
    tail -n 30 "$RUN_DIR/service.log" >&2
    exit 1
fi
if ! wait_for_http "$status_url" 600 "$rasa_pid"; then
    echo "[run] Rasa server did not start; last lines of $RUN_DIR/rasa.log:" >&2
    tail -n 30 "$RUN_DIR/rasa.log" >&2
    exit 1
fi
t_start=$(elapsed "$t3")

cat <<MSG
[run] set-up ${t_setup} s, index ${t_index} s, training ${t_train} s, start-up ${t_start} s
[run] Teman Migrasi is ready:
        demo page:  http://localhost:$RASA_PORT/demo/
        REST chat:  curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender":"me","message":"halo"}'
        logs:       $RUN_DIR/{rasa,service,forwarder}.log
      Press Ctrl-C to stop.
MSG
echo "ready" > "$RUN_DIR/ready"

# Exit (and stop the others) as soon as any server dies.
while true; do
    for p in "${pids[@]}"; do
        if ! kill -0 "$p" 2>/dev/null; then
            echo "[run] a server exited unexpectedly; see $RUN_DIR/*.log" >&2
            exit 1
        fi
    done
    sleep 1
done
