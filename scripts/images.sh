#!/usr/bin/env bash
# make images: lint the Dockerfile, then build the CPU image (all services) and the GPU scorer
# variant where a Docker engine answers. Without one (a client alone, or no docker), it says
# so and stops after the lint: nothing is built.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-alstream}
VERSION=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)}
PYTHON_BASE=${PYTHON_BASE:-python:3.11-slim-bookworm}
HADOLINT=${HADOLINT:-.venv/bin/hadolint}

echo "== hadolint deploy/docker/Dockerfile"
"$HADOLINT" deploy/docker/Dockerfile
echo "   clean"

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
    echo "== no Docker engine here: linted only; ${IMAGE}:${VERSION} and ${IMAGE}:${VERSION}-gpu were NOT built"
    exit 0
fi

# Pin the base by digest for this build: the tag moves with Debian and Python patch releases.
docker pull --quiet "$PYTHON_BASE" >/dev/null
BASE_PINNED=$(docker inspect --format '{{index .RepoDigests 0}}' "$PYTHON_BASE")
echo "== base ${BASE_PINNED}"

for variant in cpu gpu; do
    tag="${IMAGE}:${VERSION}"
    [ "$variant" = gpu ] && tag="${tag}-gpu"
    echo "== building ${tag}"
    docker build -f deploy/docker/Dockerfile \
        --build-arg "PYTHON_BASE=${BASE_PINNED}" \
        --build-arg "VARIANT=${variant}" \
        --build-arg "VERSION=${VERSION}" \
        -t "$tag" .
done
docker image ls "${IMAGE}"
