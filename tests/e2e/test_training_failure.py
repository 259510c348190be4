"""A model that does not learn stops the run in one line, after one retry, and nothing is pushed."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')


def test_a_run_whose_model_does_not_learn_stops_in_one_line_and_pushes_nothing(small_digits, tmp_path):
  csv_path, labels_path = small_digits
  output_dir = tmp_path / 'out'
  # Adam at 1e30 overflows the weights at once, also at the retry's tenth of it.
  run = subprocess.run([VISIONFLOW, 'run', '--data-csv', csv_path, '--labels-file', labels_path, '--output-dir',
                        str(output_dir), '--tuner-trials', '0', '--hyperparameters', 'learning_rate=1.0e+30'],
                       capture_output=True, text=True, timeout=900)
  assert run.returncode == 2, run.stdout + run.stderr[-3000:]
  last_line = run.stderr.strip().splitlines()[-1]
  assert last_line.startswith('visionflow run: Trainer exported no model: the model did not learn: '), run.stderr
  assert 'after 3 epochs, at learning rates 1e+30 and 1e+29; check that the labels match the images' in last_line
  assert 'Traceback' not in run.stderr
  assert not os.path.exists(output_dir / 'serving' / 'image_classifier')
