"""Is the input pipeline fast enough? Its images/s alone versus the model's training images/s.

Writes Transform-shaped examples (float32 pixels, label index) as GZIP TFRecord shards, then measures in
one run, for each model: iterating components.trainer.training.make_dataset alone (parallel interleaved reads,
batched parsing, prefetch) and model.fit on the same dataset. Prints the ratio: the input pipeline must be
several times faster than the model consumes, or an accelerator would wait on it.

Usage: .venv/bin/python benchmarks/input_pipeline_benchmark.py [--examples 2048] [--repeats 3]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import tensorflow as tf

from components import features
from components.model_choice import SMALL_CNN_MAX_SIZE
from components.trainer import model as model_lib
from components.trainer.settings import TuningSettings
from components.trainer import training

# (backbone, Transform's image size, weights): the defaults' sizes. Where the Tuner compares both backbones,
# Transform writes the pretrained one's size, which the small CNN averages down inside the model.
MODELS = (('small_cnn', 96, None), ('efficientnet_lite0', 96, 'imagenet'))
BATCH_SIZE = 32


def write_examples(folder: str, count: int, image_size: int, shards: int = 4) -> str:
  rng = np.random.default_rng(0)
  os.makedirs(folder, exist_ok=True)
  for shard in range(shards):
    with tf.io.TFRecordWriter(os.path.join(folder, f'part-{shard}.gz'), options='GZIP') as writer:
      for _ in range(count // shards):
        pixels = rng.random((image_size, image_size, 3), dtype=np.float32)
        writer.write(tf.train.Example(features=tf.train.Features(feature={
            features.PIXELS: tf.train.Feature(float_list=tf.train.FloatList(value=pixels.reshape(-1))),
            features.LABEL_INDEX: tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.integers(5)])),
        })).SerializeToString())
  return os.path.join(folder, '*.gz')


def feature_spec(image_size: int) -> dict:
  return {features.PIXELS: tf.io.FixedLenFeature([image_size, image_size, 3], tf.float32),
          features.LABEL_INDEX: tf.io.FixedLenFeature([], tf.int64)}


def input_rate(pattern: str, image_size: int, steps: int) -> float:
  dataset = training.make_dataset([pattern], feature_spec(image_size), BATCH_SIZE, training=True)
  iterator = iter(dataset)
  next(iterator)  # warm-up: open files, fill buffers
  start = time.perf_counter()
  for _ in range(steps):
    next(iterator)
  return steps * BATCH_SIZE / (time.perf_counter() - start)


def training_rate(pattern: str, backbone: str, image_size: int, weights, steps: int) -> float:
  settings = TuningSettings(labels=tuple(str(index) for index in range(5)), image_size=image_size,
                            backbone=backbone, weights=weights, augment_crop=True, augment_flip=True,
                            augment_colour=True, batch_size=BATCH_SIZE, tuner='random', tuner_trials=1,
                            tuner_epochs=1, patience=5, random_seed=0, small_cnn_size=SMALL_CNN_MAX_SIZE)
  model = model_lib.build_model(model_lib.hyperparameter_space(backbone), settings)
  dataset = training.make_dataset([pattern], feature_spec(image_size), BATCH_SIZE, training=True)
  model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)  # warm-up: trace and build
  start = time.perf_counter()
  model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
  return steps * BATCH_SIZE / (time.perf_counter() - start)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--examples', type=int, default=2048)
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()
  work_dir = tempfile.mkdtemp(prefix='visionflow_input_bench_')
  print(f'{"model":<22}{"size":>6}{"input images/s":>16}{"training images/s":>19}{"ratio":>8}')
  for backbone, image_size, weights in MODELS:
    pattern = write_examples(os.path.join(work_dir, f'{backbone}_{image_size}'), args.examples, image_size)
    inputs = statistics.median(input_rate(pattern, image_size, args.steps * 2) for _ in range(args.repeats))
    trained = statistics.median(training_rate(pattern, backbone, image_size, weights, args.steps)
                                for _ in range(args.repeats))
    print(f'{backbone:<22}{image_size:>6}{inputs:>16.0f}{trained:>19.1f}{inputs / trained:>8.1f}x')
  print(f'\nmedians of {args.repeats}; batch {BATCH_SIZE}; augmentation on; CPU, {os.cpu_count()} cores')


if __name__ == '__main__':
  main()
