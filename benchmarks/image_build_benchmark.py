"""Size and cold build time of each pipeline image:
`python -m benchmarks.image_build_benchmark [--repeats N] [cpu gpu tpu]`.

Each image is built N times (default 3) with --no-cache (every layer, every download) by
scripts/build-images.sh's Dockerfiles on the base it picks; the median, minimum and maximum build times are
printed (builds download from the package registries, so they vary), and the size is read from the engine.
The official TFX image (tensorflow/tfx:1.16.0) is the comparison users make (12.3 GB, tensorflow/tfx#6921); it
cannot be pulled where no registry is reachable, so its size is read from the engine only when it is present.
"""
import argparse
import re
import statistics
import subprocess
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


def _reason(build_output: str) -> str:
  """The build's last error line (pip's, else Docker's), without terminal colours."""
  lines = [re.sub(r'\x1b\[[0-9;]*m', '', line).strip() for line in build_output.splitlines() if line.strip()]
  errors = [line for line in lines if line.startswith('ERROR')]
  return (errors or lines or ['no output'])[-1]


def main(variants, repeats):
  base = _base()
  arguments = {'cpu': (f'{NAME}:dev', ['--build-arg', f'BASE_IMAGE={base}']),
               'gpu': (f'{NAME}:dev-gpu', ['--build-arg', f'CPU_IMAGE={NAME}:dev', '-f', 'containers/gpu/Dockerfile']),
               'tpu': (f'{NAME}:dev-tpu', ['--build-arg', f'CPU_IMAGE={NAME}:dev', '-f', 'containers/tpu/Dockerfile'])}
  tfx_size = _size_gb(TFX_IMAGE)
  print(f'base: {base}')
  print('image\tcold build s: median (min-max) of runs\tsize GB\tsize / official TFX image')
  for variant in variants:
    tag, extra = arguments[variant]
    times = []
    for _ in range(repeats):
      started = time.monotonic()
      built = subprocess.run(['docker', 'build', '--no-cache', '--quiet', '--tag', tag, *extra, '.'], cwd=ROOT,
                             capture_output=True, text=True, check=False)
      if built.returncode != 0:
        break
      times.append(time.monotonic() - started)
    if built.returncode != 0:
      print(f'{tag}\tfailed after {time.monotonic() - started:.0f} s: {_reason(built.stdout + built.stderr)}')
      continue
    size = _size_gb(tag)
    ratio = f'{size / tfx_size:.2f}' if tfx_size else f'(not present; 12.3 GB reported: {size / 12.3:.2f})'
    print(f'{tag}\t{statistics.median(times):.0f} ({min(times):.0f}-{max(times):.0f}) of {len(times)}\t'
          f'{size:.2f}\t{ratio}')
    if variant == 'cpu':
      print(f'  CPU target {CPU_TARGET_GB:g} GB: {"met" if size <= CPU_TARGET_GB else "missed"}')


if __name__ == '__main__':
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('variants', nargs='*', choices=['cpu', 'gpu', 'tpu'], metavar='{cpu,gpu,tpu}')
  options = parser.parse_args()
  main(options.variants or ['cpu', 'gpu', 'tpu'], options.repeats)
