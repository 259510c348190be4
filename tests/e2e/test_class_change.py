"""A class list that changes while a model is in production: every run ends in a verdict with reasons.

A 3-class model (zero, one, two) is pushed. Against it: a run with a fourth class added (and warm start
always, which trains from scratch since the classes differ), a run with the classes reordered, both refused
because allow_class_change is off, and a run with a class removed and allow_class_change on, compared with
production on the two shared classes and pushed. None crashes: the comparison is made on the shared classes.
"""
import csv
import os
import subprocess
import sys

import pytest

from components import names
from components import serving_dir
from pipeline import sample_data
from pipeline.inspect import runs as runs_lib

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
IMAGES_PER_CLASS = 100
SHARED_TABLE = 'Candidate against the model in production, on the shared classes'


def _write_data(root, name, classes, rows):
  """A CSV of the images of `classes` and a labels file listing them in that order."""
  csv_path, labels_path = os.path.join(root, f'{name}.csv'), os.path.join(root, f'{name}.txt')
  with open(csv_path, 'w', newline='') as handle:
    csv.writer(handle).writerows(row for row in rows if row[1] in classes)
  with open(labels_path, 'w') as handle:
    handle.write('\n'.join(classes) + '\n')
  return csv_path, labels_path


def _run(output_dir, data, epochs, *args):
  csv_path, labels_path = data
  result = subprocess.run(
      [VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', csv_path, '--labels-file', labels_path,
       '--tuner-trials', '0', '--epochs', str(epochs), '--min-accuracy', '0.05', '--min-slice-accuracy', '0',
       *args], capture_output=True, text=True, timeout=900)
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  outcome = runs_lib.run_view(store, runs_lib.newest_run_id(store)).outcome
  with open(outcome.report_html.replace(names.REPORT_HTML_FILE, names.REPORT_MARKDOWN_FILE)) as handle:
    report = handle.read()
  return dict(code=result.returncode, stdout=result.stdout, stderr=result.stderr, outcome=outcome, report=report,
              versions=serving_dir.versions(os.path.join(output_dir, 'serving', 'image_classifier')))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('class_change'))
  csv_path, _ = sample_data.materialize_digits(os.path.join(root, 'digits'))
  per_class = {}
  with open(csv_path, newline='') as handle:
    for path, label in csv.reader(handle):
      per_class.setdefault(label, []).append((os.path.join(os.path.dirname(csv_path), path), label))
  rows = [row for label in ('zero', 'one', 'two', 'three') for row in per_class[label][:IMAGES_PER_CLASS]]
  output_dir = os.path.join(root, 'out')
  outcome = {'production': _run(output_dir, _write_data(root, 'three', ('zero', 'one', 'two'), rows), 3)}
  outcome['added'] = _run(output_dir, _write_data(root, 'four', ('zero', 'one', 'two', 'three'), rows), 3,
                          '--warm-start', 'always')
  outcome['reordered'] = _run(output_dir, _write_data(root, 'reordered', ('two', 'one', 'zero'), rows), 3)
  outcome['removed'] = _run(output_dir, _write_data(root, 'removed', ('one', 'two'), rows), 8,
                            '--allow-class-change')
  return outcome


def _assert_a_verdict_not_a_crash(run):
  assert run['code'] in (0, 1), run['stdout'] + run['stderr'][-5000:]
  assert 'Traceback' not in run['stderr'], run['stderr'][-5000:]
  assert run['outcome'].blessed is not None


def test_the_first_model_is_pushed(runs):
  production = runs['production']
  assert production['code'] == 0, production['stdout'] + production['stderr'][-5000:]
  assert len(production['versions']) == 1 and production['outcome'].pushed_model_dir


def test_an_added_class_is_compared_on_the_shared_classes_and_refused_without_the_switch(runs):
  added = runs['added']
  _assert_a_verdict_not_a_crash(added)
  assert added['code'] == 1 and added['versions'] == runs['production']['versions']
  reason = ("the class list changed from production's (zero, one, two) to (zero, one, two, three): added three; "
            "a changed class list replaces production only with allow_class_change: true (--allow-class-change)")
  assert added['outcome'].blessing_reasons[0] == reason
  assert f'  - {reason}' in added['stdout']
  assert SHARED_TABLE in added['report'] and 'on the 3 classes shared with production' in added['report']


def test_reordered_classes_are_refused_with_the_reason(runs):
  reordered = runs['reordered']
  _assert_a_verdict_not_a_crash(reordered)
  assert reordered['code'] == 1 and reordered['versions'] == runs['production']['versions']
  assert reordered['outcome'].blessing_reasons[0].startswith(
      "the class list changed from production's (zero, one, two) to (two, one, zero): reordered the shared classes;")
  assert SHARED_TABLE in reordered['report']


def test_a_removed_class_replaces_production_with_the_switch_and_says_so(runs):
  removed = runs['removed']
  _assert_a_verdict_not_a_crash(removed)
  assert removed['code'] == 0, removed['stdout'] + removed['stderr'][-5000:]
  assert len(removed['versions']) == 2 and removed['outcome'].pushed_model_dir
  assert removed['outcome'].blessing_reasons[0] == (
      "the class list changed from production's (zero, one, two) to (one, two): removed zero; allowed to replace "
      "production by allow_class_change")
  assert 'on the 2 classes shared with production' in removed['report']
