#!/usr/bin/env bash
# Set up (if needed), build the index and train (only when inputs changed), then run the
# action server, the hotline forwarder and the Rasa server until Ctrl-C / SIGTERM.
# Ports: RASA_PORT (5005), ACTION_PORT (5055). Everything binds to BIND_HOST (127.0.0.1).
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
"$ROOT/scripts/setup_env.sh" all
t_setup=$(elapsed "$t0")

t1=$(now)
"$ACTIONS_PY" -m actions.retrieval.build
t_index=$(elapsed "$t1")

t2=$(now)
"$ROOT/scripts/train.sh"
t_train=$(elapsed "$t2")

# Runtime channel and endpoint files: optional channels only when configured.
creds="$RUN_DIR/credentials.yml"
{
    echo "rest:"
    echo "bot.channels.demo_page.DemoPageInput: {}"
    if [ -n "${WHATSAPP_VERIFY_TOKEN:-}" ] && [ -n "${WHATSAPP_APP_SECRET:-}" ] \
        && [ -n "${WHATSAPP_ACCESS_TOKEN:-}" ] && [ -n "${WHATSAPP_PHONE_NUMBER_ID:-}" ]; then
        echo "bot.channels.whatsapp.WhatsAppInput: {}"
        echo "[run] WhatsApp Cloud API channel enabled" >&2
    fi
    if [ -n "${TWILIO_ACCOUNT_SID:-}" ] && [ -n "${TWILIO_AUTH_TOKEN:-}" ] && [ -n "${TWILIO_WHATSAPP_NUMBER:-}" ]; then
        echo "bot.channels.twilio_signed.TwilioSignedInput: {}"
        echo "[run] Twilio WhatsApp channel enabled" >&2
    fi
} > "$creds"
endpoints="$RUN_DIR/endpoints.yml"
printf 'action_endpoint:\n  url: "http://127.0.0.1:%s/webhook"\n' "$ACTION_PORT" > "$endpoints"

pids=()
cleanup() {
    trap - INT TERM EXIT
    if [ "${#pids[@]}" -gt 0 ]; then
        echo "[run] stopping ..." >&2
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in $(seq 1 40); do
            alive=0
            for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
            [ "$alive" = 0 ] && break
            sleep 0.25
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
        echo "[run] stopped" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t3=$(now)
SANIC_HOST="$BIND_HOST" "$ACTIONS_PY" -m rasa_sdk --actions actions --port "$ACTION_PORT" \
    >"$RUN_DIR/actions.log" 2>&1 &
pids+=($!)
action_pid=$!
"$ACTIONS_PY" -m actions.cases.forwarder >"$RUN_DIR/forwarder.log" 2>&1 &
pids+=($!)
"$RASA_BIN" run --model models/current.tar.gz --enable-api -i "$BIND_HOST" -p "$RASA_PORT" \
    --credentials "$creds" --endpoints "$endpoints" >"$RUN_DIR/rasa.log" 2>&1 &
pids+=($!)
rasa_pid=$!

if ! wait_for_http "http://127.0.0.1:$ACTION_PORT/health" 300 "$action_pid"; then
    echo "[run] action server did not start; last lines of $RUN_DIR/actions.log:" >&2
    tail -n 30 "$RUN_DIR/actions.log" >&2
    exit 1
fi
if ! wait_for_http "http://127.0.0.1:$RASA_PORT/status" 300 "$rasa_pid"; then
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
        logs:       $RUN_DIR/{rasa,actions,forwarder}.log
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
