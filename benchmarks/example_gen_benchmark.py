"""ExampleGen throughput and memory, measured side by side on a flowers-sized set of generated photos.

Prints, from one run on this machine, as medians of --repeats runs alternating in one process:
  - a plain sequential read of the image files (the I/O limit);
  - the baseline a user would otherwise write by hand: one loop on one core that reads each file's bytes,
    builds a tf.Example with the bytes, label and path, and writes a GZIP TFRecord file;
  - this project's ExampleGen executor, with the pipeline's Beam settings, checking everything it checks in
    the pipeline: the label, the file, the header's limits and every image's pixels (one file in
    --corrupt-every is truncated, and must be rejected), the split from a hash of the bytes;
  - their ratio, and ExampleGen's peak memory at 1x and 4x the image count.

Usage: .venv/bin/python benchmarks/example_gen_benchmark.py [--images 3670] [--repeats 3] [--work-dir DIR]
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from PIL import Image

CLASSES = ('daisy', 'dandelion', 'roses', 'sunflowers', 'tulips')


def generate_photos(folder: str, count: int, seed: int = 0) -> str:
  """`count` photo-like JPEGs of 200-500 px: smooth colour fields with fine texture, like flower shots."""
  rng = np.random.default_rng(seed)
  rows = []
  for index in range(count):
    label = CLASSES[index % len(CLASSES)]
    width, height = (int(value) for value in rng.integers(200, 501, size=2))
    coarse = Image.fromarray(rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)).resize(
        (width, height), Image.BICUBIC)
    texture = rng.normal(0, 10, size=(height, width, 3))
    pixels = np.clip(np.asarray(coarse, dtype=np.float32) + texture, 0, 255).astype(np.uint8)
    relative = f'{label}/photo_{index:05d}.jpg'
    os.makedirs(os.path.join(folder, label), exist_ok=True)
    Image.fromarray(pixels).save(os.path.join(folder, relative), format='JPEG', quality=80)
    rows.append((relative, label))
  with open(os.path.join(folder, 'labels.txt'), 'w') as handle:
    handle.write('\n'.join(CLASSES) + '\n')
  return _write_csv(folder, 'all_data.csv', rows)


def _write_csv(folder, name, rows):
  path = os.path.join(folder, name)
  with open(path, 'w', newline='') as handle:
    csv.writer(handle).writerows(rows)
  return path


def multiply(folder: str, csv_path: str, factor: int) -> str:
  """A CSV `factor` times longer, over hard links of the same files under new names (distinct paths)."""
  with open(csv_path, newline='') as handle:
    rows = list(csv.reader(handle))
  more = []
  for copy in range(factor):
    for relative, label in rows:
      linked = relative if copy == 0 else relative.replace('.jpg', f'_copy{copy}.jpg')
      if copy and not os.path.exists(os.path.join(folder, linked)):
        os.link(os.path.join(folder, relative), os.path.join(folder, linked))
      more.append((linked, label))
  return _write_csv(folder, f'all_data_x{factor}.csv', more)


def image_paths(csv_path: str):
  with open(csv_path, newline='') as handle:
    return [os.path.join(os.path.dirname(csv_path), row[0]) for row in csv.reader(handle)]


def sequential_read(csv_path: str) -> dict:
  start = time.perf_counter()
  total = 0
  paths = image_paths(csv_path)
  for path in paths:
    with open(path, 'rb') as handle:
      total += len(handle.read())
  return {'seconds': time.perf_counter() - start, 'images': len(paths), 'input_bytes': total}


def run_example_gen(csv_path: str, output_dir: str) -> dict:
  """This project's executor, exactly as the pipeline runs it (in-process, Beam DirectRunner)."""
  from tfx.proto import example_gen_pb2
  from tfx.types import standard_artifacts
  from tfx.utils import proto_utils

  from components import compat
  from components.example_gen import executor
  from components.example_gen import image_rows
  from pipeline import config

  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  input_base, input_config = executor.make_input_config(csv_path)
  labels = image_rows.read_labels(os.path.join(os.path.dirname(csv_path), 'labels.txt'))
  properties = {
      'input_base': input_base,
      'input_config': proto_utils.proto_to_json(input_config),
      'output_config': proto_utils.proto_to_json(executor.make_output_config(8, 1, 1)),
      'custom_config': proto_utils.proto_to_json(executor.make_custom_config(executor.Settings(
          labels=tuple(labels)))),
      'output_data_format': example_gen_pb2.FORMAT_TF_EXAMPLE,
  }
  compat.skip_beam_packaging_for_direct_runner()  # as both runners do
  start = time.perf_counter()
  executor.Executor(executor.Executor.Context(
      beam_pipeline_args=list(config.PipelineConfig().beam_pipeline_args),
      tmp_dir=os.path.join(output_dir, '.tmp'))).Do({}, {'examples': [examples]}, properties)
  seconds = time.perf_counter() - start
  accepted = examples.get_int_custom_property('accepted_rows')
  return {'seconds': seconds, 'images': accepted, 'output_bytes': _folder_bytes(output_dir),
          'rejected': examples.get_int_custom_property('rejected_rows')}


def plain_loop(csv_path: str, output_path: str) -> dict:
  """The hand-written converter: bytes, label and path into a tf.Example each, one GZIP TFRecord file."""
  import tensorflow as tf
  with open(csv_path, newline='') as handle:
    rows = list(csv.reader(handle))
  start = time.perf_counter()
  with tf.io.TFRecordWriter(output_path, options='GZIP') as writer:
    for relative, label in rows:
      with open(os.path.join(os.path.dirname(csv_path), relative), 'rb') as image:
        data = image.read()
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          'image': tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
          'label': tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
          'path': tf.train.Feature(bytes_list=tf.train.BytesList(value=[relative.encode()])),
      })).SerializeToString())
  return {'seconds': time.perf_counter() - start, 'images': len(rows), 'output_bytes': os.path.getsize(output_path)}


def truncate_some(csv_path: str, every: int) -> int:
  """Cuts every `every`-th image to two thirds of its bytes (a broken download); returns how many."""
  paths = image_paths(csv_path)[::every]
  for path in paths:
    with open(path, 'rb') as handle:
      data = handle.read()
    with open(path, 'wb') as handle:
      handle.write(data[:len(data) * 2 // 3])
  return len(paths)


def _folder_bytes(folder: str) -> int:
  return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder)
             for name in names if os.path.basename(root).startswith('Split-'))


def peak_memory_mb(csv_path: str, output_dir: str) -> float:
  """ExampleGen in a fresh process; its own peak resident memory."""
  code = ('import json, resource, sys; sys.path.insert(0, sys.argv[3]); '
          'from benchmarks.example_gen_benchmark import run_example_gen; '
          'result = run_example_gen(sys.argv[1], sys.argv[2]); '
          'result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; '
          'print(json.dumps(result))')
  project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  output = subprocess.run([sys.executable, '-c', code, csv_path, output_dir, project], check=True,
                          capture_output=True, text=True).stdout
  return json.loads(output.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--images', type=int, default=3670)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--corrupt-every', type=int, default=100, help='truncate one image in N')
  parser.add_argument('--work-dir', default=None)
  args = parser.parse_args()
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='visionflow_bench_')

  start = time.perf_counter()
  csv_path = generate_photos(os.path.join(work_dir, 'photos'), args.images)
  truncated = truncate_some(csv_path, args.corrupt_every)
  input_bytes = sequential_read(csv_path)['input_bytes']
  print(f'generated {args.images} JPEGs ({truncated} truncated), {input_bytes / 1e6:.1f} MB, in '
        f'{time.perf_counter() - start:.0f}s under {work_dir}')

  reads, plains, ours = [], [], []
  for repeat in range(args.repeats):
    reads.append(sequential_read(csv_path))
    plains.append(plain_loop(csv_path, os.path.join(work_dir, f'plain_{repeat}.tfrecord.gz')))
    ours.append(run_example_gen(csv_path, os.path.join(work_dir, f'example_gen_{repeat}')))
  # Every row lands in a split or in rejects.csv, and exactly the truncated files are rejected.
  assert all(run['images'] == args.images - truncated and run['rejected'] == truncated for run in ours), ours

  read_rate = statistics.median(args.images / run['seconds'] for run in reads)
  plain_rate = statistics.median(run['images'] / run['seconds'] for run in plains)
  our_rate = statistics.median(args.images / run['seconds'] for run in ours)
  print(f'\n{"method (rows/s, medians of " + str(args.repeats) + ")":<40}{"rows/s":>10}{"output MB":>12}')
  print(f'{"sequential read (I/O limit)":<40}{read_rate:>10.0f}{"-":>12}')
  print(f'{"plain loop, one core, GZIP":<40}{plain_rate:>10.0f}{plains[0]["output_bytes"] / 1e6:>12.1f}')
  print(f'{"visionflow ExampleGen":<40}{our_rate:>10.0f}{ours[0]["output_bytes"] / 1e6:>12.1f}')
  print(f'\nExampleGen / plain loop speed:         {our_rate / plain_rate:.2f}x  (target: at least 1.5x)')
  print(f'ExampleGen output / input bytes:       {ours[0]["output_bytes"] / input_bytes:.3f}')
  print(f'plain loop output / input bytes:       {plains[0]["output_bytes"] / input_bytes:.3f}')

  x4_csv = multiply(os.path.dirname(csv_path), csv_path, 4)
  one = peak_memory_mb(csv_path, os.path.join(work_dir, 'memory_1x'))
  four = peak_memory_mb(x4_csv, os.path.join(work_dir, 'memory_4x'))
  print(f'\npeak memory, ExampleGen process: 1x ({args.images} rows) {one["peak_mb"]:.0f} MB, '
        f'4x ({4 * args.images} rows) {four["peak_mb"]:.0f} MB, ratio {four["peak_mb"] / one["peak_mb"]:.2f}')


if __name__ == '__main__':
  main()
