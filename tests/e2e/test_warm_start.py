"""Warm start: a retrain on a span with 5% new images starts from production and catches up with it sooner.

Span 1 holds 95% of the embedded digits and is trained from scratch and pushed. Span 2 holds all of them. With
`--warm-start auto` the retrain starts from the model in production (the new images are under a tenth of the
training data); a run on the same span with `--warm-start never` trains from scratch. Both log the eval-split
accuracy of every epoch: the warm start reaches production's accuracy in fewer epochs.
"""
import csv
import os
import re
import subprocess
import sys

import pytest

from components import names
from pipeline import sample_data
from pipeline.inspect import runs as runs_lib

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
EPOCH = re.compile(r'Trainer epoch (\d+)/\d+: .*val_accuracy ([0-9.]+)')


def _write_span(root, span, rows):
  folder = os.path.join(root, f'span-{span}')
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, 'all.csv'), 'w', newline='') as handle:
    csv.writer(handle).writerows(rows)


def _run(output_dir, root, labels_path, *args):
  result = subprocess.run(
      [VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', os.path.join(root, 'span-{SPAN}', 'all.csv'),
       '--labels-file', labels_path, '--tuner-trials', '0', *args], capture_output=True, text=True, timeout=1500)
  assert result.returncode == 0, result.stdout + result.stderr[-5000:]
  accuracies = [float(value) for _, value in EPOCH.findall(result.stderr)]
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  model = runs_lib.outputs_by_key(runs_lib.run_nodes(store, runs_lib.newest_run_id(store)))[names.MODEL]
  return accuracies, model.properties.get(names.WARM_START, '')


def _epochs_to_reach(accuracies, target):
  return next((epoch for epoch, accuracy in enumerate(accuracies, start=1) if accuracy >= target), None)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('spans'))
  csv_path, labels_path = sample_data.materialize_digits(os.path.join(root, 'digits'))
  with open(csv_path, newline='') as handle:
    rows = [(os.path.join(os.path.dirname(csv_path), path), label) for path, label in csv.reader(handle)]
  old = len(rows) * 95 // 100
  _write_span(root, 1, rows[:old])
  production, first_decision = _run(os.path.join(root, 'out'), root, labels_path, '--warm-start', 'auto')
  _write_span(root, 2, rows)
  warm, warm_decision = _run(os.path.join(root, 'out'), root, labels_path, '--warm-start', 'auto')
  scratch, scratch_decision = _run(os.path.join(root, 'scratch'), root, labels_path, '--warm-start', 'never')
  return dict(production=production, first_decision=first_decision, warm=warm, warm_decision=warm_decision,
              scratch=scratch, scratch_decision=scratch_decision, output_dir=os.path.join(root, 'out'))


def test_the_first_run_and_never_train_from_scratch_and_say_why(runs):
  assert runs['first_decision'] == 'from scratch: no model in production'
  assert runs['scratch_decision'] == 'from scratch: warm_start is never'


def test_five_percent_new_images_warm_start_from_production(runs):
  production_dir = os.path.join(runs['output_dir'], 'serving', 'image_classifier')
  assert re.fullmatch(rf'warm start from {re.escape(production_dir)}/\d+: \d+ new training examples, '
                      r'[45]\.\d% of \d+, under 10%: fine-tuned', runs['warm_decision']), runs['warm_decision']


def test_the_warm_start_reaches_productions_accuracy_in_fewer_epochs(runs):
  target = max(runs['production'])  # the exported weights are those of production's best eval epoch
  warm, scratch = _epochs_to_reach(runs['warm'], target), _epochs_to_reach(runs['scratch'], target)
  print(f'production eval accuracy {target:.4f}; epochs to reach it: warm start {warm}, from scratch {scratch}; '
        f'per epoch warm {runs["warm"]}, scratch {runs["scratch"]}')
  assert warm is not None, runs['warm']
  assert scratch is None or warm < scratch, (warm, scratch)
