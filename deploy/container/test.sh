#!/usr/bin/env bash
# Builds the CPU image from this checkout and checks it as a user would: its
# server, run from the image, answers the host's `nio` CLI (info, health, one
# optimize) on a loopback port, and the image runs as a non-root user with a
# health check. No registry is reachable here, so the base image is made
# locally (mmdebstrap minbase bookworm, imported into podman) unless BASE names
# one; `podman run` does not work here, so the server runs with `buildah run
# --isolation chroot` (the host's network: loopback is shared).
#   deploy/container/test.sh [NIO_CLI]     # default build/client/nio
# Env: BASE (an image to build on; default: localhost/nio-base:bookworm, made
# once and kept), IMAGE (default localhost/nio-server:test), JOBS.
set -euo pipefail
cd "$(dirname "$0")/../.."
nio=${1:-build/client/nio}
image=${IMAGE:-localhost/nio-server:test}
base=${BASE:-localhost/nio-base:bookworm}

for tool in podman buildah mmdebstrap; do
  command -v "$tool" >/dev/null || {
    echo "container test: no $tool (deploy/install_deps.sh installs it)" >&2; exit 1; }
done
[ -x "$nio" ] || { echo "container test: no CLI at $nio (build it first)" >&2; exit 1; }

if [ -z "${BASE:-}" ] && ! podman image exists "$base"; then
  echo "== base image $base: mmdebstrap --variant=minbase bookworm"
  mmdebstrap --variant=minbase --quiet bookworm - | podman import - "$base" >/dev/null
fi

echo "== podman build $image (BASE=$base)"
start=$(date +%s)
podman build --isolation chroot --format docker --build-arg BASE="$base" \
  ${JOBS:+--build-arg JOBS="$JOBS"} -f deploy/container/Containerfile -t "$image" .
echo "built in $(($(date +%s) - start)) s"

fail() { echo "container test: FAIL: $*" >&2; exit 1; }

# What the image says about itself.
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[ "$user" = "10001:10001" ] || fail "the image runs as '$user', not 10001:10001"
health=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image")
case "$health" in *'nio'*'health'*) ;; *) fail "no nio health check: $health" ;; esac
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "image: user $user, health check $health, $((size / 1024 / 1024)) MiB"

# The server from the image, on free loopback ports.
read -r grpc_port http_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
ctr=$(buildah from --pull-never "$image")
log=$(mktemp)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  pkill -TERM -f "nio-server --listen=0.0.0.0:50051 .*--listen=127.0.0.1:$grpc_port" 2>/dev/null || true
  wait 2>/dev/null || true
  buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT
# The entrypoint's flags with the test's ports after them (a later flag wins).
buildah run --isolation chroot "$ctr" -- nio-server --listen=0.0.0.0:50051 \
  --http_listen=0.0.0.0:8080 --model_dir=/opt/nio/models/bundled \
  --listen="127.0.0.1:$grpc_port" --http_listen="127.0.0.1:$http_port" --backend=cpu \
  >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; fail "the server exited"; }
  sleep 0.1
done
grep -q "listening on 127.0.0.1:$grpc_port" "$log" || { cat "$log" >&2; fail "no start line"; }
grep "listening on" "$log"

"$nio" health --server "127.0.0.1:$grpc_port" || fail "nio health"
# The image's own health check command, run inside it.
buildah run --isolation chroot "$ctr" -- nio health --server "127.0.0.1:$grpc_port" \
  || fail "nio health inside the image"
info=$("$nio" info --server "127.0.0.1:$grpc_port") || fail "nio info"
echo "$info" | head -3
echo "$info" | grep -q "^Model  *spotify-popularity" || fail "nio info printed no model"
"$nio" optimize --server "127.0.0.1:$grpc_port" --preset chill --format json \
  | python3 -c 'import json, sys; r = json.load(sys.stdin)[0]; assert r["status"] == "ok", r; print("optimize: prediction", r["prediction_before"], "->", r["prediction_after"])' \
  || fail "nio optimize"
code=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$http_port/readyz').status)")
[ "$code" = 200 ] || fail "/readyz answered $code"
echo "container test: the image's server answers info, health, optimize and /readyz"
