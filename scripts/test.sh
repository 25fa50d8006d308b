#!/usr/bin/env bash
# Runs every test on a fresh machine: first installs what the tests need (Debian packages,
# Python reference tools in a venv, sample data from registry packages into a cache; see
# scripts/setup.sh), then `cargo test` for the whole workspace. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# shellcheck disable=SC1091
source "${HOUNSFIELD_CACHE:-$HOME/.cache/hounsfield}/env.sh"

# JPEG-LS decoding (CharLS, C++) is an optional feature because it needs cmake, which
# setup.sh installs; the tests cover it.
cargo test --workspace --no-fail-fast -j"$(nproc)" --features hounsfield-io/jpegls "$@"
