"""A frozen pretrained backbone's features, computed once per image, for the head above it to train on.

While the backbone is frozen its output for an image does not change from epoch to epoch, yet a fit on images
computes it again on every epoch of every trial. The head trains instead on features computed once, as TF
Hub's retrain.py and Teachable Machine do. With augmentation, each training image gives AUGMENTED_VIEWS
random views (the model's own augmentation layers), so that the head still sees varied images; an epoch is
still one pass's worth of steps. The Tuner's trials and the Trainer's frozen phase train this way; fine-tuning,
which changes the backbone, trains on images.
"""
import dataclasses
import math
from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from components import features
from components.trainer import model as model_lib

AUGMENTED_VIEWS = 4
# Above this many bytes of features (images x views x feature size x 4) the images are trained on instead.
MAX_FEATURE_BYTES = 2 * 1024 ** 3
# The strategies under which a fit trains on cached features: the workers of a multi-worker cluster and a TPU's
# hosts train on images.
SINGLE_PROCESS_STRATEGIES: Sequence[str] = ('one_device', 'mirrored')


Features = Tuple[np.ndarray, np.ndarray]  # (features [images, size], class indices [images])


@dataclasses.dataclass(frozen=True)
class FeatureSets:
  eval: Features
  train_images: int
  plain: Optional[Features]      # one unaugmented view of each training image
  augmented: Optional[Features]  # AUGMENTED_VIEWS random views of each

  @property
  def size(self) -> int:
    return int(self.eval[0].shape[1])

  def datasets(self, batch_size: int, seed: int, augmented: bool) -> Tuple[tf.data.Dataset, tf.data.Dataset, int]:
    """(training batches, shuffled and repeated; eval batches; steps per epoch: one pass over the images)."""
    values, labels = self.augmented if augmented else self.plain
    train = tf.data.Dataset.from_tensor_slices(({model_lib.FEATURES: values}, labels))
    train = train.shuffle(len(labels), seed=seed).repeat().batch(batch_size, drop_remainder=True)
    evaluation = tf.data.Dataset.from_tensor_slices(({model_lib.FEATURES: self.eval[0]}, self.eval[1]))
    return (train.prefetch(tf.data.AUTOTUNE), evaluation.batch(batch_size).prefetch(tf.data.AUTOTUNE),
            max(1, math.ceil(self.train_images / batch_size)))


def compute(model: tf.keras.Model, backbone_name: str, train_images: tf.data.Dataset, train_count: int,
            eval_images: tf.data.Dataset, plain: bool, augmented: bool,
            computed: Optional[FeatureSets] = None) -> Optional[FeatureSets]:
  """The features of `model`'s backbone layer for each image of the two (finite, unshuffled) datasets of
  ({pixels}, label) batches: of the training images one plain view (`plain`) and AUGMENTED_VIEWS views through
  the model's augmentation layers (`augmented`), besides those `computed` before (whose eval features are
  kept). None when they would take more than MAX_FEATURE_BYTES."""
  backbone = model.get_layer(backbone_name)
  augmentation = model.get_layer('augmentation')
  views = int(plain) + AUGMENTED_VIEWS * int(augmented)
  if computed is not None:
    views += int(computed.plain is not None) + AUGMENTED_VIEWS * int(computed.augmented is not None)
  size = int(backbone.output_shape[-1])
  if train_count * views * size * 4 > MAX_FEATURE_BYTES:
    logging.info('Trainer: %d images x %d views of %d features exceed %d bytes: training on the images',
                 train_count, views, size, MAX_FEATURE_BYTES)
    return None

  @tf.function(autograph=False)
  def view(pixels, augment):
    return backbone(augmentation(pixels, training=True) if augment else pixels, training=False)

  def run(images: tf.data.Dataset, augment: bool, passes: int = 1) -> Features:
    batches = [(view(batch[features.PIXELS], augment).numpy(), labels.numpy())
               for _ in range(passes) for batch, labels in images]
    return np.concatenate([values for values, _ in batches]), np.concatenate([labels for _, labels in batches])

  return FeatureSets(eval=computed.eval if computed else run(eval_images, False), train_images=train_count,
                     plain=run(train_images, False) if plain else computed and computed.plain,
                     augmented=(run(train_images, True, AUGMENTED_VIEWS) if augmented
                                else computed and computed.augmented))


def uses_cached_features(weights: Optional[str], strategy_name: str) -> bool:
  """Whether a fit trains its head on cached features: a pretrained (frozen) backbone, in one process."""
  return bool(weights) and strategy_name in SINGLE_PROCESS_STRATEGIES

