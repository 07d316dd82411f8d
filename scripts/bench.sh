#!/usr/bin/env bash
# Benchmarks, printed (no pass/fail): decision latency and build/load times, then
# throughput, latency and memory of this bot next to a stock `rasa init` assistant measured
# in the same run, and the ratios the project aims for.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
BENCH_DIR="$ROOT/var/bench"
MESSAGES="${BENCH_MESSAGES:-400}"
CONCURRENCY="${BENCH_CONCURRENCY:-20}"
mkdir -p "$BENCH_DIR"
results="$BENCH_DIR/load.json"
rm -f "$results"

"$ACTIONS_PY" -m tools.evaluation.bench 2>/dev/null
"$ACTIONS_PY" -m tools.evaluation.bench_kb ${BENCH_FINETUNE:+--finetune} 2>/dev/null

pids=()
stop_all() { [ "${#pids[@]}" -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; pids=(); }
trap stop_all EXIT INT TERM

echo "Throughput and memory over REST ($MESSAGES messages, $CONCURRENCY concurrent conversations):"
# Stock Rasa: the example assistant of `rasa init` (DIET + TED per message), trained once.
stock="$BENCH_DIR/stock"
if ! ls "$stock"/models/*.tar.gz >/dev/null 2>&1; then
    rm -rf "$stock" && mkdir -p "$stock"
    start=$(now)
    echo "  training stock rasa init once (a few minutes) ..."
    (cd "$stock" && "$RASA_BIN" init --no-prompt --init-dir . >"$BENCH_DIR/stock-init.log" 2>&1)
    echo "  stock rasa init + train: $(elapsed "$start") s"
fi
stock_model="$(ls -t "$stock"/models/*.tar.gz | head -n1)"
port=$((20000 + RANDOM % 20000))
(cd "$stock" && exec "$RASA_BIN" run --model "$stock_model" -i 127.0.0.1 -p "$port" >"$BENCH_DIR/stock-run.log" 2>&1) &
pids+=($!)
wait_for_http "http://127.0.0.1:$port/" 300 "${pids[0]}"
"$ACTIONS_PY" -m tools.evaluation.load --url "http://127.0.0.1:$port" --label "stock" \
    --messages "$MESSAGES" --concurrency "$CONCURRENCY" --pids "${pids[0]}" --json-out "$results"
stop_all

# This bot: Rasa server + decision service, started the way `make run` starts them.
rport=$((20000 + RANDOM % 20000)); aport=$((rport + 1))
RASA_PORT=$rport ACTION_PORT=$aport TEMAN_RUN_DIR="$BENCH_DIR/run" "$ROOT/scripts/run_bot.sh" \
    >"$BENCH_DIR/run.log" 2>&1 &
pids+=($!)
while [ ! -f "$BENCH_DIR/run/ready" ]; do
    kill -0 "${pids[0]}" 2>/dev/null || { echo "bot did not start: $BENCH_DIR/run.log"; exit 1; }
    sleep 1
done
rm -f "$BENCH_DIR/run/ready"
rasa_pid=$(pgrep -f -- "-p $rport " | head -n1)
service_pid=$(pgrep -f -- "--port $aport" | head -n1)
"$ACTIONS_PY" -m tools.evaluation.load --url "http://127.0.0.1:$rport" --label "teman" \
    --messages "$MESSAGES" --concurrency "$CONCURRENCY" --pids "$rasa_pid,$service_pid" \
    --json-out "$results"
"$ACTIONS_PY" - "$rasa_pid" "$service_pid" "$results" <<'PY'
import json, sys
from tools.evaluation.load import rss_mb
rasa, service = rss_mb([int(sys.argv[1])]), rss_mb([int(sys.argv[2])])
print(f"  memory: Rasa server {rasa:.0f} MB, decision service {service:.0f} MB, "
      f"together {rasa + service:.0f} MB (goal <= 1536)")
r = json.load(open(sys.argv[3]))
ours, stock = r["teman"], r["stock"]
print(f"  ours / stock: throughput {ours['msg_per_s'] / stock['msg_per_s']:.2f}x (goal >= 1.5), "
      f"p95 {ours['p95_ms'] / stock['p95_ms']:.2f}x (goal <= 0.7), "
      f"memory {ours['rss_mb'] / stock['rss_mb']:.2f}x")
PY
