"""Predictions beyond the server, as a user runs them: a run whose ScoreSpan step scores an unlabelled folder
after the push, then `visionflow batch-predict` over a labelled CSV with bad rows in it."""
import csv
import glob
import os
import shutil
import subprocess
import sys

import pytest

from pipeline import sample_data
from pipeline.inspect import runs as runs_lib

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
SMALL_RUN = ('--epochs', '3', '--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0')


def _visionflow(*args, timeout=900):
  return subprocess.run([VISIONFLOW, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def scored_run(tmp_path_factory):
  """(output dir, sample data folder, unlabelled span folder) after a run with --score-span."""
  root = tmp_path_factory.mktemp('batch')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'data'), limit=300)
  span = root / 'span'
  span.mkdir()
  for path in sorted(glob.glob(str(root / 'data' / '*' / 'digit_02*.jpg')))[:12]:
    shutil.copy(path, span)
  (span / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
  output_dir = str(root / 'out')
  result = _visionflow('run', '--output-dir', output_dir, '--data-csv', csv_path, '--labels-file', labels_path,
                       '--score-span', str(span), *SMALL_RUN)
  assert result.returncode == 0, result.stdout + result.stderr[-5000:]
  return output_dir, root / 'data', span


def test_score_span_scores_every_unlabelled_image_with_the_pushed_model(scored_run):
  output_dir, _, span = scored_run
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  outputs = runs_lib.outputs_by_key(runs_lib.run_nodes(store, runs_lib.newest_run_id(store)))
  result, pushed = outputs['inference_result'], outputs['pushed_model']
  assert result.properties['scored_model'] == pushed.properties['pushed_destination']
  assert (result.properties['scored_rows'], result.properties['predicted_rows'],
          result.properties['failed_rows']) == (13, 12, 1)
  [errors] = glob.glob(os.path.join(result.uri, 'errors-*.csv'))
  with open(errors) as handle:
    [failed] = list(csv.DictReader(handle))
  assert failed['path'] == str(span / 'broken.jpg') and failed['reason'].startswith('not a')


def test_batch_predict_carries_labels_prints_accuracy_and_loses_no_row(scored_run, tmp_path):
  output_dir, data, _ = scored_run
  rows = (data / 'all_data.csv').read_text().splitlines()[:40]
  labelled = tmp_path / 'labelled.csv'
  labelled.write_text('\n'.join(f'{data}/{row}' for row in rows) + f'\n{data}/zero/missing.jpg,zero\n,one\n')
  output = tmp_path / 'predictions'
  result = _visionflow('batch-predict', '--output-dir', output_dir, '--input', str(labelled),
                       '--output', str(output))
  assert result.returncode == 1, result.stderr[-3000:]  # two rows could not be scored
  with open(glob.glob(str(output / 'predictions-*.csv'))[0]) as handle:
    predictions = list(csv.DictReader(handle))
  with open(glob.glob(str(output / 'errors-*.csv'))[0]) as handle:
    errors = list(csv.DictReader(handle))
  assert len(predictions) == 40
  assert sorted((row['row'], row['reason']) for row in errors) == [('41', 'image file not found'),
                                                                  ('42', 'empty image path')]
  correct = sum(row['class'] == row['label'] for row in predictions)
  assert (f'Scored 42 rows with {output_dir}/serving/image_classifier/' in result.stdout
          and f': 40 predicted, 2 errors; accuracy {correct / 40:.4f} on the 40 labelled rows' in result.stdout)

  single = _visionflow('predict', '--output-dir', output_dir, *[row['path'] for row in predictions[:10]])
  assert single.returncode == 0, single.stderr[-3000:]
  one_by_one = [line.split('\t')[1] for line in single.stdout.splitlines()]
  by_path = {row['path']: row['class'] for row in predictions}
  assert one_by_one == [by_path[row['path']] for row in predictions[:10]]


def test_batch_predict_refuses_a_missing_input_in_one_line(scored_run, tmp_path):
  output_dir, _, _ = scored_run
  result = _visionflow('batch-predict', '--output-dir', output_dir, '--input', str(tmp_path / 'nothing' / '*.jpg'),
                       '--output', str(tmp_path / 'out'))
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      f'visionflow batch-predict: error: {tmp_path}/nothing/*.jpg: no image file found (a CSV, a folder of images, '
      'or a glob pattern)')


def test_batch_predict_refuses_a_folder_an_interrupted_prediction_left_in_one_line(scored_run, tmp_path):
  """An interrupted run leaves shards but no summary.json: scoring into it again would mix old rows with new."""
  output_dir, data, _ = scored_run
  interrupted = tmp_path / 'predictions'
  interrupted.mkdir()
  (interrupted / 'predictions-00000-of-00001.csv').write_text('source,row,path,class,probability,top_k,label\n')
  result = _visionflow('batch-predict', '--output-dir', output_dir, '--input', str(data / 'all_data.csv'),
                       '--output', str(interrupted))
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      f'visionflow batch-predict: error: {interrupted} is not empty (it holds predictions-00000-of-00001.csv; an '
      'interrupted batch prediction leaves shards without summary.json): --output must be a new folder')
  assert os.listdir(interrupted) == ['predictions-00000-of-00001.csv']
