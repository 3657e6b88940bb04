#!/usr/bin/env bash
# Proof that /docs and /redoc work with no internet: the ingest service and headless Chromium
# run inside a fresh network namespace (`unshare -n`: only a loopback interface, no route out),
# and Chromium screenshots both pages. Needs root (or user namespaces) and Debian's chromium.
#   bash scripts/docs_offline_screenshot.sh [OUT_DIR]      # default docs/
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs}
mkdir -p "$out" .run
if [ -z "${ALSTREAM_IN_NETNS:-}" ]; then
  exec unshare -n env ALSTREAM_IN_NETNS=1 bash "$0" "$out"
fi
ip link set lo up
port=8101
ALSTREAM_HTTP_PORT=$port HF_HUB_OFFLINE=1 .venv/bin/python -m services.ingest \
  > .run/docs-offline-ingest.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -fsS -o /dev/null "localhost:$port/healthz" 2>/dev/null && break; sleep 0.5; done
if curl -sS -m 3 -o /dev/null https://cdn.jsdelivr.net/ 2>/dev/null; then
  echo "the internet is reachable from here: this would prove nothing" >&2; exit 1
fi
echo "network namespace without internet: the CDN is unreachable"
for page in docs redoc; do
  timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --window-size=1280,1000 --virtual-time-budget=8000 \
    --screenshot="$out/offline-$page.png" "http://127.0.0.1:$port/$page" 2>/dev/null
  echo "wrote $out/offline-$page.png"
done
