"""Size and cold build time of each pipeline image: `python -m benchmarks.image_build_benchmark [cpu gpu tpu]`.

Each image is built with --no-cache (every layer, every download) by scripts/build-images.sh's Dockerfiles on
the base it picks, and its size read from the engine. The official TFX image (tensorflow/tfx:1.16.0) is the
comparison users make (12.3 GB, tensorflow/tfx#6921); it cannot be pulled where no registry is reachable, so
its size is read from the engine only when it is present.
"""
import subprocess
import sys
import time

ROOT = __file__.rsplit('/benchmarks/', 1)[0]
NAME = 'visionflow'
PYTHON_BASE, DEBIAN_BASE = 'python:3.11.7-slim-bookworm', 'visionflow-base:bookworm'
TFX_IMAGE = 'tensorflow/tfx:1.16.0'
CPU_TARGET_GB = 3.0


def _size_gb(image: str):
  inspected = subprocess.run(['docker', 'image', 'inspect', '--format', '{{.Size}}', image],
                             capture_output=True, text=True, check=False)
  return int(inspected.stdout) / 1e9 if inspected.returncode == 0 else None


def _base() -> str:
  if _size_gb(PYTHON_BASE) is not None:
    return PYTHON_BASE
  subprocess.run([f'{ROOT}/scripts/debian-base.sh', DEBIAN_BASE], check=True)
  return DEBIAN_BASE


def main(variants):
  base = _base()
  arguments = {'cpu': (f'{NAME}:dev', ['--build-arg', f'BASE_IMAGE={base}']),
               'gpu': (f'{NAME}:dev-gpu', ['--build-arg', f'CPU_IMAGE={NAME}:dev', '-f', 'containers/gpu/Dockerfile']),
               'tpu': (f'{NAME}:dev-tpu', ['--build-arg', f'CPU_IMAGE={NAME}:dev', '-f', 'containers/tpu/Dockerfile'])}
  tfx_size = _size_gb(TFX_IMAGE)
  print(f'base: {base}')
  print('image\tcold build s\tsize GB\tsize / official TFX image')
  for variant in variants:
    tag, extra = arguments[variant]
    started = time.monotonic()
    built = subprocess.run(['docker', 'build', '--no-cache', '--quiet', '--tag', tag, *extra, '.'], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if built.returncode != 0:
      print(f'{tag}\tfailed after {seconds:.0f} s: {built.stderr.strip().splitlines()[-1]}')
      continue
    size = _size_gb(tag)
    ratio = f'{size / tfx_size:.2f}' if tfx_size else f'(not present; 12.3 GB reported: {size / 12.3:.2f})'
    print(f'{tag}\t{seconds:.0f}\t{size:.2f}\t{ratio}')
    if variant == 'cpu':
      print(f'  CPU target {CPU_TARGET_GB:g} GB: {"met" if size <= CPU_TARGET_GB else "missed"}')


if __name__ == '__main__':
  main(sys.argv[1:] or ['cpu', 'gpu', 'tpu'])
