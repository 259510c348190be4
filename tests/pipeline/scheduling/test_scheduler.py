"""`visionflow scheduler` firing real runs: time slots, new spans, alerts, pause and resume, `kill -9` with and
without catch-up, a schedule whose config broke, and a firing that lost the folder to a run started by hand.
Real processes and short intervals; every wait is bounded and a hang fails the test.

Each run is a cheap one (60 digit images, one epoch, no tuning); after the first, the cache makes a run on the
same data take seconds.
"""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from components import names
from pipeline import run_process
from pipeline import sample_data
from pipeline.config import PipelineConfig
from pipeline.inspect import runs as runs_lib
from pipeline.scheduling import scheduler as scheduler_lib
from pipeline.scheduling import schedules as schedules_lib

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
CHEAP_RUN = ('--epochs', '1', '--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0')
TICK = '0.5'


def _visionflow(*args, timeout=600):
  return subprocess.run([VISIONFLOW, *args], capture_output=True, text=True, timeout=timeout)


def _create(output_dir, name, *flags):
  created = _visionflow('schedule', 'create', '--local', name, '--output-dir', output_dir, *flags, timeout=120)
  assert created.returncode == 0, created.stderr


def _runs(output_dir):
  """Every run process recorded in the folder, oldest first."""
  return run_process.all_recorded(PipelineConfig(output_dir=output_dir).log_dir)


def _wait_for(condition, timeout, what):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    found = condition()
    if found:
      return found
    time.sleep(0.2)
  raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def _ended_runs(output_dir, count):
  return lambda: len([run for run in _runs(output_dir) if run.ended is not None]) >= count and _runs(output_dir)


@contextlib.contextmanager
def _scheduler(output_dir, log_path):
  """A scheduler process on the folder, stopped (SIGTERM) at the end unless the test killed it."""
  with open(log_path, 'a') as log:
    process = subprocess.Popen([VISIONFLOW, 'scheduler', '--output-dir', output_dir, '--tick', TICK], stdout=log,
                               stderr=subprocess.STDOUT)
  try:
    yield process
  finally:
    if process.poll() is None:
      process.send_signal(signal.SIGTERM)
      process.wait(timeout=60)


def _all_ended(store):
  """Whether every trigger the scheduler fired has ended (its history has an end for each start)."""
  history = store.history()
  return sum(record.outcome == 'started' for record in history) * 2 == len(history)


def _assert_one_at_a_time(runs):
  for earlier, later in zip(runs, runs[1:]):
    assert earlier.ended is not None and later.started >= earlier.ended, (earlier, later)


def _store(output_dir):
  return runs_lib.open_store(PipelineConfig(output_dir=output_dir).metadata_path, read_only=True)


def _span_read(output_dir, run_id):
  """The span a run's ExampleGen read; None before it recorded one."""
  examples = runs_lib.outputs_by_key(runs_lib.run_nodes(_store(output_dir), run_id, False)).get(names.EXAMPLES)
  return examples.properties.get(names.SPAN) if examples else None


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
  return sample_data.materialize_digits(str(tmp_path_factory.mktemp('scheduled') / 'digits'), limit=60)


def _data_flags(digits):
  csv_path, labels_path = digits
  return ('--data-csv', csv_path, '--labels-file', labels_path) + CHEAP_RUN


@pytest.mark.slow
def test_slots_every_few_seconds_fire_runs_one_at_a_time_and_pause_stops_them_until_resumed(digits, tmp_path):
  output_dir = str(tmp_path / 'out')
  _create(output_dir, 'often', '--every', '4s', *_data_flags(digits))
  store = schedules_lib.ScheduleStore(output_dir)
  with _scheduler(output_dir, tmp_path / 'scheduler.txt'):
    _wait_for(_ended_runs(output_dir, 3), 400, 'three runs')
    assert _visionflow('schedule', 'pause', '--local', 'often', '--output-dir', output_dir).returncode == 0
    # A run fired before the pause took effect ends; then no slot fires while paused (three slots pass).
    fired = _wait_for(lambda: _all_ended(store) and store.history(), 300, 'the runs fired before the pause to end')
    time.sleep(12)
    assert store.history() == fired
    assert _visionflow('schedule', 'resume', '--local', 'often', '--output-dir', output_dir).returncode == 0
    _wait_for(lambda: len(store.history()) > len(fired), 60, 'a firing after resume')
    resumed = store.history()[len(fired)]
    # Paused again, so that the test ends with no run going and every run's end in the history.
    assert _visionflow('schedule', 'pause', '--local', 'often', '--output-dir', output_dir).returncode == 0
    _wait_for(lambda: _all_ended(store), 300, 'the runs after resume to end')
  runs = _runs(output_dir)
  assert [run.trigger for run in runs] == [record.trigger for record in store.history() if record.outcome != 'started']
  _assert_one_at_a_time([run for run in runs if run.ended])
  slots = [schedules_lib.parse_time(run.trigger.split(' at ')[1][:19]) for run in runs]
  assert all(run.trigger.startswith('schedule often at ') for run in runs)
  assert slots == sorted(set(slots))  # each slot fired once, in order
  # Slots missed while paused run once, not each (no catch-up); the trigger says so.
  assert resumed.trigger.endswith('earlier slot(s) missed, not caught up)'), resumed.trigger
  metadata = _store(output_dir)
  assert all(runs_lib.run_view(metadata, run.run_id).state == 'COMPLETE' for run in runs if run.ended)


@pytest.mark.slow
def test_a_new_span_triggers_one_run_and_a_second_drop_during_that_run_exactly_one_more(digits, tmp_path):
  csv_path, labels_path = digits
  data = tmp_path / 'data'
  data.mkdir()

  def drop(span):  # copied beside, then moved in: the span appears whole, as a finished upload does
    shutil.copytree(os.path.dirname(csv_path), data / '.incoming')
    os.rename(data / '.incoming', data / f'span-{span}')

  output_dir = str(tmp_path / 'out')
  _create(output_dir, 'spans', '--on-new-span', '--settle', '2s', '--data-csv',
          str(data / 'span-{SPAN}' / 'all_data.csv'), '--labels-file', labels_path, *CHEAP_RUN)
  with _scheduler(output_dir, tmp_path / 'scheduler.txt'):
    time.sleep(3)
    assert _runs(output_dir) == []  # no span yet
    drop(1)
    [first] = _wait_for(lambda: _runs(output_dir), 60, 'the run of span 1 to start')
    # Span 2 lands once that run's ExampleGen has read span 1, while the run goes on.
    _wait_for(lambda: _span_read(output_dir, first.run_id) == 1, 120, 'the run to read span 1')
    drop(2)
    assert _runs(output_dir)[0].ended is None
    runs = _wait_for(_ended_runs(output_dir, 2), 500, 'the runs of spans 1 and 2')
    time.sleep(6)
    runs = _runs(output_dir)
  assert [run.trigger for run in runs] == ['schedule spans: new span 1', 'schedule spans: new span 2']
  assert runs[1].started > runs[0].ended  # the drop waited for the run it came during
  assert [_span_read(output_dir, run.run_id) for run in runs] == [1, 2]


@pytest.mark.slow
def test_a_scheduled_evaluation_that_alerts_triggers_one_retrain(digits, tmp_path):
  csv_path, labels_path = digits
  output_dir = str(tmp_path / 'out')
  pushed = _visionflow('run', '--output-dir', output_dir, *_data_flags(digits), timeout=900)
  assert pushed.returncode == 0, pushed.stderr[-3000:]
  _create(output_dir, 'retrain', '--on-alert', *_data_flags(digits))
  _create(output_dir, 'watch', '--evaluate-csv', csv_path, '--every', '1d', '--labels-file', labels_path,
          '--alert-min-accuracy', '0.9999')
  assert _visionflow('schedule', 'run-now', '--local', 'watch', '--output-dir', output_dir).returncode == 0
  with _scheduler(output_dir, tmp_path / 'scheduler.txt'):
    _wait_for(_ended_runs(output_dir, 3), 500, 'the evaluation and the retrain')
    time.sleep(6)
    by_hand, evaluation, retrain = runs = _runs(output_dir)
  assert by_hand.trigger == run_process.started_by_hand()
  assert evaluation.trigger.startswith(f'schedule watch: run now, asked {run_process.started_by_hand()} at ')
  assert retrain.trigger.startswith(f'schedule retrain: alert in evaluation run {evaluation.run_id} (accuracy ')
  _assert_one_at_a_time(runs)
  history = schedules_lib.ScheduleStore(output_dir).history()
  assert [(record.schedule, record.outcome.split(':')[0]) for record in history] == [
      ('watch', 'started'), ('watch', 'ended'), ('retrain', 'started'), ('retrain', 'ended')]
  assert history[1].outcome.startswith('ended: COMPLETE, alert: ') and history[1].run_id == evaluation.run_id


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_leaves_the_run_going_and_restarted_runs_missed_slots_once_or_each(
    digits, tmp_path):
  output_dir = str(tmp_path / 'out')
  start = round(time.time()) + 20  # after both schedules are made
  end = start + 13  # slots at start + 4, 8 and 12
  for name, catchup in (('eager', ['--catchup']), ('lazy', [])):
    _create(output_dir, name, '--every', '4s', *catchup, *_data_flags(digits),
            '--start', time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(start)),
            '--end', time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(end)))
  store = schedules_lib.ScheduleStore(output_dir)
  with _scheduler(output_dir, tmp_path / 'scheduler.txt') as first:
    _wait_for(lambda: store.history(), 90, 'the first trigger')
    first.kill()  # kill -9
    first.wait(timeout=60)
  [orphan] = _wait_for(lambda: _runs(output_dir), 60, 'the run it started to record itself')
  assert orphan.trigger.startswith('schedule eager at ')
  _wait_for(lambda: _runs(output_dir)[0].ended, 300, 'the run started before the kill to end')
  assert runs_lib.run_view(_store(output_dir), orphan.run_id).state == 'COMPLETE'
  time.sleep(max(0.0, end + 1 - time.time()))
  with _scheduler(output_dir, tmp_path / 'scheduler.txt'):
    _wait_for(_ended_runs(output_dir, 4), 400, 'the missed slots to run')
    time.sleep(6)
    runs = _runs(output_dir)
  eager_slots = [time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(start + offset)) for offset in (4, 8, 12)]
  assert [run.trigger for run in runs] == [
      f'schedule eager at {eager_slots[0]}', f'schedule eager at {eager_slots[1]}',
      f'schedule eager at {eager_slots[2]}',
      f'schedule lazy at {eager_slots[2]} (2 earlier slot(s) missed, not caught up)']
  _assert_one_at_a_time(runs)
  # The restarted scheduler recorded how the run of the killed one ended.
  ended = [record for record in store.history('eager') if record.run_id == orphan.run_id]
  assert [record.outcome.split(',')[0] for record in ended] == ['ended: COMPLETE']


@pytest.mark.slow
def test_a_schedule_whose_config_broke_is_refused_at_each_firing_and_the_scheduler_goes_on(digits, tmp_path):
  csv_path, _ = digits
  labels = tmp_path / 'labels.txt'
  shutil.copy(digits[1], labels)
  output_dir = str(tmp_path / 'out')
  _create(output_dir, 'broken', '--every', '2s', '--data-csv', csv_path, '--labels-file', str(labels), *CHEAP_RUN)
  labels.unlink()
  store = schedules_lib.ScheduleStore(output_dir)
  with _scheduler(output_dir, tmp_path / 'scheduler.txt') as scheduler:
    refused = _wait_for(lambda: [record for record in store.history() if record.outcome.startswith('refused')][1:]
                        and [record for record in store.history() if record.outcome.startswith('refused')], 120,
                        'two refused firings')
    assert scheduler.poll() is None
  assert refused[0].outcome.startswith('refused: visionflow run: error: ')
  assert str(labels) in refused[0].outcome and refused[0].run_id is None
  assert _runs(output_dir) == []


@pytest.mark.slow
def test_a_firing_that_finds_the_folder_taken_by_a_run_started_by_hand_is_deferred_and_fires_when_it_is_free(
    digits, tmp_path):
  """The race between the scheduler's look at the run lock and its run taking it, played in order: the folder is
  taken just after the firing, while the fired command still imports TFX."""
  output_dir = str(tmp_path / 'out')
  _create(output_dir, 'once', '--every', '1d', *_data_flags(digits))
  assert _visionflow('schedule', 'run-now', '--local', 'once', '--output-dir', output_dir).returncode == 0
  store = schedules_lib.ScheduleStore(output_dir)
  before = store.state(store.get('once'))
  said = []
  scheduler = scheduler_lib.Scheduler(output_dir, say=said.append)
  fired = scheduler.tick(time.time())
  assert fired.trigger.startswith('schedule once: run now, asked by ')
  by_hand = run_process.RunProcess.current('by-hand')
  with run_process.OutputLock(output_dir, by_hand):
    _wait_for(lambda: scheduler.tick(time.time()) is None and len(store.history()) == 2, 120,
              'the fired command to be refused by the taken folder')
    started, deferred = store.history()
    assert (started.outcome, deferred.trigger, deferred.run_id) == ('started', fired.trigger, None)
    assert deferred.outcome.startswith(f'deferred: visionflow run: error: {output_dir} is in use by run by-hand, ')
    state = store.state(store.get('once'))
    assert (state.last_slot, state.last_outcome) == (before.last_slot, deferred.outcome)
    assert os.path.exists(store.run_now_path('once'))  # the run asked for is still asked for
    assert scheduler.tick(time.time()) is None  # nothing fires while the folder is taken
  refired = scheduler.tick(time.time())
  assert refired.trigger.startswith('schedule once: run now, asked by ')
  [run] = _wait_for(lambda: _runs(output_dir), 120, 'the run fired once the folder was free to record itself')
  assert run.trigger == refired.trigger
  os.killpg(run.pid, signal.SIGKILL)  # how it ends is not this test's matter
  _wait_for(lambda: scheduler.tick(time.time()) is None and len(store.history()) == 4, 60, 'its end to be recorded')
  assert store.history()[-1].outcome.startswith('ended: ABANDONED')
