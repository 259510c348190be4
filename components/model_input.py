"""The input a model sees: encoded image bytes decoded, scaled to [0, 1] and resized with padding to a square.

Transform's graph (components/transform/preprocessing.py) runs it for training, evaluation and serving; the
pixel model (components/pixel_model.py), under the Transform graph, takes its output; the TFLite model's
reference preprocessing (components/pusher/tflite.py:device_input) is tested against it.
"""
import tensorflow as tf


def decode_and_resize(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
  """Encoded JPEG/PNG/GIF/BMP bytes of any size -> float32 [image_size, image_size, 3] in [0, 1].

  Aspect ratio is preserved: the image is resized to fit and padded with black.
  """
  image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
  image = tf.image.convert_image_dtype(image, tf.float32)
  return tf.image.resize_with_pad(image, image_size, image_size)
