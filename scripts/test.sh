#!/bin/sh
# The project's test command (what CI runs through .ci/run):
#
#   scripts/test.sh [ctest options...]
#
# Runs scripts/setup.sh (packages if missing, then the Release build into ./build), then
# `ctest --test-dir build --output-on-failure -j2` plus any options given (e.g. -L unit), and
# exits with ctest's status. ACME_SETUP_ARGS passes options to setup.sh (e.g. --no-install).
set -eu

cd "$(dirname "$0")/.."

# shellcheck disable=SC2086 # ACME_SETUP_ARGS is a list of options
scripts/setup.sh ${ACME_SETUP_ARGS:-}

echo "test.sh: + ctest --test-dir build --output-on-failure -j2 $*"
status=0
ctest --test-dir build --output-on-failure -j2 "$@" || status=$?
echo "test.sh: ctest exit status $status"
exit "$status"
