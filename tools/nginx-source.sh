#!/bin/bash
# Copyright (C) llmgw authors
#
# tools/nginx-source.sh [VERSION]: prints the path of nginx's source tarball
# (Debian's orig tarball, the same as upstream's nginx-VERSION.tar.gz),
# fetched once with apt-get source into build/cache and checked against its
# SHA-256.  Debian's nginx-dev ships headers only; the C unit tests need
# nginx's core .c files and `make asan` builds a whole nginx from them.
#
# NGX_CORE_TARBALL names a local copy instead; LLMGW_CACHE the cache.
# apt's own configuration is not touched: a private sources list and state
# directory live in the cache.

set -euo pipefail

version=${1:-1.22.1}
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${LLMGW_CACHE:-$repo/build/cache}
tarball=${NGX_CORE_TARBALL:-$cache/nginx_$version.orig.tar.gz}

if [ ! -f "$tarball" ]; then
    apt=$cache/apt
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" \
             "$apt/parts" "$apt/src"

    cat > "$apt/sources.list" <<_EOS_
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
_EOS_

    o=(-o "Dir::Etc::SourceList=$apt/sources.list"
       -o "Dir::Etc::SourceParts=$apt/parts"
       -o "Dir::State::Lists=$apt/lists"
       -o "Dir::Cache=$apt/cache")

    echo "$0: fetching the nginx $version source (orig tarball)" >&2
    apt-get -qq "${o[@]}" update >&2
    (cd "$apt/src" \
     && apt-get -qq "${o[@]}" source --download-only nginx >&2) || true

    if [ ! -f "$apt/src/nginx_$version.orig.tar.gz" ]; then
        echo "$0: no nginx_$version.orig.tar.gz; set NGX_CORE_TARBALL to" \
             "an nginx $version tarball" >&2
        exit 1
    fi

    cp "$apt/src/nginx_$version.orig.tar.gz" "$tarball.tmp"
    mv "$tarball.tmp" "$tarball"
fi

if [ "$version" = 1.22.1 ]; then
    echo "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31" \
         " $tarball" | sha256sum -c --quiet - >&2 || {
        echo "$0: $tarball: checksum mismatch" >&2; exit 1; }
fi

echo "$tarball"
