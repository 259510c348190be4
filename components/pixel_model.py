"""The exported classifier below its Transform graph: decoded pixels in, class probabilities out.

The SavedModel's signatures take encoded images and run Transform first. A TFLite model on a device, and
integrated gradients, need the differentiable part after it: float32 pixels [N, S, S, 3] in [0, 1] (the image
resized with padding to S x S, components/model_input.py) to probabilities [N, classes].
Keras saves that part as the SavedModel object's call, which this wraps.
"""
import dataclasses
import os
from typing import Any, Callable, Optional, Tuple

import numpy as np
import tensorflow as tf

from components import features
from components import model_input
from components import training_record as training_record_lib


class NotPipelineModelError(ValueError):
  """The SavedModel was not exported by this pipeline's Trainer, so its pixel input is unknown."""


@dataclasses.dataclass(frozen=True)
class PixelClassifier:
  saved_model_dir: str
  image_size: int
  labels: Tuple[str, ...]
  probabilities: Callable[[tf.Tensor], tf.Tensor]  # a tf.function: pixels [N, S, S, 3] -> [N, classes]
  saved_model: Any  # the loaded object, which owns the function's variables

  def pixels(self, image_bytes: bytes) -> np.ndarray:
    """Encoded image -> float32 [S, S, 3], by Transform's own decode and resize."""
    return model_input.decode_and_resize(tf.constant(image_bytes), self.image_size).numpy()

  def predict(self, pixels: np.ndarray) -> np.ndarray:
    return self.probabilities(tf.constant(pixels, tf.float32)).numpy()


def _read_text(path: str) -> str:
  if not tf.io.gfile.exists(path):  # GFile raises TensorFlow's NotFoundError, not an OSError
    raise FileNotFoundError(path)
  with tf.io.gfile.GFile(path) as handle:
    return handle.read()


def read_training_record(model_dir: str) -> Optional[training_record_lib.TrainingRecord]:
  """What the Trainer recorded beside the SavedModel it exported; None for a model exported elsewhere."""
  return training_record_lib.read_record(model_dir, _read_text)


def training_record(model_dir: str) -> training_record_lib.TrainingRecord:
  """The Trainer's record (image size, classes); NotPipelineModelError for a model exported elsewhere."""
  record = read_training_record(model_dir)
  if record is None:
    raise NotPipelineModelError(
        f'{model_dir} has no {training_record_lib.RECORD_FILE}: not a model this pipeline trained')
  return record


def load(saved_model_dir: str) -> PixelClassifier:
  """Loads a SavedModel the Trainer exported; NotPipelineModelError when it has no training record."""
  record = training_record(saved_model_dir)
  loaded = tf.saved_model.load(saved_model_dir)
  size = record.image_size

  @tf.function(autograph=False, input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32,
                                                               name=features.PIXELS)])
  def probabilities(pixels):
    return loaded({features.PIXELS: pixels}, training=False)

  return PixelClassifier(os.fspath(saved_model_dir), size, tuple(record.labels), probabilities, loaded)
