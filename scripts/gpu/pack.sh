#!/usr/bin/env bash
# After ../shared/gpu/prepare.sh and scripts/gpu/publish-tools.sh: packs .gpu/ into .gpuc/ with the app as one
# tar.xz, so that the working tree (the shipped model is tracked) plus the carried bundle stay under the device
# tool's 64 MiB. SkiaSharp's native library (12 MB) is left out: runs on the GPU write JSON, and figures are
# drawn on the CPU. Carry ".gpuc" and begin the device command with:
#   mkdir -p .gpu && cp .gpuc/run.sh .gpuc/dotnet-rt.tar.xz .gpu/ && tar xJf .gpuc/app.tar.xz -C .gpu && ...
set -euo pipefail
[ -d .gpu/app ] || { echo "no .gpu/app: run ../shared/gpu/prepare.sh Host/EDiffI.Host.csproj first" >&2; exit 2; }
rm -f .gpu/app/libSkiaSharp.so
rm -rf .gpu/app/models # the publish copies the shipped model; it travels with the working tree already
rm -rf .gpuc && mkdir .gpuc
cp .gpu/run.sh .gpu/dotnet-rt.tar.xz .gpuc/
tar cJf .gpuc/app.tar.xz -C .gpu app
du -sh .gpuc
