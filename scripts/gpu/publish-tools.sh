#!/usr/bin/env bash
# After ../shared/gpu/prepare.sh Host/EDiffI.Host.csproj: publish the training and evaluation tools into the same .gpu/app.
set -euo pipefail
for p in tools/ClipTraining/ClipTraining.csproj tools/T5Training/T5Training.csproj tools/Evaluate/Evaluate.csproj; do
  dotnet publish "$p" -c Release -r linux-x64 --self-contained false -o .gpu/app -p:DebugType=none >/dev/null
done
find .gpu/app -maxdepth 4 \( -name 'libtorch*.so*' -o -name 'libc10*.so*' -o -name 'libgomp*.so*' -o -name 'libshm.so' -o -name 'lib*backend*.so' \) -delete
rm -rf .gpu/app/cpu .gpu/app/runtimes/{win,osx}* 2>/dev/null || true
du -sh .gpu
