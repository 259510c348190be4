"""tf.Transform preprocessing: the one graph shared by training, evaluation and serving.

Transform's custom_config carries `labels` (class names in labels-file order) and `image_size`, which its
executor (components/transform/component.py) chose from the data unless the config set it.
"""
from typing import Any, Dict, Sequence

import tensorflow as tf

from components import features
from components import model_input

# custom_config keys (components/transform/component.py writes them).
LABELS = 'labels'
IMAGE_SIZE = 'image_size'


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
  outputs = {features.PIXELS: decode_batch(inputs[features.IMAGE], int(custom_config[IMAGE_SIZE]))}
  if features.LABEL in inputs:
    outputs[features.LABEL_INDEX] = label_to_index(inputs[features.LABEL], custom_config[LABELS])
  return outputs
