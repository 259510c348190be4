"""The TFLite export: the reference device preprocessing is Transform's, and the converted models answer as the
SavedModel does, on a real (small) Keras model exported as the Trainer exports it."""
import os

import numpy as np
import pytest
import tensorflow as tf

from components import features
from components import pixel_model
from components.pusher import tflite
from components import training_record
from components import model_input

IMAGE_SIZE = 16
LABELS = ('a', 'b', 'c')


@pytest.fixture(scope='module')
def exported_model(tmp_path_factory):
  """A Keras classifier on `pixels` saved as a SavedModel, with the training record the Trainer writes."""
  tf.keras.utils.set_random_seed(1)
  pixels = tf.keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name=features.PIXELS)
  hidden = tf.keras.layers.Conv2D(4, 3, activation='relu')(pixels)
  hidden = tf.keras.layers.GlobalAveragePooling2D()(hidden)
  hidden = tf.keras.layers.Dense(64, activation='relu')(tf.keras.layers.Dense(64, activation='relu')(hidden))
  probabilities = tf.keras.layers.Dense(len(LABELS), activation='softmax')(hidden)
  model = tf.keras.Model({features.PIXELS: pixels}, probabilities)
  path = str(tmp_path_factory.mktemp('model') / 'saved')
  model.save(path, save_format='tf')
  os.makedirs(os.path.join(path, 'assets.extra'))
  with open(os.path.join(path, training_record.RECORD_FILE), 'w') as handle:
    handle.write(training_record.TrainingRecord(LABELS, 'small_cnn', IMAGE_SIZE, {}, 10).to_json())
  return path


@pytest.mark.parametrize('shape', [(20, 30, 3), (16, 16, 3), (100, 37, 3), (10, 150, 3), (7, 7, 3)])
def test_device_input_is_transforms_resize_with_padding(shape):
  rgb = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
  expected = model_input.decode_and_resize(tf.io.encode_png(rgb), IMAGE_SIZE).numpy()
  np.testing.assert_allclose(tflite.device_input(rgb, IMAGE_SIZE)[0], expected, atol=1e-5)


@pytest.mark.parametrize('quantize', [False, True])
def test_the_tflite_model_answers_as_the_saved_model(exported_model, tmp_path, quantize):
  classifier = pixel_model.load(exported_model)
  path = tmp_path / 'model.tflite'
  path.write_bytes(tflite.convert(classifier, quantize=quantize))
  interpreter = tflite.Interpreter(str(path))
  assert interpreter.image_size == IMAGE_SIZE
  rng = np.random.default_rng(0)
  for shape in ((16, 16, 3), (40, 25, 3)):
    rgb = rng.integers(0, 256, shape, dtype=np.uint8)
    saved_model = classifier.predict(classifier.pixels(tf.io.encode_png(rgb).numpy())[None])[0]
    np.testing.assert_allclose(interpreter.probabilities(rgb), saved_model, atol=0.02 if quantize else 1e-5)


def test_quantized_is_smaller(exported_model):
  """Dynamic-range quantization stores weight matrices of at least 1,024 values as int8."""
  classifier = pixel_model.load(exported_model)
  assert len(tflite.convert(classifier, quantize=True)) < len(tflite.convert(classifier))


def test_a_model_not_exported_by_the_trainer_is_named(tmp_path):
  module = tf.Module()
  tf.saved_model.save(module, str(tmp_path / 'other'))
  with pytest.raises(pixel_model.NotPipelineModelError, match='not a model this pipeline trained'):
    pixel_model.load(str(tmp_path / 'other'))
