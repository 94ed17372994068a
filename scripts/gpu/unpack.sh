#!/usr/bin/env bash
# On the device: stash the bundle parts this call carried (.gpuc/rt.NN, .gpuc/app.tar; see scripts/gpu/pack.sh) in
# /tmp/ediffi-bundle, which outlives the call while the machine stays warm; once every part in .gpuc/manifest is there
# and checks out, unpack the bundle into .gpu/ (run.sh, dotnet-rt.tar.xz, app/). Exit 0 when .gpu/ is ready, 3 when
# parts are still missing (it names them).
set -euo pipefail
stash=/tmp/ediffi-bundle
mkdir -p "$stash"
[ -f .gpuc/manifest ] || { echo "no .gpuc/manifest: carry it (and the parts) from scripts/gpu/pack.sh" >&2; exit 2; }
cp .gpuc/manifest "$stash/manifest"
for p in .gpuc/rt.* .gpuc/app.tar; do [ -e "$p" ] && cp "$p" "$stash/"; done
missing=$(cd "$stash" && awk '{print $2}' manifest | while read -r f; do [ -f "$f" ] || echo "$f"; done)
if [ -n "$missing" ]; then echo "bundle parts still missing: $(echo $missing)"; exit 3; fi
(cd "$stash" && sha256sum -c --quiet manifest) || { echo "a bundle part is damaged: carry it again" >&2; exit 2; }
if [ ! -f .gpu/app/EDiffI.Host.dll ] || ! cmp -s "$stash/manifest" .gpu/manifest 2>/dev/null; then
  rm -rf .gpu && mkdir -p .gpu
  (cd "$stash" && cat $(awk '{print $2}' manifest | grep '^rt\.')) > .gpu/dotnet-rt.tar.xz
  tar xf "$stash/app.tar" -C .gpu
  tar xJf .gpu/app.tar.xz -C .gpu && rm .gpu/app.tar.xz
  cp "$stash/manifest" .gpu/manifest
  rm -rf /tmp/dotnet-rt # run.sh unpacks this bundle's runtime
fi
# The optional CUDA graph shim, built once per unpacked bundle against this machine's PyTorch (native/cudagraphs).
if [ ! -f .gpu/app/libediffi_cudagraphs.so ] && [ -f native/cudagraphs/build.sh ]; then
  bash native/cudagraphs/build.sh "$PWD/.gpu/app/libediffi_cudagraphs.so" >&2 || echo "the CUDA graph shim did not build: evaluations run eagerly" >&2
fi
echo "bundle ready in .gpu ($(du -sh .gpu | cut -f1))"
