# Shared shell helpers for the project's scripts (sourced, not executed).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_HOME="${TEMAN_VENV_HOME:-$HOME/.cache/teman-migrasi}"
RASA_PY="$VENV_HOME/rasa/bin/python"
ACTIONS_PY="$VENV_HOME/actions/bin/python"
RASA_BIN="$VENV_HOME/rasa/bin/rasa"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Nothing may be fetched from a model hub at run time.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export SQLALCHEMY_SILENCE_UBER_WARNING=1

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Fingerprint of every input of the Rasa model (config, domain, rules and stories).
rasa_inputs_fingerprint() {
    (cd "$ROOT" && find config.yml bot/domain.yml bot/data \
        -type f -name '*.yml' 2>/dev/null | LC_ALL=C sort \
        | xargs cat | sha256sum | cut -c1-16)
}

wait_for_http() {
    # $1 = url, $2 = timeout seconds, $3 = pid that must stay alive
    local url="$1" timeout="$2" pid="${3:-}" start
    start=$(date +%s)
    while true; do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        if [ $(( $(date +%s) - start )) -ge "$timeout" ]; then return 1; fi
        sleep 0.5
    done
}

# stop_pids TAG TRIES PID...: TERM the processes, wait up to TRIES quarter-seconds for them
# to exit, then KILL what is left.
stop_pids() {
    local tag="$1" tries="$2" alive p
    shift 2
    [ "$#" -gt 0 ] || return 0
    echo "[$tag] stopping ..." >&2
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 1 "$tries"); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.25
    done
    kill -KILL "$@" 2>/dev/null || true
    wait 2>/dev/null || true
    echo "[$tag] stopped" >&2
}

# write_credentials TAG FILE: Rasa's credentials file with the REST and demo-page channels,
# and WhatsApp / Twilio only when all their variables (and SENDER_ID_KEY) are set.
write_credentials() {
    local tag="$1" file="$2"
    {
        echo "bot.channels.rest.SafeRestInput: {}"
        echo "bot.channels.demo_page.DemoPageInput: {}"
        # The messaging channels key trackers by a keyed hash of the number: SENDER_ID_KEY.
        if [ -n "${WHATSAPP_VERIFY_TOKEN:-}" ] && [ -n "${WHATSAPP_APP_SECRET:-}" ] \
            && [ -n "${SENDER_ID_KEY:-}" ] && [ -n "${WHATSAPP_ACCESS_TOKEN:-}" ] \
            && [ -n "${WHATSAPP_PHONE_NUMBER_ID:-}" ]; then
            echo "bot.channels.whatsapp.WhatsAppInput: {}"
            echo "[$tag] WhatsApp Cloud API channel enabled" >&2
        fi
        if [ -n "${TWILIO_ACCOUNT_SID:-}" ] && [ -n "${TWILIO_AUTH_TOKEN:-}" ] \
            && [ -n "${TWILIO_WHATSAPP_NUMBER:-}" ] && [ -n "${SENDER_ID_KEY:-}" ]; then
            echo "bot.channels.twilio_signed.TwilioSignedInput: {}"
            echo "[$tag] Twilio WhatsApp channel enabled" >&2
        fi
    } > "$file"
}
