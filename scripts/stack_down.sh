#!/usr/bin/env bash
# `make down`: stop what `make up` started. Services get SIGTERM (they drain: finish the batch in
# hand and commit), SIGKILL after 20 s. Then the broker; its data stays for the next `make up`.
# With --wipe, also delete .run/stack and the stack's keys in Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=.run/stack
PREFIX=${ALSTREAM_REDIS_PREFIX:-"alstream-stack:"}

pids=()
if ls "$RUN"/pids/*.pid >/dev/null 2>&1; then
  for f in "$RUN"/pids/*.pid; do
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" && pids+=("$pid") && echo "stopping $(basename "$f" .pid) (pid $pid)"
    fi
  done
fi
for _ in $(seq 200); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  ((alive == 0)) && break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null && { echo "pid $pid did not stop; SIGKILL"; kill -KILL "$pid"; }
done
rm -f "$RUN"/pids/*.pid "$RUN/ports"

if [ -d "$RUN/kafka" ]; then
  bash scripts/kafka.sh down "$RUN/kafka"
fi
if [ -f "$RUN/redis/redis.pid" ]; then  # only a Redis that `make up` started itself
  kill -TERM "$(cat "$RUN/redis/redis.pid")" 2>/dev/null || true
fi

if [ "${1:-}" = "--wipe" ]; then
  redis-cli --scan --pattern "${PREFIX}*" | xargs -r -n 500 redis-cli del >/dev/null || true
  rm -rf "$RUN"
  echo "wiped $RUN and Redis keys ${PREFIX}*"
fi
echo "stack stopped"
