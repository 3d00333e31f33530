#!/bin/sh
# Soak benchmark (see bench/soak.py): nginx and httpd renewing for a long time under handshakes;
# memory, descriptors and threads per process, per install.
#
#   bench/soak.sh [--names 1] [--installs 1000] [--sample 100] [--workers 2]
#
# Builds nothing: run scripts/setup.sh first (or scripts/test.sh).
set -eu
cd "$(dirname "$0")/.."
export ACME_BUILD_DIR="${ACME_BUILD_DIR:-$(pwd)/build}"
exec python3 bench/soak.py "$@"
