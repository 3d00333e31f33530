#!/bin/sh
# Builds ngx_http_acme_module.so with Debian's nginx-dev build kit (called by CMakeLists.txt).
#
#   build-module.sh KIT MODULE_DIR BUILD_DIR CORE_LIB OUT_SO
#
#   KIT         the nginx build kit: configure, conf_flags, auto/, src/ (/usr/share/nginx/src)
#   MODULE_DIR  this directory (the nginx "config" file and the module source)
#   BUILD_DIR   nginx's --builddir; the kit is copied next to it (BUILD_DIR-src)
#   CORE_LIB    the ACME core archive (libacme_core.a), linked statically
#   OUT_SO      where the module goes (${PROJECT_BINARY_DIR}/modules/ngx_http_acme_module.so)
#
# The kit is copied (BUILD_DIR-src) and configured again when the "config" file or this script
# changed, when the kit changed (a new nginx-dev: its conf_flags or src/core/nginx.h differ from
# the ones of the last configure, compared by content, so that a downgrade counts too), or when
# configure never ran; otherwise the module is only rebuilt (make tracks the module's sources
# and ngx_module_deps) and relinked, on every call (the caller runs it only when the source, the
# archive or the kit changed). The compiler flags are nginx's own (-W -Wall -Wpointer-arith
# -Werror ...) plus Debian's hardening flags.
set -eu

kit=$1
module_dir=$2
build_dir=$3
core_lib=$4
out_so=$5
src_dir=$build_dir-src

[ -x "$kit/configure" ] && [ -f "$kit/conf_flags" ] || {
    echo "build-module.sh: $kit is not an nginx build kit (install nginx-dev)" >&2
    exit 1
}

# What identifies the kit: the package's configure flags and nginx version.
kit_stamp=$(cat "$kit/conf_flags" "$kit/src/core/nginx.h" | cksum)

if [ ! -f "$build_dir/Makefile" ] || [ "$module_dir/config" -nt "$build_dir/Makefile" ] ||
    [ "$0" -nt "$build_dir/Makefile" ] || [ ! -f "$build_dir.kit" ] ||
    [ "$(cat "$build_dir.kit")" != "$kit_stamp" ]; then
    rm -rf "$src_dir" "$build_dir" "$build_dir.kit"
    cp -a "$kit" "$src_dir"
    (
        cd "$src_dir"
        # conf_flags is a bash array: NGX_CONF_FLAGS=( ... ).
        ACME_CORE_LIB=$core_lib bash -c '. ./conf_flags && exec ./configure \
            "${NGX_CONF_FLAGS[@]}" \
            --with-cc-opt="-O2 -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2" \
            --with-ld-opt="-Wl,-z,relro -Wl,-z,now -Wl,--exclude-libs,ALL" \
            --add-dynamic-module="$1" --builddir="$2"' configure "$module_dir" "$build_dir" \
            >"$build_dir.configure.log" 2>&1 || {
            cat "$build_dir.configure.log" >&2
            echo "build-module.sh: nginx configure failed (log: $build_dir.configure.log)" >&2
            exit 1
        }
    )
    printf '%s\n' "$kit_stamp" >"$build_dir.kit"
fi

rm -f "$build_dir/ngx_http_acme_module.so"
make -s -C "$src_dir" -f "$build_dir/Makefile" modules
mkdir -p "$(dirname "$out_so")"
cp "$build_dir/ngx_http_acme_module.so" "$out_so.tmp"
mv -f "$out_so.tmp" "$out_so"
