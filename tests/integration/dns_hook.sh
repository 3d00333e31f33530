#!/bin/sh
# dns-01 hook for the integration tests: publishes the challenge TXT record in
# pebble-challtestsrv, the DNS server pebble resolves through.
#
#   dns_hook.sh setup    DOMAIN TXT-VALUE   add a TXT value to _acme-challenge.<domain>.
#   dns_hook.sh teardown DOMAIN [TXT-VALUE] remove the TXT values of _acme-challenge.<domain>.
#
# "*.example.org" uses the base domain's name (_acme-challenge.example.org.). setup adds a value
# (a wildcard and its base domain in one order need two); teardown clears every value of that
# name (challtestsrv cannot remove just one).
#
# Environment:
#   ACME_TEST_CHALLTESTSRV  challtestsrv management URL, e.g. http://127.0.0.1:8055 (required;
#                           harness.Pebble.challtestsrv_url)
#   ACME_TEST_HOOK_LOG      optional file: one line "<action> <domain> <value>" per call
#   ACME_TEST_HOOK_FAIL     optional: if set, fail with this message (to test hook failures)
#
# Exits 0 on success, non-zero with a message on stderr otherwise.
set -eu

prog=dns_hook.sh
die() {
    echo "$prog: $*" >&2
    exit 1
}

[ $# -ge 2 ] || die "usage: $prog setup|teardown DOMAIN [TXT-VALUE]"
action=$1
domain=$2
value=${3:-}

if [ -n "${ACME_TEST_HOOK_LOG:-}" ]; then
    printf '%s %s %s\n' "$action" "$domain" "$value" >>"$ACME_TEST_HOOK_LOG"
fi
if [ -n "${ACME_TEST_HOOK_FAIL:-}" ]; then
    die "$ACME_TEST_HOOK_FAIL"
fi

url=${ACME_TEST_CHALLTESTSRV:-}
[ -n "$url" ] || die "ACME_TEST_CHALLTESTSRV is not set"

# Only hostname characters: the values go into JSON unescaped.
base=${domain#\*.}
base=${base%.}
case $base in
    "" | *[!A-Za-z0-9.-]*) die "invalid domain: '$domain'" ;;
esac
case $value in
    *[!A-Za-z0-9_-]*) die "invalid TXT value for $domain (expected base64url)" ;;
esac
host="_acme-challenge.$base."

post() {
    # $1 = path, $2 = JSON body
    out=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' --data "$2" "$url$1" 2>&1) ||
        die "$action $domain: POST $url$1 failed: $out"
    [ "$out" = 200 ] || die "$action $domain: POST $url$1 answered HTTP $out"
}

case $action in
    setup)
        [ -n "$value" ] || die "setup $domain: missing TXT value"
        post /set-txt "{\"host\":\"$host\",\"value\":\"$value\"}"
        ;;
    teardown)
        post /clear-txt "{\"host\":\"$host\"}"
        ;;
    *)
        die "unknown action '$action' (expected setup or teardown)"
        ;;
esac
exit 0
