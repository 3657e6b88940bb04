#!/usr/bin/env bash
# `make up`: a production-like stack on loopback. A single-node Apache Kafka (KRaft), Redis, and every
# service as its own process (two scorers in one consumer group). State, logs and pid files go
# under .run/stack (ignored). Stop it with `make down`; `make up` again resumes on the same data.
#
# Ports can be overridden: KAFKA_PORT INGEST_PORT SCORER_PORTS REVIEW_PORT TRAINER_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=.run/stack
PY=${PY:-.venv/bin/python}
KAFKA_PORT=${KAFKA_PORT:-19092}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
INGEST_PORT=${INGEST_PORT:-8001}
SCORER_PORTS=${SCORER_PORTS:-"8002 8012"}
REVIEW_PORT=${REVIEW_PORT:-8003}
TRAINER_PORT=${TRAINER_PORT:-8004}
mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/kafka"

if ls "$RUN"/pids/*.pid >/dev/null 2>&1; then
  for f in "$RUN"/pids/*.pid; do
    if kill -0 "$(cat "$f")" 2>/dev/null; then
      echo "already running ($(basename "$f" .pid) pid $(cat "$f")); run 'make down' first" >&2
      exit 1
    fi
  done
  rm -f "$RUN"/pids/*.pid
fi

# Kafka: one KRaft node (broker + controller) with its data under .run/stack/kafka; the same
# helper the tests use (tests/fixtures/kafka.py). It returns once a metadata request answers.
if ! bash scripts/kafka.sh up "$RUN/kafka" "$KAFKA_PORT"; then
  echo "Kafka did not start (is port $KAFKA_PORT or $((KAFKA_PORT + 1)) taken? set KAFKA_PORT);" \
       "see $RUN/kafka/node-1/server.log" >&2
  exit 1
fi

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
# One broker: topics cannot have more replicas than brokers (production defaults are 3 and 2).
export ALSTREAM_REPLICATION_FACTOR=${ALSTREAM_REPLICATION_FACTOR:-1}
export ALSTREAM_MIN_INSYNC_REPLICAS=${ALSTREAM_MIN_INSYNC_REPLICAS:-1}
export ALSTREAM_REDIS_URL=${ALSTREAM_REDIS_URL:-"redis://$REDIS_HOST:$REDIS_PORT/0"}
export ALSTREAM_REDIS_PREFIX=${ALSTREAM_REDIS_PREFIX:-"alstream-stack:"}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
# Production mode refuses the dev signing key and auth off (docs/security.md): generate a
# signing key and a bootstrap admin key once per local stack, kept (0600) under $RUN and
# reused, unless the caller exported its own.
SECRETS="$RUN/secrets.env"
if [ ! -f "$SECRETS" ]; then
  (umask 077
   { echo "ALSTREAM_SIGNING_KEY=$("$PY" -m services.common.auth.cli generate)"
     echo "ALSTREAM_BOOTSTRAP_ADMIN_KEY=$("$PY" -m services.common.auth.cli generate)"; } >"$SECRETS")
fi
while IFS='=' read -r key value; do
  [ -n "${!key:-}" ] || export "$key=$value"
done <"$SECRETS"
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
echo "  kafka (KRaft)     127.0.0.1:$KAFKA_PORT   data: $RUN/kafka (pid $(cat "$RUN/kafka/node-1/kafka.pid"))"
echo "  redis             $ALSTREAM_REDIS_URL  prefix: $ALSTREAM_REDIS_PREFIX"
while read -r name port; do
  printf "  %-16s  http://127.0.0.1:%s   (pid %s)\n" "$name" "$port" "$(cat "$RUN/pids/$name.pid")"
done <"$RUN/ports"
echo "  admin key         in $SECRETS (ALSTREAM_BOOTSTRAP_ADMIN_KEY); send it as Authorization: Bearer"
echo "stop it with: make down"
