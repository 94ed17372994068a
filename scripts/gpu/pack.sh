#!/usr/bin/env bash
# After ../shared/gpu/prepare.sh and scripts/gpu/publish-tools.sh: packs .gpu/ into .gpuc/ as parts small enough that
# the working tree (the shipped models are tracked, ~40 MB with the 8-bit default model) plus one part stay under the device tool's 64 MiB.
#  - the .NET runtime is cut to the files the published apps can load (scripts/gpu/slim lists them) and xz -9e'd;
#  - SkiaSharp's and HarfBuzzSharp's native libraries (12 and 2.4 MB) are left out: runs on the GPU write JSON, figures
#    are drawn on the CPU; so is the Vulkan texture plugin (3.7 MB), unless VULKAN=1 (scripts/gpu/vulkan-bench.sh).
#    With the 8-bit default model the tree is 40 MB, and without them the runtime and app.tar fit beside it in one call;
#  - the runtime is split into .gpuc/rt.NN parts of at most PART_MB (default: what the tree leaves per call); run.sh and the app go into
#    .gpuc/app.tar (about 5 MB); .gpuc/manifest lists the parts and their SHA-256.
# On the device, each call carries ".gpuc/manifest" and one or more parts and begins with `bash scripts/gpu/unpack.sh`:
# it stashes the parts in /tmp (kept while the machine stays warm) and, once every part is there, unpacks .gpu/.
# So a first call can carry rt.00, the next rt.01, and the last app.tar with the job; when everything fits beside the
# tree (it says so), one call carries it all with the job. The runtime's parts only change
# with the SDK, so after rebuilding the app only app.tar must travel again while the machine stays warm.
set -euo pipefail
[ -d .gpu/app ] || { echo "no .gpu/app: run ../shared/gpu/prepare.sh Host/EDiffI.Host.csproj first" >&2; exit 2; }
# The part size: PART_MB, or what the tree leaves of the 64 MiB a call may carry, less a 0.5 MB margin for the manifest
# and small carried folders such as .peer/.
tree_bytes=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb | tail -1 | cut -f1)
room=$(( 67108864 - tree_bytes - 500000 ))
part_mb=${PART_MB:-$(( room / 1000000 ))}
[ "$part_mb" -ge 1 ] || { echo "the working tree ($tree_bytes bytes) leaves no room beside it for a bundle part: shrink it first" >&2; exit 2; }
rm -f .gpu/app/libSkiaSharp.so .gpu/app/libHarfBuzzSharp.so
[ "${VULKAN:-0}" = 1 ] || rm -rf .gpu/app/plugins/EDiffI.Plugins.VulkanTextures
rm -rf .gpu/app/models # the publish copies the shipped model; it travels with the working tree already
dotnet build scripts/gpu/slim -c Release -v q -clp:ErrorsOnly -o .gpu/slim >/dev/null
droot=$(dirname "$(readlink -f "$(command -v dotnet)")")
rt=$(ls -d "$droot"/shared/Microsoft.NETCore.App/* | sort -V | tail -1)
.gpu/slim/Slim .gpu/app "$rt" > .gpu/runtime-files.txt
rel=shared/Microsoft.NETCore.App/$(basename "$rt")
(cd "$droot" && tar cf - dotnet host $(sed "s|^|$rel/|" "$OLDPWD/.gpu/runtime-files.txt")) | xz -9e -T2 > .gpu/dotnet-rt.tar.xz
rm -rf .gpuc && mkdir -p .gpuc/stage
# The runtime's parts (rt.NN) change only with the SDK; the app's part (app.tar: run.sh and the app) with every build.
split -b "$(awk -v m="$part_mb" 'BEGIN{printf "%d", m*1000000}')" -d .gpu/dotnet-rt.tar.xz .gpuc/rt.
cp .gpu/run.sh .gpuc/stage/
tar cJf .gpuc/stage/app.tar.xz -C .gpu app
tar cf .gpuc/app.tar --mtime=@0 --owner=0 --group=0 --numeric-owner -C .gpuc/stage run.sh app.tar.xz
rm -rf .gpuc/stage
(cd .gpuc && sha256sum rt.* app.tar > manifest)
ls -l .gpuc | awk 'NR>1{printf "%s %.1f MB\n", $9, $5/1e6}'
app_bytes=$(stat -c %s .gpuc/app.tar)
[ "$app_bytes" -le "$room" ] || echo "warning: app.tar ($app_bytes bytes) does not fit beside the tree ($room bytes free per call)" >&2
all_bytes=$(cat .gpuc/rt.* .gpuc/app.tar | wc -c)
if [ "$all_bytes" -le "$room" ]; then
  echo "one call carries it all: .gpuc/manifest, $(cd .gpuc && echo rt.*) and app.tar ($(( all_bytes / 1000 )) kB of the $(( room / 1000 )) kB the tree leaves)"
else
  echo "parts of $part_mb MB: carry one per call with .gpuc/manifest, app.tar in a call of its own or with the last part when both fit in $(( room / 1000 )) kB"
fi
echo "travels with the tree: $(git ls-files -co --exclude-standard -z | xargs -0 du -cb | tail -1 | awk '{printf "%.1f MB", $1/1e6}') (64 MiB = 67.1 MB in all per call)"
