"""Runs killed with SIGKILL and runs started together, with real `visionflow run` processes.

A run killed in the Trainer, then the same command killed in the Pusher, then the same command once more
while a second run is started beside it on the same output folder. The killed runs read as ABANDONED at
the step they reached, the second concurrent run is refused at once, and the model is pushed once.
"""
import glob
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from components import serving_dir
from pipeline import sample_data

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
SMALL_RUN = ('--epochs', '6', '--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0')
RUN_ID = re.compile(r'^Run (\S+) finished', re.MULTILINE)


def _start(*args):
  return subprocess.Popen([VISIONFLOW, 'run', *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_log(log_dir, pattern, process, timeout_s=600):
  """Waits until the run's log matches `pattern`; the run ending first, or the time running out, fails."""
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    for path in glob.glob(os.path.join(log_dir, 'run-*.log')):
      if os.path.getmtime(path) >= process.started and re.search(pattern, open(path, errors='replace').read()):
        return path
    if process.poll() is not None:
      pytest.fail(f'the run ended before {pattern!r}: {process.stderr.read()[-3000:]}')
    time.sleep(0.05)
  process.kill()
  pytest.fail(f'no {pattern!r} in the run log within {timeout_s} s')


def _kill_in(arguments, log_dir, component, pattern):
  """Starts a run and kills it with SIGKILL once `component` has started and its log matches `pattern`."""
  process = _start(*arguments)
  process.started = time.time() - 1
  _wait_for_log(log_dir, rf'Component {component} is running\.[\s\S]*{pattern}', process)
  os.kill(process.pid, signal.SIGKILL)
  process.wait(timeout=60)
  return process


def _runs(output_dir):
  listed = subprocess.run([VISIONFLOW, 'runs', '--output-dir', output_dir], capture_output=True, text=True,
                          timeout=120)
  assert listed.returncode == 0, listed.stderr[-3000:]
  return [row.split('\t') for row in listed.stdout.splitlines()[1:]]


@pytest.fixture(scope='module')
def killed_and_concurrent_runs(tmp_path_factory):
  root = tmp_path_factory.mktemp('faults')
  output_dir = str(root / 'out')
  log_dir = os.path.join(output_dir, 'logs')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'data'), limit=200)
  arguments = ('--output-dir', output_dir, '--data-csv', csv_path, '--labels-file', labels_path, *SMALL_RUN)
  _kill_in(arguments, log_dir, 'Trainer', 'Trainer epoch 1/')
  after_trainer_kill = _runs(output_dir)
  _kill_in(arguments, log_dir, 'Pusher', r'Going to run a new execution \d+')  # registered in the store
  after_pusher_kill = _runs(output_dir)

  # The same command twice at once: whichever takes the output folder first runs, the other is refused.
  # Without the cache the first run lasts a minute, so the second always finds the folder taken; with it,
  # the first could end before the second has imported TFX and reached the lock.
  together = [_start(*arguments, '--no-cache') for _ in range(2)]
  outputs = [process.communicate(timeout=1500) for process in together]
  results = sorted(((process.returncode,) + output for process, output in zip(together, outputs)),
                   key=lambda result: result[0])
  return dict(output_dir=output_dir, after_trainer_kill=after_trainer_kill, after_pusher_kill=after_pusher_kill,
              first=results[0], second=results[1], runs=_runs(output_dir))


def test_a_run_killed_in_the_trainer_is_abandoned_there(killed_and_concurrent_runs):
  [row] = killed_and_concurrent_runs['after_trainer_kill']
  assert row[3] == 'ABANDONED at Trainer', row
  shown = subprocess.run([VISIONFLOW, 'show', row[0], '--output-dir', killed_and_concurrent_runs['output_dir']],
                         capture_output=True, text=True, timeout=120)
  assert re.search(r'^Trainer: ABANDONED, ', shown.stdout, re.MULTILINE), shown.stdout
  assert re.search(r'^Transform: COMPLETE, ', shown.stdout, re.MULTILINE), shown.stdout


def test_a_run_killed_in_the_pusher_is_abandoned_there(killed_and_concurrent_runs):
  newest, older = killed_and_concurrent_runs['after_pusher_kill']
  assert (newest[3], older[3]) == ('ABANDONED at Pusher', 'ABANDONED at Trainer')


def test_a_second_run_on_the_same_output_folder_is_refused_in_one_line(killed_and_concurrent_runs):
  code, stdout, stderr = killed_and_concurrent_runs['second']
  assert code == 2, stdout + stderr[-3000:]
  [line] = stderr.splitlines()
  output_dir = killed_and_concurrent_runs['output_dir']
  assert re.fullmatch(rf'visionflow run: error: {re.escape(output_dir)} is in use by run \S+, process \d+ on '
                      r'\S+, started [0-9: -]+: one run at a time per output folder; wait for it to finish or '
                      r'give another --output-dir', line), line


def test_the_model_is_pushed_once_and_the_runs_are_listed_as_they_happened(killed_and_concurrent_runs):
  code, stdout, stderr = killed_and_concurrent_runs['first']
  assert code == 0, stdout + stderr[-5000:]
  output_dir = killed_and_concurrent_runs['output_dir']
  [version] = serving_dir.versions(os.path.join(output_dir, 'serving', 'image_classifier'))
  pushed = re.search(r'^(Pushed model|Model already in production): (\S+)', stdout, re.MULTILINE)
  assert pushed and pushed.group(2) == os.path.join(output_dir, 'serving', 'image_classifier', str(version))
  finished, pusher_killed, trainer_killed = killed_and_concurrent_runs['runs']
  assert finished[0] == RUN_ID.search(stdout).group(1)
  assert (finished[3], finished[5]) == ('COMPLETE', str(version))
  assert (pusher_killed[3], trainer_killed[3]) == ('ABANDONED at Pusher', 'ABANDONED at Trainer')
  assert len({finished[0], pusher_killed[0], trainer_killed[0]}) == 3
  assert len(glob.glob(os.path.join(output_dir, 'logs', 'run-*.log'))) == 3  # the refused run started none
