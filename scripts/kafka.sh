#!/usr/bin/env bash
# Apache Kafka (KRaft) for alstream's tests and `make up`.
#
#   scripts/kafka.sh fetch             resolve the broker jars (scripts/kafka/pom.xml) from Maven
#                                      Central into .cache/kafka/<version>/libs; idempotent
#   scripts/kafka.sh up DIR [PORT]     start a single-node broker with its data under DIR
#                                      (formatted on first use; default port 19092, controller
#                                      PORT+1); returns once a metadata request answers
#   scripts/kafka.sh down DIR          stop it (SIGTERM: controlled shutdown; SIGKILL after 30 s)
#   scripts/kafka.sh measure           start-up time and memory of one broker and of 3 (docs)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' scripts/kafka/pom.xml)
LIBS=.cache/kafka/$VERSION/libs
PY=${PY:-.venv/bin/python}

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "kafka.sh: '$1' is missing: $2" >&2; exit 1; }
}

case "${1:-}" in
  fetch)
    if [ -f "$LIBS/kafka_2.13-$VERSION.jar" ] && [ -f "$LIBS/.complete" ]; then exit 0; fi
    need java "install a Java 17 runtime (apt-get install -y openjdk-17-jre-headless)"
    need mvn "install Maven (apt-get install -y maven)"
    tmp="$LIBS.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$LIBS")"
    echo "fetching Apache Kafka $VERSION from Maven Central into $LIBS"
    # --strict-checksums: a jar whose checksum does not match fails the build.
    mvn -B -q --strict-checksums -f scripts/kafka/pom.xml dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$PWD/$tmp"
    touch "$tmp/.complete"
    rm -rf "$LIBS" && mv "$tmp" "$LIBS"   # whole or nothing: a killed fetch leaves no half
    ;;
  up)
    dir=${2:?usage: kafka.sh up DIR [PORT]}
    port=${3:-19092}
    pid=$(cat "$dir/node-1/kafka.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && grep -q kafka.Kafka "/proc/$pid/cmdline" 2>/dev/null; then
      echo "kafka already running (pid $pid, data $dir)"
      exit 0
    fi
    bash "$0" fetch
    "$PY" - "$dir" "$port" <<'PYEOF'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.fixtures.kafka import KafkaCluster, KafkaNode
base, port = Path(sys.argv[1]).resolve(), int(sys.argv[2])
node = KafkaNode(1, base / "node-1", port=port, controller_port=port + 1,
                 die_with_parent=False)
cluster = KafkaCluster(1, base, owns_dir=False, die_with_parent=False, nodes=[node])
cluster.start()
print(f"kafka {node.bootstrap} ready (pid {node.pid()}, data {base})")
PYEOF
    ;;
  down)
    dir=${2:?usage: kafka.sh down DIR}
    pidfile="$dir/node-1/kafka.pid"
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null && grep -q kafka.Kafka "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { echo "kafka pid $pid did not stop; SIGKILL"; kill -KILL "$pid"; }
    fi
    rm -f "$pidfile"
    ;;
  measure)
    bash "$0" fetch
    "$PY" - <<'PYEOF'
import sys, time
sys.path.insert(0, ".")
from tests.fixtures.kafka import KafkaCluster
for size in (1, 3):
    cluster = KafkaCluster(size)
    t0 = time.monotonic()
    cluster.start()  # format + JVM start + a metadata request listing every broker
    ready = time.monotonic() - t0
    time.sleep(5)
    rss = [round(n.rss_mb() or 0) for n in cluster.nodes]
    t0 = time.monotonic()
    cluster.close()
    print(f"{size} node(s): ready after {ready:.1f} s (format + start), RSS {rss} MB after "
          f"5 s idle, stopped in {time.monotonic() - t0:.1f} s", flush=True)
PYEOF
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
