#!/usr/bin/env bash
# Full label-saving comparison (make eval): every strategy at 1/2/5/10/20 % budgets against
# random, full supervision and River's EntropySampler on 20 Newsgroups and Reuters R8, three
# seeds; the softmax-model ablation; the scripted drift scenario on 20NG.
# Writes .cache/eval/*.json and docs/eval-*.png. The first run embeds ~21k texts on the CPU
# (tens of minutes on 2 cores; cached under .cache/embeddings), later runs take minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${EVAL_OUT:-.cache/eval}
SEEDS=${EVAL_SEEDS:-3}
# The replay is many tiny matrix products: BLAS threads only add contention.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1

"$PY" -m services.eval.datasets --out-dir "$OUT" 20ng r8
for ds in r8 20ng; do
  "$PY" -m services.eval --stream "$OUT/$ds-stream.jsonl" --holdout "$OUT/$ds-holdout.jsonl" \
    --budgets 0.01,0.02,0.05,0.1,0.2 --seeds "$SEEDS" \
    --json "$OUT/$ds-results.json" --plot "docs/eval-$ds.png" \
    --title "$ds: holdout accuracy vs labels used ($SEEDS seeds)"
  # Ablation: the same comparison with the softmax model (River's SoftmaxRegression).
  "$PY" -m services.eval --stream "$OUT/$ds-stream.jsonl" --holdout "$OUT/$ds-holdout.jsonl" \
    --budgets 0.05,0.1 --strategies default,random,full --seeds "$SEEDS" --model softmax \
    --json "$OUT/$ds-softmax.json" --quiet
done
"$PY" -m services.eval.drift --stream "$OUT/20ng-stream.jsonl" \
  --holdout "$OUT/20ng-holdout.jsonl" --seeds "$SEEDS" --budgets 0.05,0.1 \
  --json "$OUT/drift.json" --plot docs/eval-drift.png
# Without the coupling but with as many labels as the coupling ended up using.
"$PY" -m services.eval.drift --stream "$OUT/20ng-stream.jsonl" \
  --holdout "$OUT/20ng-holdout.jsonl" --seeds "$SEEDS" --budgets 0.056,0.112 \
  --strategies selector_nodrift --json "$OUT/drift-matched.json" --quiet
# Tables for docs (docs/evaluation.md discusses them).
"$PY" -m services.eval.report "$OUT/r8-results.json" "$OUT/20ng-results.json" \
  "$OUT/r8-softmax.json" "$OUT/20ng-softmax.json" "$OUT/drift.json" "$OUT/drift-matched.json" \
  | tee docs/evaluation-tables.md
