"""What the production monitor measures, and what it refuses, before TFMA runs."""
import pytest

from components.monitor import component as monitor
from components import training_record

TRAINED_ON = ('zero', 'one', 'two')


@pytest.fixture
def serving_model_dir(tmp_path):
  """A serving folder whose newest version is a model trained on TRAINED_ON (its SavedModel need not load)."""
  version = tmp_path / 'image_classifier' / '1796361486'
  (version / 'assets.extra').mkdir(parents=True)
  (version / 'saved_model.pb').write_bytes(b'')
  (version / training_record.RECORD_FILE).write_text(training_record.TrainingRecord(
      labels=TRAINED_ON, backbone='cnn', image_size=32, hyperparameters={}, train_examples=10).to_json())
  return str(tmp_path / 'image_classifier')


def test_the_model_is_measured_in_its_own_class_order_whatever_the_labels_file_order(serving_model_dir):
  for data_classes in (TRAINED_ON, ('two', 'zero', 'one'), ('one',)):
    production, classes = monitor.production_to_measure(serving_model_dir, data_classes, 'labels.txt')
    assert production == f'{serving_model_dir}/1796361486' and classes == TRAINED_ON


def test_a_class_the_model_does_not_know_is_refused_naming_it(serving_model_dir):
  with pytest.raises(monitor.NotMeasurableError) as refused:
    monitor.production_to_measure(serving_model_dir, ('zero', 'one', 'two', 'three'), '--labels-file labels.txt')
  assert str(refused.value) == (
      f'--labels-file labels.txt has 1 class(es) that the model in production {serving_model_dir}/1796361486 was '
      'not trained on: three (it knows zero, one, two); evaluate images of its classes only, or push a model '
      'trained on the new ones first')


def test_no_model_in_production_is_refused(tmp_path):
  with pytest.raises(monitor.NotMeasurableError, match=f'^no model in production under {tmp_path}/none to evaluate'):
    monitor.production_to_measure(str(tmp_path / 'none'), TRAINED_ON, 'labels.txt')


def test_damaged_lines_are_appended_to_the_damaged_copy_and_named_in_one_line(tmp_path):
  history_path = str(tmp_path / 'history.jsonl')
  assert monitor.set_aside_damaged_lines(history_path, []) == ''
  assert not (tmp_path / 'history.jsonl.damaged').exists()
  note = monitor.set_aside_damaged_lines(history_path, [(2, b'{"measured_at": "20'), (5, b'\xe9t\xe9')])
  assert note == (f'{history_path}: skipped 2 damaged line(s) (line 2, 5) that hold no measurement; they are kept '
                  f'in {history_path}.damaged')
  many = [(number, b'x%d' % number) for number in range(1, 13)]
  assert '(line 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...)' in monitor.set_aside_damaged_lines(history_path, many)
  assert (tmp_path / 'history.jsonl.damaged').read_bytes() == b'{"measured_at": "20\n\xe9t\xe9\n' + b''.join(
      b'x%d\n' % number for number in range(1, 13))
