"""What the pipeline costs over a plain Keras script doing the same work, and how busy it keeps the machine.

Measured side by side in one run, each in a fresh process, on the embedded digits:
  - `visionflow run --tuner-trials 0 --no-cache`: every component, from the JPEGs to the pushed model;
  - a plain Keras script, as a user would write it by hand: decode the same JPEGs with tf.data, train the
    same small CNN with the same hyperparameters and the same early stopping (at most EPOCHS epochs, stopping
    after PATIENCE without a better eval-split epoch and keeping the best, as the Trainer does), and evaluate
    on the same test images (the pipeline's split: a hash of each image's bytes).

Prints the medians of the wall times, their ratio, the pipeline's CPU use (user + system over wall: 200% is
both of two cores busy), each component's share of the pipeline's wall time, and both test accuracies.

Usage: .venv/bin/python benchmarks/pipeline_overhead_benchmark.py [--repeats 3] [--work-dir DIR]
"""
import argparse
import csv
import hashlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)

# The pipeline's defaults, which the plain script repeats by hand (pipeline/config.py and
# components/trainer/settings.py:hyperparameter_specs).
IMAGE_SIZE = 32
BATCH_SIZE = 32
EPOCHS = 40
PATIENCE = 5
LEARNING_RATE = 1e-3
L2 = 1e-5
DENSE_UNITS = 128
DROPOUT = 0.3
FILTERS = 32
SPLIT_BUCKETS = (('train', 8), ('eval', 1), ('test', 1))
SPLIT_ALIASES = {'validation': 'eval'}  # a CSV's split column may name the eval split either way

STEP_DONE = re.compile(r'^\[\d+/\d+\] (\w+) done in ([\d.]+)s', re.MULTILINE)
TEST_ACCURACY = re.compile(r'test accuracy ([\d.]+)')


def timed_process(command, env=None, ok_codes=(0,)) -> dict:
  """Runs `command` to the end; its wall time, CPU time (children's user + system) and output. An exit code
  outside `ok_codes` raises RuntimeError."""
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  start = time.perf_counter()
  result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=PROJECT)
  wall = time.perf_counter() - start
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  if result.returncode not in ok_codes:
    raise RuntimeError(f'{command} exited {result.returncode}:\n{result.stderr[-3000:]}')
  cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  return {'wall': wall, 'cpu': cpu, 'stdout': result.stdout, 'stderr': result.stderr}


def run_pipeline(csv_path: str, labels_path: str, output_dir: str) -> dict:
  measured = timed_process([sys.executable, '-m', 'pipeline.cli', 'run', '--tuner-trials', '0', '--no-cache',
                            '--data-csv', csv_path, '--labels-file', labels_path, '--output-dir', output_dir])
  steps = {name: float(seconds) for name, seconds in STEP_DONE.findall(measured['stderr'])}  # progress lines
  accuracy = TEST_ACCURACY.search(measured['stdout'])
  return dict(measured, steps=steps, accuracy=float(accuracy.group(1)) if accuracy else float('nan'))


def run_plain_keras(csv_path: str, labels_path: str) -> dict:
  environment = {name: value for name, value in os.environ.items() if name != 'TF_USE_LEGACY_KERAS'}
  measured = timed_process([sys.executable, os.path.abspath(__file__), '--plain-keras', csv_path, labels_path],
                           environment)
  return dict(measured, accuracy=json.loads(measured['stdout'].strip().splitlines()[-1])['accuracy'])


def split_of(image_bytes: bytes) -> str:
  """The pipeline's split of an image: its bytes' SHA-256 modulo the buckets."""
  bucket = int(hashlib.sha256(image_bytes).hexdigest(), 16) % sum(count for _, count in SPLIT_BUCKETS)
  for name, count in SPLIT_BUCKETS:
    if bucket < count:
      return name
    bucket -= count
  raise AssertionError('unreachable')


def read_splits(csv_path: str, labels_path: str):
  """(class names, {split: (image bytes, label indices)}), as a plain script reads the CSV: the split is the
  row's third column when it has one, else the pipeline's (split_of)."""
  with open(labels_path) as handle:
    labels = [line.strip() for line in handle if line.strip()]
  splits = {name: ([], []) for name, _ in SPLIT_BUCKETS}
  with open(csv_path, newline='') as handle:
    for relative, label, *split in csv.reader(handle):
      with open(os.path.join(os.path.dirname(csv_path), relative), 'rb') as image:
        data = image.read()
      images, indices = splits[SPLIT_ALIASES.get(split[0], split[0]) if split else split_of(data)]
      images.append(data)
      indices.append(labels.index(label))
  return labels, splits


def fit_and_test(model, splits, image_size: int, batch_size: int, epochs: int, patience: int) -> float:
  """Decodes and resizes the images with tf.data, fits on train keeping the best eval-split epoch (early
  stopping after `patience` epochs without gain), and returns the test accuracy."""
  import tensorflow as tf

  def dataset(name, training):
    images, indices = splits[name]
    data = tf.data.Dataset.from_tensor_slices((images, indices)).map(
        lambda encoded, label: (tf.image.resize_with_pad(tf.image.convert_image_dtype(
            tf.io.decode_image(encoded, channels=3, expand_animations=False), tf.float32),
            image_size, image_size), label), num_parallel_calls=tf.data.AUTOTUNE).cache()
    if training:
      data = data.shuffle(len(images), seed=0)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)

  model.fit(dataset('train', True), validation_data=dataset('eval', False), epochs=epochs, verbose=0,
            callbacks=[tf.keras.callbacks.EarlyStopping('val_accuracy', patience=patience,
                                                        restore_best_weights=True)])
  return float(model.evaluate(dataset('test', False), verbose=0)[1])


def plain_keras(csv_path: str, labels_path: str) -> float:
  """The hand-written baseline; returns its test accuracy. It uses the Keras that `import tensorflow` gives a
  user (Keras 3), not the Keras 2 that TFX needs."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  import tensorflow as tf

  labels, splits = read_splits(csv_path, labels_path)
  tf.keras.utils.set_random_seed(0)
  regularizer = tf.keras.regularizers.l2(L2)
  model = tf.keras.Sequential([tf.keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))] + [
      layer for multiplier in (1, 2, 4) for layer in (
          tf.keras.layers.Conv2D(FILTERS * multiplier, 3, padding='same', use_bias=False),
          tf.keras.layers.BatchNormalization(momentum=0.9), tf.keras.layers.ReLU(),
          tf.keras.layers.MaxPooling2D())] + [
      tf.keras.layers.GlobalAveragePooling2D(),
      tf.keras.layers.Dropout(DROPOUT),
      tf.keras.layers.Dense(DENSE_UNITS, activation='relu', kernel_regularizer=regularizer),
      tf.keras.layers.Dense(len(labels), activation='softmax', kernel_regularizer=regularizer)])
  model.compile(optimizer=tf.keras.optimizers.Adam(LEARNING_RATE), loss='sparse_categorical_crossentropy',
                metrics=['accuracy'])
  return fit_and_test(model, splits, IMAGE_SIZE, BATCH_SIZE, EPOCHS, PATIENCE)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--work-dir', default=None)
  parser.add_argument('--plain-keras', nargs=2, metavar=('CSV', 'LABELS'), help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.plain_keras:
    print(json.dumps({'accuracy': plain_keras(*args.plain_keras)}))
    return

  from pipeline import sample_data
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='visionflow_overhead_')
  csv_path, labels_path = sample_data.materialize_digits(os.path.join(work_dir, 'digits'), IMAGE_SIZE)
  pipelines, plains = [], []
  for repeat in range(args.repeats):
    pipelines.append(run_pipeline(csv_path, labels_path, os.path.join(work_dir, f'run_{repeat}')))
    plains.append(run_plain_keras(csv_path, labels_path))
    print(f'repeat {repeat + 1}: pipeline {pipelines[-1]["wall"]:.1f}s '
          f'({100 * pipelines[-1]["cpu"] / pipelines[-1]["wall"]:.0f}% CPU), '
          f'plain Keras {plains[-1]["wall"]:.1f}s', flush=True)

  pipeline_wall = statistics.median(run['wall'] for run in pipelines)
  plain_wall = statistics.median(run['wall'] for run in plains)
  print(f'\n{"":<28}{"wall s":>10}{"CPU %":>10}{"test accuracy":>16}')
  for name, runs in (('visionflow run', pipelines), ('plain Keras script', plains)):
    print(f'{name:<28}{statistics.median(run["wall"] for run in runs):>10.1f}'
          f'{statistics.median(100 * run["cpu"] / run["wall"] for run in runs):>10.0f}'
          f'{statistics.median(run["accuracy"] for run in runs):>16.4f}')
  print(f'\npipeline / plain Keras wall time: {pipeline_wall / plain_wall:.2f}x (medians of {args.repeats})')
  print('\neach component, median seconds and share of the pipeline\'s wall time:')
  for name in pipelines[0]['steps']:
    seconds = statistics.median(run['steps'].get(name, 0.0) for run in pipelines)
    print(f'  {name:<26}{seconds:>8.1f}s{100 * seconds / pipeline_wall:>8.1f}%')
  in_steps = statistics.median(sum(run['steps'].values()) for run in pipelines)
  print(f'  {"outside the components":<26}{pipeline_wall - in_steps:>8.1f}s'
        f'{100 * (pipeline_wall - in_steps) / pipeline_wall:>8.1f}%  (imports, compile, metadata, summary)')


if __name__ == '__main__':
  main()
