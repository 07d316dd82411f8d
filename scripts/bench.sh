#!/usr/bin/env bash
# Benchmarks, printed (no pass/fail): retrieval latency and build time, then throughput and
# memory of this bot next to a stock `rasa init` assistant measured in the same run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
BENCH_DIR="$ROOT/var/bench"
MESSAGES="${BENCH_MESSAGES:-300}"
CONCURRENCY="${BENCH_CONCURRENCY:-8}"
mkdir -p "$BENCH_DIR"

"$ACTIONS_PY" -m actions.evaluation.bench 2>/dev/null

pids=()
stop_all() { [ "${#pids[@]}" -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; pids=(); }
trap stop_all EXIT INT TERM

echo "Rasa throughput and memory (REST, $MESSAGES messages, concurrency $CONCURRENCY):"
# Stock Rasa: the example assistant of `rasa init`, trained once and cached.
stock="$BENCH_DIR/stock"
if ! ls "$stock"/models/*.tar.gz >/dev/null 2>&1; then
    rm -rf "$stock" && mkdir -p "$stock"
    start=$(now)
    # `rasa init --no-prompt` creates the example assistant and trains it.
    (cd "$stock" && "$RASA_BIN" init --no-prompt --init-dir . >"$BENCH_DIR/stock-init.log" 2>&1)
    echo "  stock rasa init + train: $(elapsed "$start") s"
fi
stock_model="$(ls -t "$stock"/models/*.tar.gz | head -n1)"
port=$((20000 + RANDOM % 20000))
(cd "$stock" && exec "$RASA_BIN" run --model "$stock_model" -i 127.0.0.1 -p "$port" >"$BENCH_DIR/stock-run.log" 2>&1) &
pids+=($!)
wait_for_http "http://127.0.0.1:$port/" 300 "${pids[0]}"
"$ACTIONS_PY" -m actions.evaluation.load --url "http://127.0.0.1:$port" --label "stock Rasa (rasa init)" \
    --messages "$MESSAGES" --concurrency "$CONCURRENCY" --pids "${pids[0]}"
stop_all

# This bot: Rasa server + action server, started the way `make run` starts them.
rport=$((20000 + RANDOM % 20000)); aport=$((rport + 1))
RASA_PORT=$rport ACTION_PORT=$aport TEMAN_RUN_DIR="$BENCH_DIR/run" "$ROOT/scripts/run_bot.sh" \
    >"$BENCH_DIR/run.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 900); do [ -f "$BENCH_DIR/run/ready" ] && break; sleep 1; done
rm -f "$BENCH_DIR/run/ready"
rasa_pid=$(pgrep -f -- "-p $rport " | head -n1)
action_pid=$(pgrep -f -- "--port $aport" | head -n1)
"$ACTIONS_PY" -m actions.evaluation.load --url "http://127.0.0.1:$rport" --label "Teman Migrasi (Rasa+actions)" \
    --messages "$MESSAGES" --concurrency "$CONCURRENCY" --pids "$rasa_pid,$action_pid"
"$ACTIONS_PY" - "$rasa_pid" "$action_pid" <<'PY'
import sys
from actions.evaluation.load import rss_mb
print(f"  memory: Rasa server {rss_mb([int(sys.argv[1])]):.0f} MB, action server {rss_mb([int(sys.argv[2])]):.0f} MB")
PY
