#!/usr/bin/env bash
# Train the Rasa model only when one of its inputs changed; the newest model is models/current.tar.gz.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

mkdir -p models
# Concurrent runs (two `make run`s, a test) wait for one another.
exec 9>models/.train.lock
flock 9
"$RASA_PY" -m bot.nlu.knowledge_examples >/dev/null
fp="$(rasa_inputs_fingerprint)"
model="models/teman-$fp.tar.gz"
mkdir -p models
if [ -f "$model" ]; then
    echo "[train] model up to date ($model)"
else
    start=$(now)
    echo "[train] training Rasa model (inputs changed) ..."
    "$RASA_BIN" train --config config.yml --domain bot/domain.yml --data bot/data \
        --out models --fixed-model-name "teman-$fp" --force --quiet >"models/train-$fp.log" 2>&1 \
        || { echo "[train] FAILED, see models/train-$fp.log" >&2; tail -n 30 "models/train-$fp.log" >&2; exit 1; }
    echo "[train] trained in $(elapsed "$start") s"
    # Keep the three newest models.
    ls -1t models/teman-*.tar.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
fi
ln -sfn "$(basename "$model")" models/current.tar.gz
