#!/usr/bin/env bash
# Scorer benchmarks: prints a table, writes docs/benchmarks.json and docs/benchmarks.md.
# Ratios are measured in one run (ours against a baseline, interleaved, medians), so they hold
# on a shared machine where absolute rates drift. ~5-10 minutes on 2 cores. Pass --quick for a
# smoke run with fewer rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
"$PY" -m services.bench --out docs "$@"
# Freshness on the multi-process stack (docs/lifecycle.md): adds a section to both files.
# ~10 minutes; FRESHNESS=0 skips it.
if [ "${FRESHNESS:-1}" != "0" ]; then
  "$PY" scripts/freshness_bench.py --out docs
fi
