"""A candidate with a changed class list: what changed, and the paired comparison on the shared classes."""
import os

import numpy as np
import tensorflow as tf

from components import evaluation_results
from components import features
from components.evaluator import class_change
from components.evaluator import component
from components.evaluator import gates

PRODUCTION = ('cat', 'dog', 'fox')


def _one_hot(positions, classes):
  return np.eye(classes)[positions]


def test_equal_lists_and_an_unknown_production_list_are_no_change():
  assert class_change.detect(PRODUCTION, list(PRODUCTION)) is None
  assert class_change.detect(None, ['cat', 'dog']) is None


def test_the_change_says_what_was_added_removed_and_reordered():
  added = class_change.detect(PRODUCTION, ['cat', 'dog', 'fox', 'owl'])
  assert (added.added, added.removed, added.reordered) == (['owl'], [], False)
  assert added.describe() == ("the class list changed from production's (cat, dog, fox) to (cat, dog, fox, owl): "
                              "added owl")
  removed = class_change.detect(PRODUCTION, ['dog', 'fox'])
  assert (removed.added, removed.removed, removed.reordered, removed.shared) == ([], ['cat'], False, ['dog', 'fox'])
  reordered = class_change.detect(PRODUCTION, ['fox', 'cat', 'dog'])
  assert reordered.describe().endswith(': reordered the shared classes')
  both = class_change.detect(PRODUCTION, ['owl', 'dog', 'cat'])
  assert both.describe().endswith(': added owl; removed fox; reordered the shared classes')


def test_the_reason_names_the_setting_that_allows_the_change():
  change = class_change.detect(PRODUCTION, ['cat', 'dog'])
  assert class_change.blessing_reason(change, allowed=False).endswith(
      'a changed class list replaces production only with allow_class_change: true (--allow-class-change)')
  assert class_change.blessing_reason(change, allowed=True).endswith(
      'allowed to replace production by allow_class_change')


def test_an_added_class_is_left_out_and_each_model_chooses_among_the_shared_classes():
  change = class_change.detect(PRODUCTION, PRODUCTION + ('owl',))
  truth = ['cat', 'dog', 'fox', 'owl', 'cat']
  # The candidate's top class for the first image is the new class, but among the shared ones it is right.
  candidate = np.array([[0.3, 0.1, 0.1, 0.5], [0.1, 0.8, 0.05, 0.05], [0.6, 0.1, 0.2, 0.1], [0, 0, 0, 1],
                        [0.9, 0.05, 0.05, 0]])
  production = _one_hot([1, 1, 2, 0, 0], 3)
  counted = class_change.count(change, truth, candidate, production)
  assert (counted.examples, counted.other_classes) == (4, 1)
  assert (counted.candidate_correct, counted.production_correct) == (3, 3)
  # The first cat for the candidate, the fox for production.
  assert (counted.candidate_only, counted.production_only) == (1, 1)


def test_reordered_classes_are_compared_by_name_not_by_position():
  change = class_change.detect(PRODUCTION, ('fox', 'cat', 'dog'))
  truth = ['cat', 'dog', 'fox']
  candidate = _one_hot([1, 2, 0], 3)  # right in its own order
  production = _one_hot([0, 1, 2], 3)  # right in its own order
  counted = class_change.count(change, truth, candidate, production)
  assert (counted.examples, counted.candidate_correct, counted.production_correct) == (3, 3, 3)
  assert (counted.candidate_only, counted.production_only) == (0, 0)


def test_a_removed_class_is_left_out_of_production_s_choice():
  change = class_change.detect(PRODUCTION, ('dog', 'fox'))
  # Production's top class is the removed 'cat'; among dog and fox it says dog, which is right.
  counted = class_change.count(change, ['dog'], np.array([[0.4, 0.6]]), np.array([[0.7, 0.2, 0.1]]))
  assert (counted.candidate_correct, counted.production_correct, counted.production_only) == (0, 1, 1)


def test_the_paired_gate_names_the_shared_classes_and_can_refuse():
  change = class_change.detect(PRODUCTION, PRODUCTION + ('owl',))
  shared = class_change.SharedComparison(change, examples=100, candidate_correct=70, production_correct=95,
                                         candidate_only=0, production_only=25, other_classes=30)
  candidate = evaluation_results.CANDIDATE
  values = {evaluation_results.MetricId('overall', candidate, 'example_count'): 130.0,
            evaluation_results.MetricId('overall', candidate, 'sparse_categorical_accuracy'): 0.9}
  checked = component.check_gates(values, gates.BlessingPolicy(), has_baseline=False, paired=shared.paired())
  change_gate = checked[1]
  assert (change_gate.kind, change_gate.verdict, change_gate.examples) == (gates.CHANGE, gates.FAILED, 100)
  assert 'on slice overall, on the 3 classes shared with production changed by -0.2500' in change_gate.reason()
  assert class_change.SharedComparison(change, other_classes=5).paired() is None
  table = shared.table()
  assert table.rows == [['cat, dog, fox', '100', '0.7000', '0.9500', '-0.2500', '0', '25', '30']]


def _write_examples(path, labelled_images):
  with tf.io.TFRecordWriter(path, options='GZIP') as writer:
    for label, image in labelled_images:
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          features.LABEL: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
          features.IMAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))})).SerializeToString())


def _save_model(path, classes, image_to_class):
  """A SavedModel with the Trainer's serving signature: image bytes in, probabilities out, the class chosen by
  the image's one byte through image_to_class (a list: byte value -> position in `classes`)."""
  table = tf.constant(image_to_class, tf.int64)

  class Model(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT)])
    def serve(self, image_bytes):
      byte = tf.cast(tf.io.decode_raw(image_bytes, tf.uint8)[:, 0], tf.int64)
      return {features.PROBABILITIES: tf.one_hot(tf.gather(table, byte), len(classes))}

  model = Model()
  tf.saved_model.save(model, path, signatures={'serving_default': model.serve})


def test_compare_runs_both_saved_models_on_every_test_image(tmp_path):
  change = class_change.detect(PRODUCTION, ('fox', 'cat', 'dog', 'owl'))
  split = tmp_path / 'Split-test'
  split.mkdir()
  # Bytes 0-3 are images of cat, dog, fox, owl; 70 of each, over two files, more than one batch.
  images = [(label, bytes([position])) for position, label in enumerate(('cat', 'dog', 'fox', 'owl'))] * 70
  _write_examples(str(split / 'data_tfrecord-00000-of-00002.gz'), images[:150])
  _write_examples(str(split / 'data_tfrecord-00001-of-00002.gz'), images[150:])
  # The candidate is always right (in its order fox, cat, dog, owl); production calls every fox a dog.
  _save_model(str(tmp_path / 'candidate'), change.candidate, [1, 2, 0, 3])
  _save_model(str(tmp_path / 'production'), change.production, [0, 1, 1, 0])
  compared = class_change.compare(change, str(tmp_path / 'candidate'), str(tmp_path / 'production'),
                                  [os.fspath(split)])
  assert (compared.examples, compared.other_classes) == (210, 70)
  assert (compared.candidate_correct, compared.production_correct) == (210, 140)
  assert (compared.candidate_only, compared.production_only) == (70, 0)
