"""tf.Transform preprocessing: the one graph shared by training, evaluation and serving.

Transform's custom_config carries PreprocessingSettings, which its executor (components/transform/
component.py) writes with the image size it chose from the data unless the config set it.
"""
import dataclasses
from typing import Any, Dict, Sequence, Tuple

import tensorflow as tf

from components import executor_settings
from components import features
from components import model_input


@dataclasses.dataclass(frozen=True)
class PreprocessingSettings:
  """What preprocessing_fn reads from its custom_config (written with components/executor_settings.py)."""
  labels: Tuple[str, ...]  # the class names, in labels-file order
  image_size: int  # the side every image is resized to


def decode_batch(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
  """A batch of encoded images (shape [N] or [N, 1]) -> float32 [N, image_size, image_size, 3]."""
  return tf.map_fn(lambda encoded: model_input.decode_and_resize(encoded, image_size),
                   tf.reshape(image_bytes, [-1]),
                   fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32))


def label_to_index(label: tf.Tensor, labels: Sequence[str]) -> tf.Tensor:
  """Position of each class name in `labels` (the labels file order), -1 for a name not listed."""
  matches = tf.equal(tf.reshape(label, [-1, 1]), tf.constant(list(labels))[tf.newaxis, :])
  found = tf.reduce_any(matches, axis=1)
  return tf.where(found, tf.argmax(tf.cast(matches, tf.int64), axis=1), tf.constant(-1, tf.int64))


def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  """Raw features -> {pixels, label_index}. Only IMAGE is needed, so serving can pass the image alone."""
  settings = executor_settings.from_json_dict(PreprocessingSettings, custom_config)
  outputs = {features.PIXELS: decode_batch(inputs[features.IMAGE], settings.image_size)}
  if features.LABEL in inputs:
    outputs[features.LABEL_INDEX] = label_to_index(inputs[features.LABEL], settings.labels)
  return outputs
