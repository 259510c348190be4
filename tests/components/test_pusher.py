"""The Pusher's check that a SavedModel serves what clients expect, on real SavedModels and a real JPEG."""
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components import features
from components import pusher

LABELS = ['cat', 'dog', 'fish']


class _Classifier(tf.Module):
  """Decodes JPEG bytes and scores mean colour: small, but a real SavedModel with the serving contract."""

  def __init__(self, class_names, probability_scale=1.0):
    super().__init__()
    self.weights = tf.Variable(np.arange(3 * len(class_names), dtype=np.float32).reshape(3, len(class_names)))
    self.class_names = tf.constant(class_names)
    self.probability_scale = probability_scale

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT)])
  def serve(self, image_bytes):
    images = tf.map_fn(lambda encoded: tf.image.resize(tf.io.decode_jpeg(encoded, channels=3), [8, 8]),
                       image_bytes, fn_output_signature=tf.float32)
    probabilities = tf.nn.softmax(tf.reduce_mean(images, axis=[1, 2]) / 255.0 @ self.weights)
    class_index = tf.argmax(probabilities, axis=1)
    return {features.PROBABILITIES: probabilities * self.probability_scale,
            features.CLASS_INDEX: class_index,
            features.CLASS_NAME: tf.gather(self.class_names, class_index)}


def _save(tmp_path, name, module, with_signature=True):
  path = str(tmp_path / name)
  signatures = {'serving_default': module.serve} if with_signature else {}
  tf.saved_model.save(module, path, signatures=signatures)
  return path


@pytest.fixture(scope='module')
def jpeg():
  pixels = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
  return tf.io.encode_jpeg(pixels).numpy()


def test_a_model_that_serves_the_contract_passes(tmp_path, jpeg):
  pusher.check_saved_model(_save(tmp_path, 'good', _Classifier(LABELS)), jpeg, LABELS)


@pytest.mark.parametrize('module, labels, message', [
    (_Classifier(LABELS + ['bird']), LABELS, 'has 4 classes, the labels file 3'),
    (_Classifier(LABELS, probability_scale=2.0), LABELS, 'probabilities are not a distribution'),
    (_Classifier(['ant', 'bee', 'cow']), LABELS, "class name '.*' is not in the labels file"),
])
def test_a_model_clients_cannot_use_is_refused(tmp_path, jpeg, module, labels, message):
  with pytest.raises(pusher.ModelCheckError, match=message):
    pusher.check_saved_model(_save(tmp_path, 'bad', module), jpeg, labels)


def test_a_model_without_serving_default_is_refused(tmp_path, jpeg):
  path = _save(tmp_path, 'unsigned', _Classifier(LABELS), with_signature=False)
  with pytest.raises(pusher.ModelCheckError, match='has no serving_default signature'):
    pusher.check_saved_model(path, jpeg, LABELS)


def test_a_folder_that_is_not_a_saved_model_is_refused(tmp_path, jpeg):
  (tmp_path / 'junk').mkdir()
  (tmp_path / 'junk' / 'saved_model.pb').write_bytes(b'not a protocol buffer')
  with pytest.raises(pusher.ModelCheckError, match='does not load as a SavedModel'):
    pusher.check_saved_model(str(tmp_path / 'junk'), jpeg, LABELS)


def test_first_image_reads_the_test_split(tmp_path, jpeg):
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / 'examples')
  examples.split_names = '["train", "test"]'
  os.makedirs(tmp_path / 'examples' / 'Split-test')
  example = tf.train.Example(features=tf.train.Features(feature={
      features.IMAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg]))}))
  with tf.io.TFRecordWriter(str(tmp_path / 'examples' / 'Split-test' / 'data.gz'), 'GZIP') as writer:
    writer.write(example.SerializeToString())
  assert pusher.first_image(examples) == jpeg
  with pytest.raises(pusher.ModelCheckError, match='no example'):
    pusher.first_image(examples, split='train')
