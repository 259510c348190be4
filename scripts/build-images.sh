#!/usr/bin/env bash
# Builds the pipeline images: scripts/build-images.sh NAME VARIANT...   (VARIANT: cpu, gpu, tpu)
# tags NAME:dev, NAME:dev-gpu and NAME:dev-tpu. The CPU image builds on the official Python image when it can
# be pulled, else on a Debian 12 base that scripts/debian-base.sh makes; GPU and TPU build on the CPU image.
# Docker's build cache makes a rebuild with nothing changed take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
shift
python_base=python:3.11.7-slim-bookworm
debian_base=visionflow-base:bookworm

if docker image inspect "$python_base" >/dev/null 2>&1 || docker pull --quiet "$python_base" >/dev/null 2>&1; then
  base=$python_base
else
  echo "cannot pull $python_base: building on a Debian 12 base made with debootstrap ($debian_base)"
  scripts/debian-base.sh "$debian_base"
  base=$debian_base
fi

build() {  # tag, then docker build arguments
  local tag=$1 started
  shift
  started=$(date +%s)
  docker build --quiet --tag "$tag" "$@" . >/dev/null
  echo "built $tag in $(( $(date +%s) - started )) s: $(docker image inspect --format '{{.Size}}' "$tag" \
    | awk '{printf "%.2f GB", $1 / 1e9}')"
}
# No GPU here: the check is that TensorFlow's CUDA build and the loader find every CUDA and cuDNN library it
# links against, at the versions TensorFlow was built for.
check_gpu_libraries() {
  docker run --rm --network none "$1" python -c '
import ctypes, tensorflow as tf
info = tf.sysconfig.get_build_info()
assert info["is_cuda_build"], info
libraries = ["libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcudnn.so." + info["cudnn_version"],
             "libcufft.so.11", "libcurand.so.10", "libcusolver.so.11", "libcusparse.so.12", "libnccl.so.2",
             "libnvrtc.so.12", "libcupti.so.12", "libnvJitLink.so.12"]
for library in libraries:
    ctypes.CDLL(library)
print("CUDA", info["cuda_version"], "cuDNN", info["cudnn_version"], "loaded:", len(libraries), "libraries")'
}
for variant in "$@"; do
  case $variant in
    cpu) build "$name:dev" --build-arg "BASE_IMAGE=$base" ;;
    gpu) build "$name:dev-gpu" --build-arg "CPU_IMAGE=$name:dev" --file containers/gpu/Dockerfile
         check_gpu_libraries "$name:dev-gpu" ;;
    tpu) build "$name:dev-tpu" --build-arg "CPU_IMAGE=$name:dev" --file containers/tpu/Dockerfile ;;
    *) echo "unknown variant $variant: expected cpu, gpu or tpu" >&2; exit 2 ;;
  esac
done
