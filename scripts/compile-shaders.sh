#!/usr/bin/env bash
# Compiles the Vulkan texture shaders (Plugins/VulkanTextures/Shaders/*.comp) into the committed SPIR-V (Shaders/spv/),
# with the flags the build and the CI check use. Needs glslc (Debian: apt-get install glslc).
set -euo pipefail
cd "$(dirname "$0")/../Plugins/VulkanTextures/Shaders"
mkdir -p spv
for s in *.comp; do glslc --target-env=vulkan1.1 -O -o "spv/${s%.comp}.spv" "$s"; echo "spv/${s%.comp}.spv"; done
