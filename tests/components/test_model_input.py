"""The input a model sees, from real JPEG bytes."""
import io

import numpy as np
import tensorflow as tf
from PIL import Image

from components import model_input


def _jpeg(width, height, colour):
  buffer = io.BytesIO()
  Image.new('RGB', (width, height), colour).save(buffer, format='JPEG', quality=95)
  return buffer.getvalue()


def test_wide_image_is_resized_keeping_its_aspect_and_padded_with_black():
  resized = model_input.decode_and_resize(tf.constant(_jpeg(64, 32, (255, 255, 255))), 16).numpy()
  assert resized.shape == (16, 16, 3) and resized.dtype == np.float32
  assert np.all(resized[:4] == 0) and np.all(resized[12:] == 0)  # 8 rows of image, padded above and below
  assert resized[5:11].min() > 0.95                               # white stays white, scaled to [0, 1]
