"""A disk that fills up during ExampleGen, Transform or the Evaluator, with real `visionflow run` processes.

Each step's outputs go to `<pipeline root>/<step>/`; a tmpfs of a few KiB mounted there fills up in that
step and no other, whatever the data's size. One output folder serves the three runs in turn, as a user's
does once space is freed: each run reuses the steps that completed before and stops at the next full disk.
"""
import os
import re
import subprocess
import sys

import pytest

from components import serving_dir
from pipeline import sample_data

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
SMALL_RUN = ('--epochs', '2', '--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0')
FULL_STEPS = ('FileBasedExampleGen', 'Transform', 'Evaluator')
DISK_KIB = 8


@pytest.fixture(scope='module')
def full_disk_runs(tmp_path_factory, small_disks):
  """{step: (exit code, stdout, stderr)} of one run per step, with that step's folder on a full disk."""
  root = tmp_path_factory.mktemp('full_disk')
  output_dir = str(root / 'out')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'data'), limit=60)
  results = {}
  for step in FULL_STEPS:
    step_folder = os.path.join(output_dir, 'pipeline_root', step)
    small_disks.mount(step_folder, DISK_KIB)
    ran = subprocess.run([VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', csv_path,
                          '--labels-file', labels_path, *SMALL_RUN], capture_output=True, text=True, timeout=900)
    small_disks.unmount(step_folder)
    results[step] = (ran.returncode, ran.stdout, ran.stderr)
  return dict(output_dir=output_dir, results=results)


@pytest.mark.parametrize('step', FULL_STEPS)
def test_a_full_disk_stops_the_run_in_one_line_naming_the_step_and_the_free_space(full_disk_runs, step):
  code, stdout, stderr = full_disk_runs['results'][step]
  assert code == 2, stdout + stderr[-5000:]
  assert 'Traceback' not in stderr, stderr[-5000:]
  last_line = stderr.splitlines()[-1]
  step_folder = os.path.join(full_disk_runs['output_dir'], 'pipeline_root', step)
  assert re.fullmatch(rf'visionflow run: error: {step}: no space left on the device (writing '
                      rf'{re.escape(step_folder)}/\S+|under {re.escape(step_folder)}), 0\.0 MB free there; free '
                      r'some space or write elsewhere, and run again', last_line), last_line
  assert re.search(rf'^\[\d+/\d+\] {step} running$', stderr, re.MULTILINE), stderr[-5000:]


def test_nothing_is_pushed_from_a_run_that_stopped_on_a_full_disk(full_disk_runs):
  assert serving_dir.versions(os.path.join(full_disk_runs['output_dir'], 'serving', 'image_classifier')) == []
