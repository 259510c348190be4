"""The Pusher: its check that a SavedModel serves what clients expect, and when it pushes, on real SavedModels
and a real JPEG."""
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components import executor_settings
from components import features
from components import names
from components.pusher import component as pusher
from components.reports import report_format
from components import serving_dir

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


def _push_inputs(tmp_path, jpeg, name, blessed_against, module=None):
  """The Pusher's inputs as TFX hands them over: a Model (Format-Serving), a blessing naming the production
  model it was computed against, and Examples whose test split holds a real JPEG."""
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / name / 'model')
  _save(tmp_path / name / 'model', 'Format-Serving', module or _Classifier(LABELS))
  blessing = standard_artifacts.ModelBlessing()
  blessing.uri = str(tmp_path / name / 'blessing')
  blessing.set_int_custom_property('blessed', 1)
  blessing.set_string_custom_property(names.BASELINE_VERSION_DIR, blessed_against or '')
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / 'examples')
  examples.split_names = '["test"]'
  if not os.path.exists(tmp_path / 'examples'):
    os.makedirs(tmp_path / 'examples' / 'Split-test')
    example = tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg]))}))
    with tf.io.TFRecordWriter(str(tmp_path / 'examples' / 'Split-test' / 'data.gz'), 'GZIP') as writer:
      writer.write(example.SerializeToString())
  return {'model': [model], 'model_blessing': [blessing], 'examples': [examples]}


def _push(tmp_path, inputs):
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / 'pushed')
  pusher.Executor().Do(inputs, {'pushed_model': [pushed]}, {
      pusher.SERVING_DIR: str(tmp_path / 'serving'),
      pusher.SETTINGS: executor_settings.to_json(pusher.PusherSettings(model_name='m', class_names=tuple(LABELS)))})
  return pushed


def test_a_blessing_computed_against_an_older_production_model_pushes_nothing(tmp_path, jpeg):
  """A cached Evaluator keeps a verdict computed before production changed: it must not push over it."""
  first = _push(tmp_path, _push_inputs(tmp_path, jpeg, 'a', blessed_against=None))
  [production] = serving_dir.versions(str(tmp_path / 'serving' / 'm'))
  assert first.get_int_custom_property('pushed') == 1
  stale = _push(tmp_path, _push_inputs(tmp_path, jpeg, 'b', blessed_against=None,
                                       module=_Classifier(LABELS, probability_scale=1.0 - 1e-6)))
  assert stale.get_int_custom_property('pushed') == 0
  assert stale.get_string_custom_property(names.NOT_PUSHED_REASON) == (
      f'the blessing was computed against no model in production, but {tmp_path}/serving/m/{production} is in '
      'production now; run again to evaluate against it')
  assert serving_dir.versions(str(tmp_path / 'serving' / 'm')) == [production]


def test_a_model_already_in_production_is_recorded_under_its_version_and_not_copied(tmp_path, jpeg):
  """A run killed after its push but before the push was recorded: the rerun must not push a second copy."""
  inputs = _push_inputs(tmp_path, jpeg, 'a', blessed_against=None)
  first = _push(tmp_path, inputs)
  again = _push(tmp_path, inputs)  # the same model and the same (now stale) blessing, as after the kill
  [version] = serving_dir.versions(str(tmp_path / 'serving' / 'm'))
  assert again.get_int_custom_property('pushed') == 1
  assert again.get_int_custom_property(names.ALREADY_SERVED) == 1
  assert again.get_string_custom_property('pushed_destination') == first.get_string_custom_property(
      'pushed_destination') == f'{tmp_path}/serving/m/{version}'


def test_a_model_identical_to_an_older_version_is_not_pushed_again(tmp_path, jpeg):
  old = _push_inputs(tmp_path, jpeg, 'a', blessed_against=None)
  _push(tmp_path, old)
  [first] = serving_dir.versions(str(tmp_path / 'serving' / 'm'))
  newer = f'{tmp_path}/serving/m/{first}'
  _push(tmp_path, _push_inputs(tmp_path, jpeg, 'b', blessed_against=newer,
                               module=_Classifier(LABELS, probability_scale=1.0 - 1e-6)))
  [_, second] = serving_dir.versions(str(tmp_path / 'serving' / 'm'))
  old['model_blessing'][0].set_string_custom_property(names.BASELINE_VERSION_DIR,
                                                       f'{tmp_path}/serving/m/{second}')
  refused = _push(tmp_path, old)
  assert refused.get_int_custom_property('pushed') == 0
  assert refused.get_string_custom_property(names.NOT_PUSHED_REASON).startswith(
      f'the model is version {newer} already, older than {tmp_path}/serving/m/{second}')
  assert serving_dir.versions(str(tmp_path / 'serving' / 'm')) == [first, second]


def test_the_pushed_version_holds_its_model_card(tmp_path, jpeg):
  pushed = _push(tmp_path, _push_inputs(tmp_path, jpeg, 'a', blessed_against=None))
  version_dir = pushed.get_string_custom_property('pushed_destination')
  with open(os.path.join(version_dir, names.MODEL_CARD_MARKDOWN_FILE)) as handle:
    card = handle.read()
  assert card.startswith(f'# Model card: m, version {os.path.basename(version_dir)}')
  assert f'| blessing (Evaluator) | {report_format.markdown_text(f"{tmp_path}/a/blessing")} |' in card
  # This test's model was not exported by the Trainer: the card says why it has no TFLite model.
  assert 'None: ' in card and 'not a model this pipeline trained' in card
  assert not os.path.exists(os.path.join(version_dir, names.TFLITE_FILE))
