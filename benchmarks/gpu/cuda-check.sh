#!/usr/bin/env bash
# CUDA check of the library on the tiny model: per-step times on the CUDA provider and parity with the CPU provider.
#
#   benchmarks/gpu/cuda-check.sh [PUBLISH_DIR]
#
# PUBLISH_DIR holds a build of the CLI with the GPU native package (the default path is where the command below
# writes it):
#   dotnet publish src/Spright.Diffusion.Cli -c Release -r linux-x64 --self-contained -p:OnnxRuntimeFlavor=Gpu -o out/spright-gpu
# The GPU package's native libraries (libonnxruntime.so 33 MB + libonnxruntime_providers_cuda.so 284 MB) need CUDA 13
# and cuDNN 9 on the library path: the script adds the CUDA/cuDNN folders of a pip-installed nvidia-* wheel set when
# it finds one. Without a GPU it says so and exits 0; it never touches the CPU path.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-out/spright-gpu}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "cuda-check: no NVIDIA GPU here (nvidia-smi missing or found no device); nothing to do."
  exit 0
fi
if [ ! -x "$dir/spright" ]; then
  echo "cuda-check: no GPU build at $dir (see the publish command at the top of this script)."
  exit 0
fi
nvidia-smi -L
# CUDA 13 / cuDNN 9 from pip wheels (nvidia-cudnn-cu13, nvidia-cublas, ...) when the system has none.
for site in $(python3 -c 'import site,sys; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
  for lib in "$site"/nvidia/*/lib "$site"/nvidia/cu13/lib; do
    [ -d "$lib" ] && export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
  done
done
status=0
for provider in cuda cpu; do
  echo "== provider $provider: tiny model, 10 steps, 128x128, CFG 7.5, 10 runs"
  extra=""
  [ "$provider" = cuda ] && extra="--check-cpu-parity"
  "$dir/spright" bench --provider "$provider" --steps 10 --width 128 --height 128 --guidance 7.5 --runs 10 --warmup 2 $extra || status=1
done
exit $status
