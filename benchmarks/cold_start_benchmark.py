"""How long `visionflow predict IMAGE` takes from a cold start, against importing TensorFlow alone.

A prediction cannot start sooner than TensorFlow is imported; everything above that (the CLI, reading the
config, loading the SavedModel, the Transform graph, the answer) is this project's cost. Each command runs in
a fresh process, the two alternating, and the medians are compared.

Without --output-dir, a model is trained first (one epoch on the embedded digits, no tuning) and pushed
under the work folder; its accuracy does not matter here.

Usage: .venv/bin/python benchmarks/cold_start_benchmark.py [--repeats 7] [--output-dir DIR] [--work-dir DIR]
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wall_seconds(command) -> float:
  start = time.perf_counter()
  subprocess.run(command, check=True, capture_output=True, cwd=PROJECT)
  return time.perf_counter() - start


def pushed_model_output(work_dir: str) -> str:
  """An output folder with a pushed model: the pipeline run once, briefly."""
  output_dir = os.path.join(work_dir, 'pipeline')
  subprocess.run([sys.executable, '-m', 'pipeline.cli', 'run', '--output-dir', output_dir, '--epochs', '1',
                  '--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0'],
                 check=True, capture_output=True, cwd=PROJECT)
  return output_dir


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=7)
  parser.add_argument('--output-dir', help='a pipeline output folder with a pushed model and its sample data')
  parser.add_argument('--work-dir', default=None)
  args = parser.parse_args()
  output_dir = args.output_dir or pushed_model_output(args.work_dir or tempfile.mkdtemp(prefix='visionflow_cold_'))
  image = sorted(glob.glob(os.path.join(output_dir, 'sample_data', '*', '*.jpg')))[0]

  os.environ.update(TF_USE_LEGACY_KERAS='1', TF_CPP_MIN_LOG_LEVEL='3')  # both commands load TensorFlow alike
  import_only = [sys.executable, '-c', 'import tensorflow']
  predict = [sys.executable, '-m', 'pipeline.cli', 'predict', '--output-dir', output_dir, image]
  wall_seconds(predict)  # the first run writes bytecode and warms the page cache; it is not counted
  imports, predictions = [], []
  for _ in range(args.repeats):
    imports.append(wall_seconds(import_only))
    predictions.append(wall_seconds(predict))
  import_median, predict_median = statistics.median(imports), statistics.median(predictions)
  print(f'python -c "import tensorflow":  median {import_median:.2f}s  (runs: '
        f'{", ".join(f"{value:.1f}" for value in imports)})')
  print(f'visionflow predict IMAGE:       median {predict_median:.2f}s  (runs: '
        f'{", ".join(f"{value:.1f}" for value in predictions)})')
  print(f'\npredict / import tensorflow: {predict_median / import_median:.2f}x (medians of {args.repeats})')


if __name__ == '__main__':
  main()
