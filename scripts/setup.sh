#!/bin/sh
# Prepare a Debian 12 machine and build the project into ./build.
#
#   scripts/setup.sh [--no-install] [--force-install] [--no-build]
#
#   1. apt-get update + apt-get install of every package the build and the tests need (as root),
#      skipped when all of them are already installed (dpkg) unless --force-install;
#      --no-install skips this step entirely.
#   2. Stops and disables the nginx / apache2 services the packages may have started (the tests
#      start their own servers on free loopback ports). While installing, services are kept from
#      starting at all (policy-rc.d), so nothing listens on a public address even briefly.
#   3. cmake -DCMAKE_BUILD_TYPE=Release -DACME_WERROR=ON into ./build, built with 2 jobs
#      (--no-build skips it).
#
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)

PACKAGES="build-essential cmake pkg-config libssl-dev libcurl4-openssl-dev libjansson-dev
libgtest-dev libgmock-dev libcmocka-dev nginx nginx-dev apache2 apache2-dev
pebble openssl curl ca-certificates python3 procps util-linux"

install=1
force_install=0
build=1
for arg in "$@"; do
    case $arg in
        --no-install) install=0 ;;
        --force-install) force_install=1 ;;
        --no-build) build=0 ;;
        -h | --help)
            sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "setup.sh: unknown option: $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

say() {
    echo "setup.sh: $*"
}

run() {
    say "+ $*"
    "$@"
}

missing_packages() {
    missing=""
    for p in $PACKAGES; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case $status in
            *"install ok installed"*) ;;
            *) missing="$missing $p" ;;
        esac
    done
    echo "$missing"
}

install_packages() {
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: installing packages needs root (missing:$1); run as root or" \
            "pass --no-install" >&2
        exit 1
    fi
    # Keep services from starting during the install (the standard Debian mechanism); only if
    # the machine has no policy of its own, which is then left untouched.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# added by scripts/setup.sh during apt-get install\nexit 101\n' \
            >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT INT TERM
    fi
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    run apt-get install -y --no-install-recommends $PACKAGES
    if [ "$own_policy" = 1 ]; then
        rm -f "$policy"
        trap - EXIT INT TERM
    fi
}

stop_services() {
    for svc in nginx apache2 apache-htcacheclean; do
        [ -e "/etc/init.d/$svc" ] || continue
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            systemctl disable --now "$svc" >/dev/null 2>&1 || true
        else
            service "$svc" stop >/dev/null 2>&1 || true
            update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
        say "service $svc stopped and disabled"
    done
}

if [ "$install" = 1 ]; then
    missing=$(missing_packages)
    if [ -n "$missing" ] || [ "$force_install" = 1 ]; then
        [ -n "$missing" ] && say "missing packages:$missing"
        install_packages "$missing"
        missing=$(missing_packages)
        if [ -n "$missing" ]; then
            echo "setup.sh: still not installed:$missing" >&2
            exit 1
        fi
    else
        say "all packages installed (--force-install to reinstall)"
    fi
    if [ "$(id -u)" = 0 ]; then
        stop_services
    fi
else
    say "--no-install: skipping packages"
fi

if [ "$build" = 1 ]; then
    run cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release -DACME_WERROR=ON
    run cmake --build "$ROOT/build" -j 2
    say "build done: $ROOT/build"
fi
