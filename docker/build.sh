#!/bin/sh
# build.sh OUTDIR - builds build/trainbound from a checkout and copies it to
# OUTDIR. The Dockerfile's build stage runs exactly this (after
# `docker/install-deps.sh build`); so can anyone, on a clean checkout.
set -eu
out=${1:?usage: docker/build.sh OUTDIR}
cd "$(dirname "$0")/.."
make -j"$(nproc 2>/dev/null || echo 2)" BUILD=build all
mkdir -p "$out"
cp build/trainbound "$out/trainbound"
echo "build.sh: $out/trainbound"
