"""TensorFlow Lite models of a pushed version, for devices: float, and dynamic-range quantized on request.

The TFLite model is the classifier below Transform (components/pixel_model.py): TFLite has no image decoder
and tf.Transform's graph does not convert, so a device decodes the image itself and feeds
float32 [1, S, S, 3] pixels in [0, 1], resized with padding exactly as Transform does. `device_input` is that
preprocessing in NumPy alone, the reference to port to a device's language; its output is what the model takes.
"""
import math
from typing import Sequence

import numpy as np
import tensorflow as tf

from components import pixel_model

def convert(classifier: pixel_model.PixelClassifier, quantize: bool = False) -> bytes:
  """The TFLite flatbuffer of the pixels -> probabilities function; weights int8 when `quantize`."""
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [classifier.probabilities.get_concrete_function()], classifier.saved_model)
  if quantize:  # dynamic range: int8 weights, float activations; no representative data needed
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  return converter.convert()


def _resize_axis(source: int, target: int):
  """TensorFlow's bilinear sampling along one axis (half-pixel centres, no antialiasing): the two source
  positions each target position blends, and the weight of the second."""
  centres = (np.arange(target, dtype=np.float64) + 0.5) * (source / target) - 0.5
  floor = np.floor(centres)
  lower = np.clip(floor, 0, source - 1).astype(np.int64)
  upper = np.clip(np.ceil(centres), 0, source - 1).astype(np.int64)
  return lower, upper, (centres - floor).astype(np.float32)


def device_input(rgb: np.ndarray, image_size: int) -> np.ndarray:
  """A decoded image (uint8 [height, width, 3], RGB) -> the TFLite model's input, float32 [1, S, S, 3].

  Transform's preprocessing step by step: scale to [0, 1]; shrink or grow to fit S x S keeping the aspect
  ratio (bilinear, sample centres at half pixels, as tf.image.resize); pad with black, centred. Grey images
  are repeated over the three channels before this, as the pipeline decodes them with channels=3.
  """
  height, width = rgb.shape[:2]
  image = rgb.astype(np.float32) * np.float32(1 / 255)
  ratio = max(width / image_size, height / image_size)
  resized_height, resized_width = math.floor(height / ratio), math.floor(width / ratio)
  rows_low, rows_high, row_weight = _resize_axis(height, resized_height)
  cols_low, cols_high, col_weight = _resize_axis(width, resized_width)
  top = image[rows_low] + (image[rows_high] - image[rows_low]) * row_weight[:, None, None]
  resized = top[:, cols_low] + (top[:, cols_high] - top[:, cols_low]) * col_weight[None, :, None]
  padded = np.zeros((1, image_size, image_size, 3), np.float32)
  offset_top = max(0, math.floor((image_size - height / ratio) / 2))
  offset_left = max(0, math.floor((image_size - width / ratio) / 2))
  padded[0, offset_top:offset_top + resized_height, offset_left:offset_left + resized_width] = resized
  return padded


class Interpreter:
  """A TFLite model file run as a device runs it, one image at a time."""

  def __init__(self, model_path: str):
    self._interpreter = tf.lite.Interpreter(model_path=model_path)
    self._interpreter.allocate_tensors()
    self._input = self._interpreter.get_input_details()[0]
    self._output = self._interpreter.get_output_details()[0]
    self.image_size = int(self._input['shape'][1])

  def probabilities(self, rgb: np.ndarray) -> Sequence[float]:
    self._interpreter.set_tensor(self._input['index'], device_input(rgb, self.image_size))
    self._interpreter.invoke()
    return self._interpreter.get_tensor(self._output['index'])[0]
