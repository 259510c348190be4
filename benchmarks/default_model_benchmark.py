"""The default model against a plain Keras CNN, on real images the defaults were not tuned for.

Measured side by side in one run, each in a fresh process, on the same train/eval/test images (a split column
from each image's bytes hash, as ExampleGen would make):
  - `visionflow run --tuner-trials 0` with the default config: the data chooses the model
    (components/model_choice.py), and the run prints the choice;
  - a plain Keras script, as a user would write it by hand (with the Keras that `import tensorflow` gives):
    a standard small CNN of two conv blocks with batch normalisation, Adam, 15 epochs with early stopping on
    the eval split, at the image size the pipeline chose.

Image sets, all real images that ship with packages the project installs (no download):
  - digits_72px: scikit-learn's 1,797 handwritten digit scans at 72 px, not the 32 px the sample uses;
  - photo_crops: 1,200 crops (96-256 px) of the ten colour photos that scikit-image and scikit-learn ship, the
    class being the photo a crop comes from;
  - digits_32px: the embedded sample, whose test accuracy must stay at least 0.98.

Prints, per set, the medians of both test accuracies, their difference, and the model the data chose.

Usage: .venv/bin/python benchmarks/default_model_benchmark.py [--repeats 1] [--work-dir DIR]
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

from benchmarks import pipeline_overhead_benchmark as overhead  # noqa: E402  (after the path)

MODEL_LINE = re.compile(r'^Model: (.*)$', re.MULTILINE)
CHOSEN_SIZE = re.compile(r' at (\d+) px')
PLAIN_EPOCHS = 15
# Early stopping that keeps the best eval-split epoch, as the Trainer does. With a shorter patience the plain
# CNN stopped at chance: batch normalisation's moving averages lag its weights for the first epochs, so its
# eval accuracy (0.11 on the digits) rises only later.
PLAIN_PATIENCE = PLAIN_EPOCHS
CROPS_PER_PHOTO = 120


def photo_crops(target_dir: str) -> None:
  """Random square crops of the packages' colour photos, resized to 96-256 px and saved as JPEG."""
  import numpy as np
  import skimage.data
  import sklearn.datasets
  from PIL import Image

  photos = {'astronaut': skimage.data.astronaut(), 'chelsea': skimage.data.chelsea(),
            'coffee': skimage.data.coffee(), 'hubble': skimage.data.hubble_deep_field(),
            'ihc': skimage.data.immunohistochemistry(), 'motorcycle': skimage.data.stereo_motorcycle()[0],
            'retina': skimage.data.retina(), 'rocket': skimage.data.rocket()}
  photos.update(zip(('china', 'flower'), sklearn.datasets.load_sample_images().images))
  rng = np.random.default_rng(0)
  rows = []
  for name, photo in photos.items():
    os.makedirs(os.path.join(target_dir, name), exist_ok=True)
    height, width = photo.shape[:2]
    for index in range(CROPS_PER_PHOTO):
      side = int(rng.uniform(0.2, 0.45) * min(height, width))
      top, left = rng.integers(0, height - side), rng.integers(0, width - side)
      size = int(rng.uniform(96, 256))
      relative = f'{name}/crop_{index:04d}.jpg'
      Image.fromarray(photo[top:top + side, left:left + side, :3]).resize((size, size), Image.BILINEAR).save(
          os.path.join(target_dir, relative), quality=90)
      rows.append((relative, name))
  _write_layout(target_dir, rows, list(photos))


def _write_layout(target_dir: str, rows, labels) -> None:
  with open(os.path.join(target_dir, 'labels.txt'), 'w') as handle:
    handle.write('\n'.join(labels) + '\n')
  with open(os.path.join(target_dir, 'all_data.csv'), 'w', newline='') as handle:
    csv.writer(handle).writerows(rows)


def with_split_column(csv_path: str) -> str:
  """The CSV with a third column naming each row's split, so that both sides see the same images."""
  folder = os.path.dirname(csv_path)
  split_csv = os.path.join(folder, 'split_data.csv')
  with open(csv_path, newline='') as source, open(split_csv, 'w', newline='') as target:
    writer = csv.writer(target)
    for relative, label in csv.reader(source):
      with open(os.path.join(folder, relative), 'rb') as image:
        writer.writerow([relative, label, overhead.split_of(image.read())])
  return split_csv


def run_pipeline(csv_path: str, labels_path: str, output_dir: str) -> dict:
  measured = overhead.timed_process([
      sys.executable, '-m', 'pipeline.cli', 'run', '--tuner-trials', '0', '--no-cache', '--data-csv', csv_path,
      '--labels-file', labels_path, '--output-dir', output_dir, '--min-accuracy', '0'])
  model = MODEL_LINE.search(measured['stdout']).group(1)
  return dict(measured, model=model, image_size=int(CHOSEN_SIZE.search(model).group(1)),
              accuracy=float(overhead.TEST_ACCURACY.search(measured['stdout']).group(1)))


def run_plain_cnn(csv_path: str, labels_path: str, image_size: int) -> dict:
  environment = {name: value for name, value in os.environ.items() if name != 'TF_USE_LEGACY_KERAS'}
  measured = overhead.timed_process([sys.executable, os.path.abspath(__file__), '--plain-cnn', csv_path,
                                     labels_path, str(image_size)], environment)
  return dict(measured, accuracy=json.loads(measured['stdout'].strip().splitlines()[-1])['accuracy'])


def plain_cnn(csv_path: str, labels_path: str, image_size: int) -> float:
  """The hand-written baseline; returns its test accuracy."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
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
  model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
  return overhead.fit_and_test(model, splits, image_size, 32, PLAIN_EPOCHS, PLAIN_PATIENCE)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=1)
  parser.add_argument('--work-dir', default=None)
  parser.add_argument('--plain-cnn', nargs=3, metavar=('CSV', 'LABELS', 'SIZE'), help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.plain_cnn:
    csv_path, labels_path, size = args.plain_cnn
    print(json.dumps({'accuracy': plain_cnn(csv_path, labels_path, int(size))}))
    return

  from pipeline import sample_data
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='visionflow_default_model_')
  sets = {'digits_72px': sample_data.materialize_digits(os.path.join(work_dir, 'digits_72px'), 72)}
  photo_crops(os.path.join(work_dir, 'photo_crops'))
  sets['photo_crops'] = (os.path.join(work_dir, 'photo_crops', 'all_data.csv'),
                         os.path.join(work_dir, 'photo_crops', 'labels.txt'))
  sets['digits_32px'] = sample_data.materialize_digits(os.path.join(work_dir, 'digits_32px'), 32)
  results = {}
  for name, (csv_path, labels_path) in sets.items():
    split_csv = with_split_column(csv_path)
    for repeat in range(args.repeats):
      pipeline = run_pipeline(split_csv, labels_path, os.path.join(work_dir, f'run_{name}_{repeat}'))
      plain = run_plain_cnn(split_csv, labels_path, pipeline['image_size'])
      results.setdefault(name, []).append((pipeline, plain))
      print(f'{name} repeat {repeat + 1}: visionflow {pipeline["accuracy"]:.4f} ({pipeline["wall"]:.0f}s), '
            f'plain CNN {plain["accuracy"]:.4f} ({plain["wall"]:.0f}s); model: {pipeline["model"]}', flush=True)

  print(f'\n{"test accuracy, medians":<24}{"visionflow":>12}{"plain CNN":>12}{"difference":>12}')
  for name, pairs in results.items():
    ours = statistics.median(pipeline['accuracy'] for pipeline, _ in pairs)
    theirs = statistics.median(plain['accuracy'] for _, plain in pairs)
    print(f'{name:<24}{ours:>12.4f}{theirs:>12.4f}{ours - theirs:>+12.4f}')
  digits = statistics.median(pipeline['accuracy'] for pipeline, _ in results['digits_32px'])
  print(f'\nembedded digits test accuracy {digits:.4f} (target at least 0.98)')


if __name__ == '__main__':
  main()
