#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the tools need.
# Idempotent: skips apt entirely when everything is already there.
#   deploy/install_deps.sh          # everything: build, tests, tools
#   deploy/install_deps.sh --build  # building nio-server and nio only (the
#                                   # container images' build stage)
set -euo pipefail

# What `cmake -DNIO_BUILD_TESTS=OFF -DNIO_BUILD_BENCH=OFF` needs.
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libopenblas-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev libcli11-dev
)
PACKAGES=(
  "${BUILD_PACKAGES[@]}" git openssl
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3-torch python3-sklearn python3-xgboost python3-pandas python3-numpy
  python3-joblib python3-grpcio python3-scipy
  # The HTTP port's tests: a real browser, a Prometheus parser, curl.
  chromium chromium-driver python3-selenium python3-prometheus-client curl
  # deploy/fuzz.sh: clang with libFuzzer and the sanitizer runtimes.
  clang libclang-rt-14-dev
  # deploy/k8s/validate.py: YAML lint and the typed Kubernetes models (kubectl is in the image).
  yamllint python3-kubernetes
  # deploy/container/test.sh: a local base image, built and run without a daemon.
  mmdebstrap podman buildah
)
case "${1:-}" in
  "") ;;
  --build) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  *) echo "install_deps: unknown argument '$1' (--build: the build's packages only)" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
