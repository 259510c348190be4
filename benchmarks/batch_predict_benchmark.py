"""Images per second of `visionflow batch-predict` (Beam RunInference) against `visionflow predict` on the
same 2,000 images, each from a cold start in a fresh process, the two alternating; medians compared.

`predict` is what a user has without Beam: one process, batches of 64 through serving_default. batch-predict
adds Beam's DirectRunner (the config's: in memory, one worker), a Reshuffle, and writing CSV, TFRecord and the
summary; on Dataflow or Flink the same code spreads over workers, which this machine cannot show.

Without --output-dir, a model is trained first (one epoch on the embedded digits, no tuning) and pushed under
the work folder; its accuracy does not matter here.

Usage: .venv/bin/python benchmarks/batch_predict_benchmark.py [--repeats 3] [--images 2000] [--output-dir DIR]
"""
import argparse
import glob
import os
import shutil
import statistics
import sys
import tempfile

from benchmarks.cold_start_benchmark import pushed_model_output
from benchmarks.cold_start_benchmark import wall_seconds


def image_folder(output_dir: str, work_dir: str, count: int) -> str:
  """`count` JPEG files: the sample digits, repeated under new names where there are fewer."""
  sources = sorted(glob.glob(os.path.join(output_dir, 'sample_data', '*', '*.jpg')))
  folder = os.path.join(work_dir, 'images')
  os.makedirs(folder, exist_ok=True)
  for index in range(count):
    shutil.copy(sources[index % len(sources)], os.path.join(folder, f'image_{index:05d}.jpg'))
  return folder


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--images', type=int, default=2000)
  parser.add_argument('--output-dir', help='a pipeline output folder with a pushed model and its sample data')
  parser.add_argument('--work-dir', default=None)
  args = parser.parse_args()
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='visionflow_batch_')
  output_dir = args.output_dir or pushed_model_output(work_dir)
  folder = image_folder(output_dir, work_dir, args.images)

  os.environ.update(TF_USE_LEGACY_KERAS='1', TF_CPP_MIN_LOG_LEVEL='3')
  predict = [sys.executable, '-m', 'pipeline.cli', 'predict', '--output-dir', output_dir, folder]

  def batch_predict(run: int):
    return [sys.executable, '-m', 'pipeline.cli', 'batch-predict', '--output-dir', output_dir, '--input', folder,
            '--output', os.path.join(work_dir, f'batch_{run}')]

  wall_seconds(predict)  # the first run writes bytecode and warms the page cache; it is not counted
  singles, batches = [], []
  for run in range(args.repeats):
    singles.append(wall_seconds(predict))
    batches.append(wall_seconds(batch_predict(run)))
  single_rate, batch_rate = args.images / statistics.median(singles), args.images / statistics.median(batches)
  print(f'visionflow predict FOLDER:               median {statistics.median(singles):.2f}s = {single_rate:.0f} '
        f'images/s  (runs: {", ".join(f"{value:.1f}" for value in singles)})')
  print(f'visionflow batch-predict --input FOLDER: median {statistics.median(batches):.2f}s = {batch_rate:.0f} '
        f'images/s  (runs: {", ".join(f"{value:.1f}" for value in batches)})')
  print(f'\nbatch-predict / predict images per second: {batch_rate / single_rate:.2f}x '
        f'(medians of {args.repeats}, {args.images} images, cold starts)')


if __name__ == '__main__':
  main()
