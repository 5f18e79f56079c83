#!/bin/bash
# Copyright (C) llmgw authors
#
# Builds one unit test (or, with -k fuzz, one libFuzzer target) of llmgw:
#
#   t/unit/build.sh [-k unit|fuzz] [-o OUT] BUILD_DIR SOURCE.c [EXTRA.c ...]
#
# SOURCE.c names what it needs in its first lines:
#
#   /* llmgw-unit-srcs: src/ngx_http_llmgw_jws.c src/ngx_http_llmgw_jwk.c */
#   /* llmgw-unit-libs: -lcrypto -ljansson */
#
# (llmgw-fuzz-srcs / llmgw-fuzz-libs for -k fuzz); paths are relative to the
# repository.  It is compiled with those sources, t/unit/ngx_http_llmgw_unit.c
# (stand-ins for the cycle, the error log and the conf reader) and an archive
# of nginx core objects (palloc, alloc, string, array, list, hash, rbtree,
# queue, slab, shmtx, times, shmem, ...) built against the configured tree
# BUILD_DIR/nginx (headers and objs/ngx_auto_*.h made by `make`).
#
#   unit: cc (gcc), -fsanitize=address,undefined, no recovery from UB
#   fuzz: clang, -fsanitize=fuzzer,address,undefined
#
# The nginx-dev package ships headers only.  The core .c files are taken from
# $NGX_CORE_SRC (an nginx source tree's src/ directory) when set, from
# BUILD_DIR/nginx/src when it has them, or else from the upstream tarball of
# the same version: $NGX_CORE_TARBALL, a cached copy under $LLMGW_CACHE
# (default build/cache), or Debian's source package fetched once with apt
# (orig tarball only, checked by apt against the signed Sources index).
#
# Prints the path of the binary on its last line of stdout.

set -e -o pipefail

kind=unit
out=

while getopts "k:o:" opt; do
    case $opt in
        k) kind=$OPTARG ;;
        o) out=$OPTARG ;;
        *) echo "usage: $0 [-k unit|fuzz] [-o OUT] BUILD_DIR SOURCE.c" \
                "[EXTRA.c ...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

if [ $# -lt 2 ]; then
    echo "usage: $0 [-k unit|fuzz] [-o OUT] BUILD_DIR SOURCE.c [EXTRA.c ...]" >&2
    exit 2
fi

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)
source=$2
shift 2
extra=("$@")

case $kind in
    unit)
        CC=${UNIT_CC:-cc}
        san="-fsanitize=address,undefined -fno-sanitize-recover=all"
        core_san=$san
        link_san=$san
        ;;
    fuzz)
        CC=${FUZZ_CC:-clang}
        san="-fsanitize=fuzzer-no-link,address,undefined"
        san="$san -fno-sanitize-recover=all"
        core_san=$san
        link_san="-fsanitize=fuzzer,address,undefined"
        ;;
    *)
        echo "$0: unknown kind \"$kind\"" >&2
        exit 2
        ;;
esac

ngx=$build/nginx

if [ ! -f "$ngx/.configured" ] || [ ! -f "$ngx/objs/ngx_auto_config.h" ]; then
    echo "$0: $ngx is not configured, running make BUILD=$build" >&2
    make -s -C "$repo" BUILD="$build" >&2
fi

version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
          "$ngx/src/core/nginx.h")

unitdir=$build/unit
mkdir -p "$unitdir"

# one build at a time per build directory (the core archive is shared)
exec 9>"$unitdir/.lock"
flock 9


ngx_http_llmgw_fetch_core() {
    local tarball

    tarball=$("$repo/tools/nginx-source.sh" "$version") || exit 1

    rm -rf "$unitdir/nginx-$version"
    tar -xzf "$tarball" -C "$unitdir" "nginx-$version/src"
}


if [ -n "$NGX_CORE_SRC" ]; then
    core_src=$NGX_CORE_SRC
elif [ -f "$ngx/src/core/ngx_palloc.c" ]; then
    core_src=$ngx/src
else
    core_src=$unitdir/nginx-$version/src
    if [ ! -f "$core_src/core/ngx_palloc.c" ]; then
        ngx_http_llmgw_fetch_core
    fi
fi

# the nginx core objects a pure parser or a shared-memory structure needs
core_files="core/ngx_palloc.c os/unix/ngx_alloc.c core/ngx_string.c
    core/ngx_array.c core/ngx_list.c core/ngx_hash.c core/ngx_rbtree.c
    core/ngx_queue.c core/ngx_slab.c core/ngx_shmtx.c core/ngx_times.c
    os/unix/ngx_time.c os/unix/ngx_shmem.c os/unix/ngx_errno.c
    core/ngx_crc32.c core/ngx_md5.c core/ngx_sha1.c core/ngx_murmurhash.c
    core/ngx_parse.c core/ngx_parse_time.c core/ngx_buf.c
    core/ngx_radix_tree.c"

incs="-I $ngx/src/core -I $ngx/src/event -I $ngx/src/event/modules
    -I $ngx/src/os/unix -I $ngx/objs -I $ngx/src/http -I $ngx/src/http/modules
    -I $ngx/src/http/v2 -I $repo/src -I $repo/t/unit"

base_flags="-g -O1 -fno-omit-frame-pointer -pipe"
warn="-Wall -Wextra -Werror -Wno-unused-parameter"

coredir=$unitdir/$kind/core
archive=$unitdir/$kind/libngxcore.a
mkdir -p "$coredir" "$unitdir/$kind/bin"

stale=
if [ ! -f "$archive" ]; then
    stale=1
else
    for f in $core_files "$ngx/objs/ngx_auto_config.h"; do
        case $f in /*) p=$f ;; *) p=$core_src/$f ;; esac
        if [ "$p" -nt "$archive" ]; then
            stale=1
        fi
    done
fi

if [ -n "$stale" ]; then
    rm -f "$coredir"/*.o "$archive"
    for f in $core_files; do
        o=$coredir/$(basename "$f" .c).o
        # nginx's own code: nginx's warning set, not -Werror
        $CC $base_flags $core_san -W -Wall -Wpointer-arith \
            -Wno-unused-parameter $incs -c "$core_src/$f" -o "$o"
    done
    ar rcs "$archive" "$coredir"/*.o
fi


# what the source says it needs
tag=llmgw-$kind
srcs=$(sed -n "1,20s|.*$tag-srcs:\(.*\)\*/.*|\1|p" "$source" | tr '\n' ' ')
libs=$(sed -n "1,20s|.*$tag-libs:\(.*\)\*/.*|\1|p" "$source" | tr '\n' ' ')

name=$(basename "$source" .c)
out=${out:-$unitdir/$kind/bin/$name}

files=("$source" "$repo/t/unit/ngx_http_llmgw_unit.c")
for s in $srcs; do
    case $s in /*) files+=("$s") ;; *) files+=("$repo/$s") ;; esac
done
files+=("${extra[@]}")

$CC $base_flags $san $warn $incs "${files[@]}" $link_san "$archive" $libs \
    -lcrypt -lpthread -o "$out"

echo "$out"
