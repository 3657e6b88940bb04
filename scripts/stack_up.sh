#!/usr/bin/env bash
# `make up`: a production-like stack on loopback. noida-db as the Kafka broker, Redis, and every
# service as its own process (two scorers in one consumer group). State, logs and pid files go
# under .run/stack (ignored). Stop it with `make down`; `make up` again resumes on the same data.
#
# Ports can be overridden: KAFKA_PORT INGEST_PORT SCORER_PORTS REVIEW_PORT TRAINER_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=.run/stack
PY=${PY:-.venv/bin/python}
NOIDA=${NOIDA:-.venv/bin/noida-db}
KAFKA_PORT=${KAFKA_PORT:-19092}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
INGEST_PORT=${INGEST_PORT:-8001}
SCORER_PORTS=${SCORER_PORTS:-"8002 8012"}
REVIEW_PORT=${REVIEW_PORT:-8003}
TRAINER_PORT=${TRAINER_PORT:-8004}
mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/noida"

if ls "$RUN"/pids/*.pid >/dev/null 2>&1; then
  for f in "$RUN"/pids/*.pid; do
    if kill -0 "$(cat "$f")" 2>/dev/null; then
      echo "already running ($(basename "$f" .pid) pid $(cat "$f")); run 'make down' first" >&2
      exit 1
    fi
  done
  rm -f "$RUN"/pids/*.pid
fi

# Kafka: noida-db with only its Kafka service, data kept under .run/stack/noida.
# (noida-db prints a harmless GLIBC warning on some hosts; it is filtered out.)
if ! out=$("$NOIDA" up --data-dir "$RUN/noida" --only kafka --kafka-port "$KAFKA_PORT" 2>&1); then
  echo "$out" | grep -v GLIBC >&2
  echo "noida-db did not start (is port $KAFKA_PORT taken? set KAFKA_PORT)" >&2
  exit 1
fi
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null && break
  sleep 0.1
done
(echo > "/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null \
  || { echo "noida-db did not open port $KAFKA_PORT; see $RUN/noida/noida.log" >&2; exit 1; }

# Redis: use the one on REDIS_PORT, start a throwaway one if nothing answers.
if ! redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "no Redis on $REDIS_HOST:$REDIS_PORT; starting one (AOF in $RUN/redis)"
  mkdir -p "$RUN/redis"
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" \
    --appendonly yes --appendfsync everysec --dir "$PWD/$RUN/redis" \
    --pidfile "$PWD/$RUN/redis/redis.pid" --logfile "$PWD/$RUN/redis/redis.log"
  for _ in $(seq 50); do redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null \
  || { echo "Redis on $REDIS_HOST:$REDIS_PORT does not answer" >&2; exit 1; }

export ALSTREAM_BUS=kafka ALSTREAM_STORE=redis
export ALSTREAM_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
# noida-db's group coordinator mishandles crashed members: coordinate through Redis leases.
export ALSTREAM_KAFKA_ASSIGNMENT=${ALSTREAM_KAFKA_ASSIGNMENT:-leases}
# noida-db answers an empty fetch at once instead of holding it: without a pause between
# fetches every idle consumer spins a core (docs/production.md).
export ALSTREAM_KAFKA_IDLE_BACKOFF_MS=${ALSTREAM_KAFKA_IDLE_BACKOFF_MS:-100}
export ALSTREAM_REDIS_URL=${ALSTREAM_REDIS_URL:-"redis://$REDIS_HOST:$REDIS_PORT/0"}
export ALSTREAM_REDIS_PREFIX=${ALSTREAM_REDIS_PREFIX:-"alstream-stack:"}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
# Two scorers share two cores with everything else: one intra-op thread each.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

start() {  # name module port
  local name=$1 module=$2 port=$3
  ALSTREAM_INSTANCE_ID="$name" ALSTREAM_HTTP_PORT="$port" \
    nohup "$PY" -m "$module" >>"$RUN/logs/$name.log" 2>&1 &
  echo $! >"$RUN/pids/$name.pid"
  echo "$name $port" >>"$RUN/ports"
}

: >"$RUN/ports"
start ingest services.ingest "$INGEST_PORT"
i=0
for port in $SCORER_PORTS; do
  start "scorer-$i" services.scorer "$port"
  i=$((i + 1))
done
start review-api services.review_api "$REVIEW_PORT"
start trainer services.trainer "$TRAINER_PORT"

echo "waiting for the services to answer /healthz (the scorers load the model first)..."
deadline=$((SECONDS + 180))
while read -r name port; do
  until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$RUN/pids/$name.pid")" 2>/dev/null; then
      echo "$name exited; last lines of $RUN/logs/$name.log:" >&2
      tail -n 20 "$RUN/logs/$name.log" >&2
      exit 1
    fi
    if ((SECONDS > deadline)); then echo "$name not healthy after 180 s" >&2; exit 1; fi
    sleep 0.5
  done
done <"$RUN/ports"

echo
echo "alstream stack is up (logs: $RUN/logs, pids: $RUN/pids)"
echo "  kafka (noida-db)  127.0.0.1:$KAFKA_PORT   data: $RUN/noida"
echo "  redis             $ALSTREAM_REDIS_URL  prefix: $ALSTREAM_REDIS_PREFIX"
while read -r name port; do
  printf "  %-16s  http://127.0.0.1:%s   (pid %s)\n" "$name" "$port" "$(cat "$RUN/pids/$name.pid")"
done <"$RUN/ports"
echo "stop it with: make down"
