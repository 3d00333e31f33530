#!/bin/sh
# The main job: set up (Debian packages, build), then nginx with `acme on` obtains a certificate
# from a local pebble CA and serves it without a reload. See scripts/demo.py; --keep keeps it
# running.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
exec python3 scripts/demo.py "$@"
