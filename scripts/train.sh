#!/usr/bin/env bash
# Train the Rasa model (rules and forms only: the NLU pipeline is empty) when one of its
# inputs changed; the newest model is models/current.tar.gz. Knowledge-base edits never
# retrain Rasa: they change only the decision service's index.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

mkdir -p models
# Concurrent runs (two `make run`s, a test) wait for one another.
exec 9>models/.train.lock
flock 9
fp="$(rasa_inputs_fingerprint)"
model="models/teman-$fp.tar.gz"
if [ -f "$model" ]; then
    echo "[train] Rasa model up to date ($model)"
else
    start=$(now)
    echo "[train] training the Rasa model (rules and forms; about a minute) ..."
    "$RASA_BIN" train --config config.yml --domain bot/domain.yml --data bot/data \
        --out models --fixed-model-name "teman-$fp" --force --quiet >"models/train-$fp.log" 2>&1 \
        || { echo "[train] FAILED, see models/train-$fp.log" >&2; tail -n 30 "models/train-$fp.log" >&2; exit 1; }
    echo "[train] trained in $(elapsed "$start") s"
    # Keep the three newest models.
    ls -1t models/teman-*.tar.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
fi
ln -sfn "$(basename "$model")" models/current.tar.gz
