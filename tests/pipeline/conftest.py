"""Real runs that several test modules read: five cheap runs in one store, for comparing runs; and an output
folder with local schedules, one of whose runs the real scheduler started."""
import dataclasses
import os
import re
import subprocess
import sys
import time

import pytest

from pipeline import sample_data
from pipeline.scheduling import schedules as schedules_lib

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
CHEAP_RUN = ('--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0')


@dataclasses.dataclass(frozen=True)
class ComparedRuns:
  output_dir: str
  first: str       # 2 epochs, pushed with no model in production before it
  retrained: str   # the same data and one more epoch, measured against the first run's pushed model
  uncached: str    # the first run again without the cache: a new ExampleGen output from the same files
  other_data: str  # 150 other digit images: another test set
  refused_data: str  # ExampleGen refuses its data, so nothing after it runs


def _run(output_dir: str, data_dir: str, limit: int, epochs: int, *flags: str) -> str:
  """The id of a finished run on the first `limit` digit images; blessed or not, as long as it finished."""
  csv_path, labels_path = sample_data.materialize_digits(data_dir, limit=limit)
  finished = subprocess.run([VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', csv_path, '--labels-file',
                             labels_path, '--epochs', str(epochs), *CHEAP_RUN, *flags], capture_output=True,
                            text=True, timeout=1500)
  assert finished.returncode in (0, 1), finished.stdout + finished.stderr[-5000:]
  return re.search(r'^Run (\S+) finished', finished.stdout, re.MULTILINE).group(1)


def _refused_run(output_dir: str, data_dir: str) -> str:
  """The id of a run whose data ExampleGen refuses: 2 of its 22 rows name images that are not there."""
  csv_path, labels_path = sample_data.materialize_digits(data_dir, limit=20)
  with open(csv_path, 'a', encoding='utf-8') as handle:
    handle.write('missing/one.jpg,zero\nmissing/two.jpg,nine\n')
  refused = subprocess.run([VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', csv_path, '--labels-file',
                            labels_path, *CHEAP_RUN], capture_output=True, text=True, timeout=1500)
  assert refused.returncode == 2, refused.stdout + refused.stderr[-5000:]
  listed = subprocess.run([VISIONFLOW, 'runs', '--output-dir', output_dir, '--state', 'failed'], capture_output=True,
                          text=True, timeout=300)
  return listed.stdout.splitlines()[1].split('\t')[0]


@pytest.fixture(scope='session')
def compared_runs(tmp_path_factory) -> ComparedRuns:
  root = tmp_path_factory.mktemp('compared')
  output_dir = str(root / 'out')
  first = _run(output_dir, str(root / 'digits'), 200, epochs=2)
  retrained = _run(output_dir, str(root / 'digits'), 200, epochs=3)
  uncached = _run(output_dir, str(root / 'digits'), 200, 2, '--no-cache')
  other_data = _run(output_dir, str(root / 'other_digits'), 150, epochs=2)
  refused_data = _refused_run(output_dir, str(root / 'refused_digits'))
  return ComparedRuns(output_dir, first, retrained, uncached, other_data, refused_data)


@dataclasses.dataclass(frozen=True)
class ScheduledRuns:
  output_dir: str
  run_id: str   # the run the scheduler started for the schedule `nightly`, asked to run it now
  trigger: str  # what that run recorded as having started it


def _visionflow_ok(*args: str) -> None:
  done = subprocess.run([VISIONFLOW, *args], capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stdout + done.stderr[-5000:]


def _ended_trigger(output_dir: str, name: str, scheduler: subprocess.Popen, console_path: str,
                   timeout_s: float) -> schedules_lib.TriggerRecord:
  """The schedule's first trigger whose run ended, once the history records it; fails when the scheduler exits
  first or `timeout_s` passes."""
  store = schedules_lib.ScheduleStore(output_dir)
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    ended = [record for record in store.history(name) if record.outcome.startswith('ended: ')]
    if ended:
      return ended[0]
    if scheduler.poll() is not None:
      break
    time.sleep(1)
  with open(console_path, encoding='utf-8', errors='replace') as console:
    pytest.fail(f'no run of schedule {name} ended within {timeout_s} s (scheduler exit code {scheduler.poll()}); '
                f'its history: {store.history(name)}; its console: {console.read()[-3000:]}')


@pytest.fixture(scope='session')
def scheduled_runs(tmp_path_factory) -> ScheduledRuns:
  """An output folder with the schedules `nightly` (every day, made active) and `weekly` (a cron, paused), both made
  by `visionflow schedule create --local`, and `broken`, a schedule file cut short. The real scheduler ran once,
  briefly: long enough to start and see end the one run `nightly` was asked for (`schedule run-now`)."""
  root = tmp_path_factory.mktemp('scheduled')
  output_dir = str(root / 'out')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'digits'), limit=60)
  run_flags = ('--output-dir', output_dir, '--data-csv', csv_path, '--labels-file', labels_path, '--epochs', '1',
               *CHEAP_RUN)
  _visionflow_ok('schedule', 'create', '--local', 'nightly', '--every', '1d', *run_flags)
  _visionflow_ok('schedule', 'create', '--local', 'weekly', '--cron', '0 2 * * 1', '--catchup', *run_flags)
  _visionflow_ok('schedule', 'pause', '--local', 'weekly', '--output-dir', output_dir)
  _visionflow_ok('schedule', 'run-now', '--local', 'nightly', '--output-dir', output_dir)
  with open(os.path.join(output_dir, 'schedules', 'broken.json'), 'w', encoding='utf-8') as handle:
    handle.write('{"name": "broken", "command"')
  console_path = str(root / 'scheduler.txt')
  with open(console_path, 'w', encoding='utf-8') as console:
    scheduler = subprocess.Popen([VISIONFLOW, 'scheduler', '--output-dir', output_dir, '--tick', '0.5'],
                                 stdout=console, stderr=subprocess.STDOUT)
  try:
    ended = _ended_trigger(output_dir, 'nightly', scheduler, console_path, timeout_s=600)
  finally:
    scheduler.terminate()
    scheduler.wait(timeout=60)
  assert ended.run_id, ended
  return ScheduledRuns(output_dir, ended.run_id, ended.trigger)
