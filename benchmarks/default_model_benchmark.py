"""The default run against the two plain scripts a user would otherwise write, on a zoo of real image sets.

Per set (benchmarks/image_zoo.py, and the embedded digits), side by side, each in a fresh process, on the same
train/eval/test images (the CSV's split column):
  - `visionflow run` with the default config, the gates included, so that it also says whether a user's first
    run would push its model;
  - a plain Keras CNN (with the Keras that `import tensorflow` gives): two blocks of two 3x3 convolutions with
    batch normalisation, Adam at 1e-3, 15 epochs keeping the best eval epoch, no augmentation, at 32 px (with
    early stopping at patience 3 it stopped at chance on digit_scans, 0.063, and glyphs_rgb, 0.100: batch
    normalisation's averages lag the weights for the first epochs, so the eval accuracy rises only later);
  - frozen-backbone transfer learning, the other script a user would write: efficientnet_lite0 with its
    ImageNet weights (the ones the pipeline uses, shipped with a Python package), frozen, under a softmax
    layer, Adam at 1e-3, 15 epochs with early stopping (patience 3, best eval epoch kept), at the pipeline's
    image size (at least 96 px).

Accuracy is on each set's test split, which is held out: what tuned the defaults looked at train and eval only.
Sets are TUNING (the defaults may be changed while looking at them) or ACCEPTANCE (looked at last, after a
change; they count for more). Prints per set the medians of the run's test accuracy against the better
baseline's, the difference, the run's wall time over that baseline's, and whether the run pushed.

Usage: .venv/bin/python benchmarks/default_model_benchmark.py [--repeats 1] [--sets a,b] [--work-dir DIR]
"""
import argparse
import csv
import json
import os
import re
import statistics
import sys
import tempfile

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)

from benchmarks import image_zoo  # noqa: E402  (after the path)
from benchmarks import pipeline_overhead_benchmark as overhead  # noqa: E402

TUNING = ('digits_32px', 'digit_scans', 'glyphs_rgb', 'photo_crops')
ACCEPTANCE = ('colour_thumbnails', 'grey_textures_rgb', 'photo_region_shift', 'faces_lfw')
MODEL_LINE = re.compile(r'^Model: (.*)$', re.MULTILINE)
TRAINING_LINE = re.compile(r'^Training: (.*)$', re.MULTILINE)
# The pipeline's image size: the small CNN's line names it as the size it averages down from.
CHOSEN_SIZE = re.compile(r' at (?:\d+ px \(averaged from )?(\d+)')
PLAIN_EPOCHS = 15
CNN_PATIENCE = PLAIN_EPOCHS
TRANSFER_PATIENCE = 3
PLAIN_CNN_SIZE = 32
TRANSFER_MIN_SIZE = 96


def with_split_column(csv_path: str) -> str:
  """The CSV with a third column naming each row's split, so that every side sees the same images."""
  folder = os.path.dirname(csv_path)
  split_csv = os.path.join(folder, 'split_data.csv')
  with open(csv_path, newline='') as source, open(split_csv, 'w', newline='') as target:
    writer = csv.writer(target)
    for relative, label in csv.reader(source):
      with open(os.path.join(folder, relative), 'rb') as image:
        writer.writerow([relative, label, overhead.split_of(image.read())])
  return split_csv


def run_pipeline(csv_path: str, labels_path: str, output_dir: str) -> dict:
  """The default run; exit code 1 (not blessed) is an outcome here, not a failure."""
  measured = overhead.timed_process([sys.executable, '-m', 'pipeline.cli', 'run', '--no-cache', '--data-csv',
                                     csv_path, '--labels-file', labels_path, '--output-dir', output_dir],
                                    ok_codes=(0, 1))
  model = MODEL_LINE.search(measured['stdout']).group(1)
  return dict(measured, model=model, image_size=int(CHOSEN_SIZE.search(model).group(1)),
              training=TRAINING_LINE.search(measured['stdout']).group(1),
              accuracy=float(overhead.TEST_ACCURACY.search(measured['stdout']).group(1)),
              pushed='Pushed model: ' in measured['stdout'])


def run_baseline(kind: str, csv_path: str, labels_path: str, image_size: int) -> dict:
  """A plain script in a fresh process: 'cnn' with Keras 3, 'transfer' with the Keras 2 the backbone is in."""
  environment = {name: value for name, value in os.environ.items() if name != 'TF_USE_LEGACY_KERAS'}
  if kind == 'transfer':
    environment['TF_USE_LEGACY_KERAS'] = '1'
  measured = overhead.timed_process([sys.executable, os.path.abspath(__file__), '--baseline', kind, csv_path,
                                     labels_path, str(image_size)], environment)
  return dict(measured, accuracy=json.loads(measured['stdout'].strip().splitlines()[-1])['accuracy'])


def plain_cnn(csv_path: str, labels_path: str, image_size: int) -> float:
  """The hand-written CNN; returns its test accuracy."""
  import tensorflow as tf

  labels, splits = overhead.read_splits(csv_path, labels_path)

  def conv_block(filters):
    return [layer for _ in range(2) for layer in (
        tf.keras.layers.Conv2D(filters, 3, padding='same', use_bias=False),
        tf.keras.layers.BatchNormalization(), tf.keras.layers.ReLU())] + [tf.keras.layers.MaxPooling2D()]

  tf.keras.utils.set_random_seed(0)
  model = tf.keras.Sequential([tf.keras.Input((image_size, image_size, 3))] + conv_block(32) + conv_block(64) + [
      tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dropout(0.3),
      tf.keras.layers.Dense(len(labels), activation='softmax')])
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss='sparse_categorical_crossentropy',
                metrics=['accuracy'])
  return overhead.fit_and_test(model, splits, image_size, 32, PLAIN_EPOCHS, CNN_PATIENCE)


def frozen_transfer(csv_path: str, labels_path: str, image_size: int) -> float:
  """Transfer learning as a user writes it: the pretrained backbone frozen, a softmax layer on its features."""
  import tensorflow as tf

  from components.trainer.backbones import efficientnet_lite0

  labels, splits = overhead.read_splits(csv_path, labels_path)
  tf.keras.utils.set_random_seed(0)
  backbone = efficientnet_lite0.build_efficientnet_lite0(input_shape=(image_size, image_size, 3),
                                                         include_top=False, weights='imagenet', pooling='avg')
  backbone.trainable = False
  model = tf.keras.Sequential([tf.keras.Input((image_size, image_size, 3)), backbone,
                               tf.keras.layers.Dense(len(labels), activation='softmax')])
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss='sparse_categorical_crossentropy',
                metrics=['accuracy'])
  return overhead.fit_and_test(model, splits, image_size, 32, PLAIN_EPOCHS, TRANSFER_PATIENCE)


def materialize(name: str, work_dir: str):
  """(csv_path, labels_path) of a set, with its split column."""
  if name == 'digits_32px':
    from pipeline import sample_data
    return with_split_column(sample_data.materialize_digits(os.path.join(work_dir, name), 32)[0]), os.path.join(
        work_dir, name, 'labels.txt')
  return image_zoo.materialize(name, os.path.join(work_dir, name))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=1)
  parser.add_argument('--sets', default=','.join(TUNING + ACCEPTANCE))
  parser.add_argument('--work-dir', default=None)
  parser.add_argument('--baseline', nargs=4, metavar=('KIND', 'CSV', 'LABELS', 'SIZE'), help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.baseline:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    kind, csv_path, labels_path, size = args.baseline
    accuracy = {'cnn': plain_cnn, 'transfer': frozen_transfer}[kind](csv_path, labels_path, int(size))
    print(json.dumps({'accuracy': accuracy}))
    return

  image_zoo.ensure_sources()
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='visionflow_default_model_')
  results = {}
  for name in args.sets.split(','):
    csv_path, labels_path = materialize(name, work_dir)
    for repeat in range(args.repeats):
      ours = run_pipeline(csv_path, labels_path, os.path.join(work_dir, f'run_{name}_{repeat}'))
      cnn = run_baseline('cnn', csv_path, labels_path, PLAIN_CNN_SIZE)
      transfer = run_baseline('transfer', csv_path, labels_path, max(ours['image_size'], TRANSFER_MIN_SIZE))
      results.setdefault(name, []).append((ours, cnn, transfer))
      print(f'{name} repeat {repeat + 1}: visionflow {ours["accuracy"]:.4f} ({ours["wall"]:.0f} s, '
            f'{"pushed" if ours["pushed"] else "not pushed"}), plain CNN {cnn["accuracy"]:.4f} ({cnn["wall"]:.0f} s), '
            f'frozen transfer {transfer["accuracy"]:.4f} ({transfer["wall"]:.0f} s)\n  model: {ours["model"]}\n'
            f'  training: {ours["training"]}', flush=True)

  print(f'\n{"medians":<22}{"group":>11}{"visionflow":>11}{"CNN":>8}{"transfer":>10}{"better":>9}{"diff":>8}'
        f'{"time x":>8}{"pushed":>8}')
  for name, runs in results.items():
    ours = statistics.median(run[0]['accuracy'] for run in runs)
    cnn = statistics.median(run[1]['accuracy'] for run in runs)
    transfer = statistics.median(run[2]['accuracy'] for run in runs)
    better = 1 if cnn >= transfer else 2
    ratio = statistics.median(run[0]['wall'] / run[better]['wall'] for run in runs)
    pushed = sum(run[0]['pushed'] for run in runs)
    print(f'{name:<22}{"tuning" if name in TUNING else "acceptance":>11}{ours:>11.4f}{cnn:>8.4f}{transfer:>10.4f}'
          f'{("CNN", "transfer")[better - 1]:>9}{ours - max(cnn, transfer):>+8.4f}{ratio:>7.2f}x'
          f'{pushed:>5}/{len(runs)}')


if __name__ == '__main__':
  main()
