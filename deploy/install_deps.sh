#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the tools need.
# Idempotent: skips apt entirely when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  libopenblas-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev openssl libcli11-dev
  python3-torch python3-sklearn python3-xgboost python3-pandas python3-numpy
  python3-joblib python3-grpcio python3-scipy
  # The HTTP port's tests: a real browser, a Prometheus parser, curl.
  chromium chromium-driver python3-selenium python3-prometheus-client curl
  # deploy/fuzz.sh: clang with libFuzzer and the sanitizer runtimes.
  clang libclang-rt-14-dev
)

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
