#!/usr/bin/env bash
# Production-mode benchmark, printed (no pass/fail): BENCH_CONVERSATIONS (200) conversations
# at once x BENCH_TURNS (10) messages each, over HTTPS through nginx, to two Rasa replicas
# and then to one (same decision service), and to a stock `rasa init` assistant in the same
# run; throughput, latency p50/p95/max, errors and the resident memory of every process.
# Needs the machine's PostgreSQL, Redis and RabbitMQ (a private database, key prefix and
# queues per run, removed at the end). Figures also in var/bench/prod.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
CONV="${BENCH_CONVERSATIONS:-200}"
SETS="${BENCH_PROD_SETS:-2 1 stock}"  # what to measure: replica counts and/or "stock"
TURNS="${BENCH_TURNS:-10}"
BENCH_DIR="$ROOT/var/bench"
results="$BENCH_DIR/prod.json"
mkdir -p "$BENCH_DIR"
rm -f "$results"
tag="b$(date +%s)$RANDOM"
PG_ADMIN="${TEST_POSTGRES_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/test}"
export DATABASE_URL="${PG_ADMIN%/*}/teman_bench_$tag"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export RABBITMQ_URL="${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/}"
export TEMAN_REDIS_PREFIX="$tag" TEMAN_INBOUND_QUEUE="$tag.inbound" RABBITMQ_QUEUE="$tag.events" \
    RABBITMQ_EXCHANGE="$tag-exchange" INBOUND_SHARDS=4
# The load comes from one address: lift the per-address limit for the measurement only.
export PROD_RATE="100000r/s" PROD_BURST="100000" PROD_BIND=127.0.0.1
unset CASES_DATABASE_URL TEMAN_TRACKER_STORE_URL

pids=()
stop_all() {
    [ "${#pids[@]}" -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    wait 2>/dev/null || true
    pids=()
}
cleanup() {
    stop_all
    "$ACTIONS_PY" - "$tag" <<'PY' || true
import sys, pika, redis, sqlalchemy as sa, os
from teman.cases.config import normalize_database_url
tag = sys.argv[1]
admin = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
e = sa.create_engine(normalize_database_url(admin), isolation_level="AUTOCOMMIT")
with e.connect() as c:
    c.exec_driver_sql(f'DROP DATABASE IF EXISTS "teman_bench_{tag}" WITH (FORCE)')
r = redis.Redis.from_url(os.environ["REDIS_URL"])
for k in r.scan_iter(match=f"{tag}:*", count=1000):
    r.delete(k)
ch = pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"])).channel()
for q in [f"{tag}.events"] + [f"{tag}.inbound.{c}.{i}" for c in ("whatsapp", "twilio_whatsapp") for i in range(4)]:
    ch.queue_delete(q)
ch.exchange_delete(f"{tag}-exchange")
PY
}
trap cleanup EXIT INT TERM

rss_line() {  # $1 = run dir
    "$ACTIONS_PY" - "$1" <<'PY'
import sys
from pathlib import Path
from tools.evaluation.load import rss_mb
run = Path(sys.argv[1])
parts, total = [], 0.0
for pid_file in sorted((run / "pids").glob("*.pid")):
    mb = rss_mb([int(pid_file.read_text())])
    total += mb
    parts.append(f"{pid_file.stem} {mb:.0f}")
print(f"    RSS MB: {', '.join(parts)}; total {total:.0f}")
PY
}

run_prod_with() {  # $1 = replicas
    local replicas="$1" run="$BENCH_DIR/prod-$1"
    rm -rf "$run"
    local port=$((20000 + RANDOM % 20000))
    PROD_REPLICAS="$replicas" PROD_PORT="$port" RASA_PORT=$((port + 10)) ACTION_PORT=$((port + 5)) \
        TEMAN_RUN_DIR="$run" "$ROOT/scripts/run_prod.sh" >"$BENCH_DIR/prod-$1.out" 2>&1 &
    pids+=($!)
    while [ ! -f "$run/ready" ]; do
        kill -0 "${pids[-1]}" 2>/dev/null || { echo "prod mode did not start: $BENCH_DIR/prod-$1.out"; exit 1; }
        sleep 1
    done
    "$ACTIONS_PY" -m tools.evaluation.load --url "https://127.0.0.1:$port" \
        --cafile "$run/tls/selfsigned.crt" --label "prod, $replicas replica(s)" \
        --conversations "$CONV" --turns "$TURNS" --json-out "$results"
    rss_line "$run"
    stop_all
}

echo "Production mode: $CONV conversations at once x $TURNS messages, HTTPS through nginx"
for set in $SETS; do
    [ "$set" != stock ] && run_prod_with "$set"
done
[[ " $SETS " == *" stock "* ]] || exit 0

stock="$BENCH_DIR/stock"
if ! ls "$stock"/models/*.tar.gz >/dev/null 2>&1; then
    rm -rf "$stock" && mkdir -p "$stock"
    echo "  training stock rasa init once (a few minutes) ..."
    (cd "$stock" && "$RASA_BIN" init --no-prompt --init-dir . >"$BENCH_DIR/stock-init.log" 2>&1)
fi
stock_model="$(ls -t "$stock"/models/*.tar.gz | head -n1)"
port=$((20000 + RANDOM % 20000))
(cd "$stock" && exec "$RASA_BIN" run --model "$stock_model" -i 127.0.0.1 -p "$port" >"$BENCH_DIR/stock-run.log" 2>&1) &
pids+=($!)
wait_for_http "http://127.0.0.1:$port/" 300 "${pids[-1]}"
"$ACTIONS_PY" -m tools.evaluation.load --url "http://127.0.0.1:$port" --label "stock rasa init (1 process)" \
    --conversations "$CONV" --turns "$TURNS" --pids "${pids[-1]}" --json-out "$results"
stop_all
