"""Batch prediction on Beam's DirectRunner with a real SavedModel: every input row is predicted or failed, with
its source, row and reason, and the outputs (CSV, TFRecord, summary) agree."""
import csv
import glob
import os

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf

from components.batch_inference import scoring
from components import image_limits
from components import input_files
from components import training_record
from tests.components.pusher.test_component import LABELS
from tests.components.pusher.test_component import _Classifier
from tests.components.pusher.test_component import _save


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory):
  """The Pusher tests' JPEG classifier, with the training record that names its classes."""
  path = _save(tmp_path_factory.mktemp('model'), 'version', _Classifier(LABELS))
  os.makedirs(os.path.join(path, 'assets.extra'))
  with open(os.path.join(path, training_record.RECORD_FILE), 'w') as handle:
    handle.write(training_record.TrainingRecord(tuple(LABELS), 'small_cnn', 8, {}, 1).to_json())
  return path


def _jpeg(seed):
  return tf.io.encode_jpeg(np.random.default_rng(seed).integers(0, 255, (20, 30, 3), dtype=np.uint8)).numpy()


def _score(sources, output_dir, model_dir, batch_size=4):
  with beam.Pipeline() as pipeline:
    scoring.score(pipeline, sources, scoring.ScoringSettings(model_dir, str(output_dir),
                                                             image_limits.ImageLimits(image_size=None),
                                                             top_k=2, batch_size=batch_size))
  return scoring.Summary.read(str(output_dir))


def _rows(output_dir, prefix):
  rows = []
  for path in sorted(glob.glob(os.path.join(output_dir, f'{prefix}-*.csv'))):
    with open(path) as handle:
      rows += list(csv.DictReader(handle))
  return rows


def test_every_row_is_predicted_or_fails_with_its_source_row_and_reason(tmp_path, model_dir):
  images = tmp_path / 'images'
  images.mkdir()
  for index in range(5):
    (images / f'good_{index}.jpg').write_bytes(_jpeg(index))
  good = _jpeg(9)
  # A JPEG header the checks accept, over scan data no decoder can read: only the model finds out.
  (images / 'corrupt.jpg').write_bytes(good[:200] + b'\xff\xd9' + b'\x00' * 50)
  (images / 'notes.txt').write_text('not an image')
  table = tmp_path / 'batch.csv'
  table.write_text('images/good_0.jpg,cat\nimages/good_1.jpg,dog\n\nimages/missing.jpg,fish\n,cat\n'
                   'images/corrupt.jpg,cat\nimages/notes.txt,fish\n')
  summary = _score([str(table), str(images / 'good_[234].jpg')], tmp_path / 'out', model_dir)

  predictions, errors = _rows(tmp_path / 'out', 'predictions'), _rows(tmp_path / 'out', 'errors')
  assert summary.rows == 9 == summary.predicted + summary.errors
  assert (summary.predicted, summary.errors, summary.labelled) == (5, 4, 2)
  assert len(predictions) == 5 and len(errors) == 4
  reasons = {row['row']: row['reason'] for row in errors}
  assert sorted(reasons) == ['4', '5', '6', '7'] and all(row['source'] == str(table) for row in errors)
  assert reasons['4'] == 'image file not found' and reasons['5'] == 'empty image path'
  assert reasons['6'].startswith('corrupt or truncated jpeg data: ')  # ExampleGen's words, not TensorFlow's framing
  assert '{{' not in reasons['6'] and 'Graph execution' not in reasons['6'] and '[[' not in reasons['6']
  assert reasons['7'] == 'not a readable image: no known image header'
  labelled = [row for row in predictions if row['label']]
  assert summary.correct == sum(row['label'] == row['class'] for row in labelled)
  for row in predictions:
    top = [entry.split(':') for entry in row['top_k'].split(';')]
    assert len(top) == 2 and top[0][0] == row['class'] and row['class'] in LABELS
    assert float(top[0][1]) == pytest.approx(float(row['probability']), abs=1e-4)
  records = glob.glob(str(tmp_path / 'out' / 'predictions-*.tfrecord.gz'))
  assert sum(1 for _ in tf.data.TFRecordDataset(records, compression_type='GZIP')) == 5


def test_batch_predictions_equal_one_at_a_time_predictions(tmp_path, model_dir):
  from pipeline import predict
  for index in range(7):
    (tmp_path / f'{index}.jpg').write_bytes(_jpeg(100 + index))
  _score([str(tmp_path)], tmp_path / 'out', model_dir, batch_size=3)
  batch = {row['path']: (row['class'], float(row['probability'])) for row in _rows(tmp_path / 'out', 'predictions')}
  single = predict.Predictor(model_dir).predict_files(sorted(batch), batch_size=1)
  for result in single:
    assert batch[result.path][0] == result.class_name
    assert batch[result.path][1] == pytest.approx(result.probability, abs=1e-5)


def test_an_input_that_names_nothing_is_refused_before_beam_starts(tmp_path):
  with pytest.raises(ValueError, match='no image file found'):
    scoring.check_sources([str(tmp_path / '*.jpg')])
  with pytest.raises(input_files.InputFileError, match='file not found'):
    scoring.check_sources([str(tmp_path / 'missing.csv')])
  (tmp_path / 'summary.json').write_text('{}')
  with pytest.raises(ValueError, match='holds an earlier batch prediction'):
    scoring.check_output_dir(str(tmp_path))


def test_hostile_paths_fail_their_rows_alone_and_the_other_rows_are_scored(tmp_path, model_dir):
  """A NUL byte in a CSV's path and a folder's file named in bytes that are not UTF-8 (which fails tf.io.gfile's
  whole listing) each fail one row, with a printable path; a source that no file can have fails before Beam."""
  images = tmp_path / 'images'
  images.mkdir()
  (images / 'good.jpg').write_bytes(_jpeg(1))
  with open(os.path.join(os.fsencode(images), b'\xff.jpg'), 'wb') as handle:
    handle.write(_jpeg(2))
  table = tmp_path / 'batch.csv'
  table.write_text('images/good.jpg,cat\nimages/nul\x00byte.jpg,cat\n')
  scoring.check_sources([str(table), str(images)])
  assert len(scoring.source_fingerprint(str(images))) == 64

  summary = _score([str(table), str(images)], tmp_path / 'out', model_dir)

  assert (summary.rows, summary.predicted, summary.errors) == (4, 2, 2)
  assert sorted(row['path'] for row in _rows(tmp_path / 'out', 'predictions')) == [str(images / 'good.jpg')] * 2
  errors = sorted((row['path'], row['reason']) for row in _rows(tmp_path / 'out', 'errors'))
  assert errors == [
      (str(images / '\\xff.jpg'),
       'image path unusable: the path is not valid UTF-8 (it holds \\xff): rename the file with a UTF-8 name'),
      (str(images / 'nul\\x00byte.jpg'), 'image path unusable: the path holds a NUL byte (\\x00), which no file name '
                                        'can hold')]
  with pytest.raises(ValueError, match=r'nul\\x00\.csv: the path holds a NUL byte'):
    scoring.check_sources([str(tmp_path / 'nul\x00.csv')])
