"""Integrated gradients on a small trained model: completeness, the overlay PNG, and which test images are shown."""
import os

import numpy as np
import pytest
import tensorflow as tf

from components.evaluator import explanations
from components import features
from components import pixel_model
from components import training_record

LABELS = ('top', 'left', 'right')
IMAGE_SIZE = 16
_BRIGHT = {'top': (slice(0, 6), slice(None)), 'left': (slice(None), slice(0, 6)),
           'right': (slice(None), slice(10, 16))}


def bright_band(label: str, seed: int) -> np.ndarray:
  """float32 [S, S, 3] in [0, 1]: dim noise with a bright band where the class says."""
  pixels = np.random.default_rng(seed).uniform(0.0, 0.2, (IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
  pixels[_BRIGHT[label]] = 0.9
  return pixels


def png_bytes(pixels: np.ndarray) -> bytes:
  """Lossless, so that Transform's decode gives the model these very pixels."""
  return tf.io.encode_png((pixels * 255).round().astype(np.uint8)).numpy()


def save_small_model(model_dir: str) -> str:
  """Trains a small CNN to tell where the bright band is and exports it as the Trainer does: a Keras SavedModel
  over Transform's pixels with the training record beside it. A few seconds on a CPU."""
  tf.keras.utils.set_random_seed(0)
  pixels = tf.keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name=features.PIXELS)
  x = tf.keras.layers.Conv2D(4, 3, activation='relu')(pixels)
  x = tf.keras.layers.Flatten()(tf.keras.layers.MaxPooling2D()(x))
  probabilities = tf.keras.layers.Dense(len(LABELS), activation='softmax', name=features.PROBABILITIES)(x)
  model = tf.keras.Model(inputs={features.PIXELS: pixels}, outputs=probabilities)
  model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss='sparse_categorical_crossentropy')
  images = np.stack([bright_band(LABELS[index % 3], index) for index in range(120)])
  model.fit({features.PIXELS: images}, np.arange(120) % 3, epochs=20, batch_size=30, verbose=0)
  model.save(model_dir, save_format='tf')
  record = training_record.TrainingRecord(labels=LABELS, backbone='small_cnn', image_size=IMAGE_SIZE,
                                          hyperparameters={}, train_examples=120)
  os.makedirs(os.path.dirname(os.path.join(model_dir, training_record.RECORD_FILE)), exist_ok=True)
  with open(os.path.join(model_dir, training_record.RECORD_FILE), 'w') as handle:
    handle.write(record.to_json())
  return model_dir


@pytest.fixture(scope='module')
def classifier(tmp_path_factory):
  return pixel_model.load(save_small_model(str(tmp_path_factory.mktemp('model'))))


def test_the_small_model_has_learnt_its_classes(classifier):
  images = np.stack([bright_band(label, 1000 + index) for index, label in enumerate(LABELS)])
  assert classifier.predict(images).argmax(axis=1).tolist() == [0, 1, 2]


@pytest.mark.parametrize('label', LABELS)
def test_attributions_add_up_to_the_output_difference_from_the_black_image(classifier, label):
  image = bright_band(label, 7)
  on_image, on_black = classifier.predict(np.stack([image, np.zeros_like(image)]))
  for class_index in (None, (LABELS.index(label) + 1) % 3):  # the predicted class, and another one
    attribution = explanations.integrated_gradients(classifier, image, class_index)
    explained = LABELS.index(label) if class_index is None else class_index
    assert attribution.class_index == explained
    assert attribution.output_difference == pytest.approx(on_image[explained] - on_black[explained], abs=1e-5)
    assert attribution.total == pytest.approx(attribution.output_difference, abs=0.01)
  assert abs(explanations.integrated_gradients(classifier, image).output_difference) > 0.3  # not 0 = 0


def test_the_overlay_is_a_png_of_the_display_size_red_where_the_band_raised_the_class(classifier, tmp_path):
  image = bright_band('left', 8)
  explained = explanations.explain(classifier, image, str(tmp_path / 'out' / 'left.png'), 'left.png', 'left')
  assert (explained.predicted_label, explained.correct, explained.png_path) == (
      'left', True, str(tmp_path / 'out' / 'left.png'))
  assert explained.attribution_sum == pytest.approx(explained.output_difference, abs=0.01)
  overlay = tf.io.decode_png((tmp_path / 'out' / 'left.png').read_bytes()).numpy()
  assert overlay.shape == (explanations.DISPLAY_SIDE, explanations.DISPLAY_SIDE, 3)  # 16 px enlarged 8 times
  heatmap = explanations.integrated_gradients(classifier, image).heatmap
  row, column = np.unravel_index(heatmap.argmax(), heatmap.shape)
  red, _, blue = overlay[row * 8, column * 8].astype(int)
  assert red > blue + 100


def test_choose_takes_the_first_right_and_wrong_images_of_each_class_in_labels_order():
  true = ['a', 'b', 'a', 'a', 'b', 'a', 'a', 'a']
  predicted = ['a', 'b', 'b', 'a', 'a', 'a', 'b', 'b']
  assert explanations.choose(true, predicted, ['b', 'a', 'c'], per_class=2) == [1, 4, 0, 3, 2, 6]


def _write_split(folder, rows):
  """A GZIP TFRecord file of ExampleGen's examples: (path, label, encoded image)."""
  os.makedirs(folder)
  with tf.io.TFRecordWriter(os.path.join(folder, 'data_tfrecord-00000-of-00001.gz'), 'GZIP') as writer:
    for path, label, image in rows:
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          features.PATH: tf.train.Feature(bytes_list=tf.train.BytesList(value=[path.encode()])),
          features.LABEL: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
          features.IMAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
      })).SerializeToString())


def test_the_test_split_is_explained_right_and_wrong_per_class(classifier, tmp_path):
  """Three right images of each class, and two 'top' images labelled 'left': the model's two wrong answers."""
  rows = [(f'{label}/{seed}.png', label, png_bytes(bright_band(label, seed)))
          for seed in range(3) for label in LABELS]
  rows += [(f'mislabelled/{seed}.png', 'left', png_bytes(bright_band('top', seed))) for seed in (10, 11)]
  _write_split(str(tmp_path / 'Split-test'), rows)
  sample = explanations.explain_test_images(classifier.saved_model_dir, [str(tmp_path / 'Split-test')],
                                            str(tmp_path / 'report' / 'explanations'), ['label', 'size_bucket'])
  assert sample.examples_classified == 11 and not sample.error and sample.seconds > 0
  assert sample.answers.slice_features == ('label', 'size_bucket')
  assert [(answer.path, answer.correct, answer.slice_values) for answer in sample.answers.answers] == [
      (path, not path.startswith('mislabelled'), (label, None)) for path, label, _ in rows]
  assert [(shown.path, shown.true_label, shown.predicted_label) for shown in sample.explanations] == [
      ('top/0.png', 'top', 'top'), ('top/1.png', 'top', 'top'),
      ('left/0.png', 'left', 'left'), ('left/1.png', 'left', 'left'),
      ('mislabelled/10.png', 'left', 'top'), ('mislabelled/11.png', 'left', 'top'),
      ('right/0.png', 'right', 'right'), ('right/1.png', 'right', 'right')]
  for shown in sample.explanations:
    assert os.path.dirname(shown.png_path) == str(tmp_path / 'report' / 'explanations')
    assert tf.io.decode_png(open(shown.png_path, 'rb').read()).shape == (128, 128, 3)
    assert shown.attribution_sum == pytest.approx(shown.output_difference, abs=0.01)
