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
