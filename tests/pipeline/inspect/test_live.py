"""A run as it goes: the Trainer's and the Tuner's progress read from a log that the real code wrote (the Trainer's
EpochLogger and the Tuner's per-trial line, under the local run's logging), the run's status from its metadata and
its process, and that status as the UI serves it."""
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from pipeline import run_process
from pipeline.inspect import live
from pipeline.inspect import run_logs
from pipeline.inspect import runs as runs_lib
from pipeline.inspect import ui
from tests.pipeline.inspect import stored_runs
from tests.pipeline.inspect.stored_runs import Step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Logs, as a local run does, a Tuner's scored trial and its failed one, then a Trainer's three epochs and the first
# of its retry; prints the eval accuracies Keras measured. argv: the log path, a folder for the tuner.
LOGGED_RUN = '''
import json, sys
import keras_tuner
import numpy as np
import tensorflow as tf
from components.trainer import training
from components.trainer import tuner_fn
from components.trainer.settings import TuningSettings
from pipeline.runners import progress

settings = TuningSettings(labels=('a', 'b'), image_size=32, backbone='small_cnn', weights=None, augment_crop=False,
                          augment_flip=False, augment_colour=False, batch_size=32, tuner='random', tuner_trials=2,
                          tuner_epochs=3, patience=3, random_seed=0)
features = np.random.default_rng(0).normal(size=(64, 4)).astype('float32')
labels = (features[:, 0] > 0).astype('int64')
with progress.reporting(sys.argv[1], 2):
  tuner = tuner_fn.make_tuner(settings, sys.argv[2])
  for status, val_accuracy in ((keras_tuner.engine.trial.TrialStatus.COMPLETED, 0.75),
                               (keras_tuner.engine.trial.TrialStatus.FAILED, None)):
    trial = tuner.oracle.create_trial('tuner0')
    tuner.on_trial_begin(trial)
    if val_accuracy is not None:
      tuner.oracle.update_trial(trial.trial_id, {'val_accuracy': val_accuracy})
    trial.status = status
    tuner.on_trial_end(trial)
  model = tf.keras.Sequential([tf.keras.layers.Dense(2, activation='softmax')])
  model.compile(tf.keras.optimizers.Adam(0.3), 'sparse_categorical_crossentropy',
                metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name='accuracy')])
  first = model.fit(features, labels, validation_data=(features, labels), epochs=3, verbose=0,
                    callbacks=[training.EpochLogger(3)])
  retry = model.fit(features, labels, validation_data=(features, labels), epochs=1, verbose=0,
                    callbacks=[training.EpochLogger(3, ' (retry)')])
print(json.dumps({'first': first.history['val_accuracy'], 'retry': retry.history['val_accuracy']}))
'''
RUN_ID = '20261206-010203-a1b2c3'
DAG = {'FileBasedExampleGen': [], 'Trainer': ['FileBasedExampleGen'], 'Pusher': ['Trainer']}


@pytest.fixture(scope='module')
def logged_run(tmp_path_factory):
  """(the log's lines, {'first': eval accuracy per epoch, 'retry': the retry's})."""
  folder = tmp_path_factory.mktemp('logged_run')
  log_path = folder / 'run.log'
  result = subprocess.run([sys.executable, '-c', LOGGED_RUN, str(log_path), str(folder / 'tuning')], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-5000:]
  return log_path.read_text().splitlines(keepends=True), json.loads(result.stdout.splitlines()[-1])


def _progress(tmp_path, lines):
  path = tmp_path / 'run.log'
  path.write_text(''.join(lines))
  return live.read_progress(str(path))


def _line_index(lines, text):
  return next(index for index, line in enumerate(lines) if text in line)


def test_the_latest_epoch_and_trial_are_read_from_the_log_a_run_writes(logged_run, tmp_path):
  lines, accuracies = logged_run
  progress = _progress(tmp_path, lines)
  assert progress.epoch == live.Epoch(1, 3, round(accuracies['retry'][0], 4), retry=True)
  assert progress.epoch.describe() == f'epoch 1 of 3 (retry), eval accuracy {accuracies["retry"][0]:.4f}'
  assert progress.trial == live.Trial(2, 2, None, None)  # the failed trial has no score
  assert progress.trial.describe() == 'trial 2 of 2, no score'


def test_the_log_read_half_way_gives_the_progress_of_its_time(logged_run, tmp_path):
  lines, accuracies = logged_run
  second_epoch = _line_index(lines, 'Trainer epoch 2/3')
  progress = _progress(tmp_path, lines[:second_epoch + 1])
  assert progress.epoch == live.Epoch(2, 3, round(accuracies['first'][1], 4))
  assert progress.trial == live.Trial(2, 2, None, None)
  first_trial = _line_index(lines, 'Tuner trial 1/2')
  progress = _progress(tmp_path, lines[:first_trial + 1])
  assert progress == live.LoggedProgress(epoch=None, trial=live.Trial(1, 2, 'val_accuracy', 0.75))
  assert progress.trial.describe() == 'trial 1 of 2, val_accuracy 0.7500'
  assert _progress(tmp_path, lines[:first_trial]) == live.LoggedProgress()


def test_a_line_still_being_written_waits_for_its_end(logged_run, tmp_path):
  lines, accuracies = logged_run
  third_epoch = _line_index(lines, 'Trainer epoch 3/3')
  cut = lines[third_epoch][:lines[third_epoch].index('val_accuracy') + len('val_accuracy 0.')]
  assert _progress(tmp_path, lines[:third_epoch] + [cut]).epoch == live.Epoch(2, 3, round(accuracies['first'][1], 4))


def _node(node_id, state, started_ms=1_000, finished_ms=5_000):
  return runs_lib.NodeView(node_id, state, started_ms, finished_ms, outputs=[])


def _view(nodes, state):
  return runs_lib.RunView(RUN_ID, 1_000, 5_000, state, runs_lib.RunOutcome(), last_step=nodes[-1].node_id,
                          last_step_state=nodes[-1].state)


def _steps(*nodes):
  by_id = {node.node_id: node for node in nodes}
  return [(node_id, by_id.get(node_id)) for node_id in DAG]


def test_a_running_step_shows_how_long_it_has_run_and_the_page_follows_the_run():
  nodes = (_node('FileBasedExampleGen', 'COMPLETE'), _node('Trainer', 'RUNNING', started_ms=10_000))
  epoch = live.Epoch(4, 30, 0.5)
  status = live.run_status(_view(nodes, 'RUNNING'), _steps(*nodes), live.LoggedProgress(epoch=epoch), True, 75_400)
  assert (status.state, status.following, status.running_step, status.running_for_s) == (
      'RUNNING', True, 'Trainer', 65.4)
  assert [(step.node_id, step.state, step.duration_s) for step in status.steps] == [
      ('FileBasedExampleGen', 'COMPLETE', 4.0), ('Trainer', 'RUNNING', 65.4), ('Pusher', 'NOT RUN', None)]
  assert status.texts() == {'state': 'RUNNING at Trainer', 'step': 'Trainer running for 65 s', 'trial': '',
                            'epoch': 'Trainer: epoch 4 of 30, eval accuracy 0.5000',
                            'note': 'This page follows the run as it goes, without a reload.'}
  # No process recorded (a run from elsewhere): the store alone says it goes on.
  assert live.run_status(_view(nodes, 'RUNNING'), _steps(*nodes), live.LoggedProgress(), None, 75_400).following


def test_between_two_steps_a_live_run_is_running_after_the_step_that_finished():
  nodes = (_node('FileBasedExampleGen', 'COMPLETE'),)
  status = live.run_status(_view(nodes, 'COMPLETE'), _steps(*nodes), live.LoggedProgress(), True, 9_000)
  assert (status.state, status.state_text, status.following, status.running_step) == (
      'RUNNING', 'RUNNING after FileBasedExampleGen', True, None)
  ended = live.run_status(_view(nodes, 'COMPLETE'), _steps(*nodes), live.LoggedProgress(), False, 9_000)
  assert (ended.state, ended.following, ended.texts()['note']) == ('COMPLETE', False, '')


@pytest.mark.parametrize('state, goes_on', [('FAILED', True), ('FAILED', None), (runs_lib.ABANDONED, False),
                                            ('RUNNING', False)])
def test_a_run_that_failed_was_abandoned_or_whose_process_ended_is_not_followed(state, goes_on):
  nodes = (_node('FileBasedExampleGen', 'COMPLETE'), _node('Trainer', 'RUNNING' if state == 'RUNNING' else state))
  status = live.run_status(_view(nodes, state), _steps(*nodes), live.LoggedProgress(), goes_on, 9_000)
  assert (status.state, status.following, status.running_step, status.running_for_s) == (state, False, None, None)
  note = status.texts()['note']
  assert ("process is gone" in note) == (state == runs_lib.ABANDONED)
  assert ('no longer updates' in note) == (state != 'FAILED')


def test_a_running_process_goes_on_until_it_records_its_end_or_dies(tmp_path):
  log_dir = str(tmp_path)
  assert live.process_goes_on(log_dir, RUN_ID) is None  # nothing recorded
  process = run_process.RunProcess.current(RUN_ID)
  run_process.record(log_dir, process)
  assert live.process_goes_on(log_dir, RUN_ID) is True
  run_process.record(log_dir, dataclasses.replace(process, ended=time.time()))
  assert live.process_goes_on(log_dir, RUN_ID) is False
  run_process.record(log_dir, dataclasses.replace(process, pid=_exited_pid()))  # killed: it never recorded an end
  assert live.process_goes_on(log_dir, RUN_ID) is False


def _exited_pid():
  """The id of a process that has exited."""
  child = subprocess.Popen(['true'])
  child.wait(timeout=30)
  return child.pid


@contextlib.contextmanager
def _serving(output_dir):
  """The UI over output_dir in this process; yields its URL."""
  sources = ui.Sources(os.path.join(output_dir, 'metadata.sqlite'), os.path.join(output_dir, 'logs'),
                       os.path.join(output_dir, 'serving'), output_dir)
  server = ui.make_server(sources, port=0)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f'http://127.0.0.1:{server.server_address[1]}'
  finally:
    server.shutdown()
    server.server_close()
    thread.join(timeout=30)


def _get(url):
  """(status, body) of a GET."""
  try:
    with urllib.request.urlopen(url, timeout=30) as answer:
      return answer.status, answer.read().decode('utf-8')
  except urllib.error.HTTPError as error:
    return error.code, error.read().decode('utf-8')


def test_the_ui_serves_the_status_the_page_shows_and_the_page_stops_following_a_run_that_ended(logged_run, tmp_path):
  lines, accuracies = logged_run
  output_dir = str(tmp_path)
  log_dir = os.path.join(output_dir, 'logs')
  os.makedirs(log_dir)
  stored_runs.add_run(os.path.join(output_dir, 'metadata.sqlite'), 'visionflow', RUN_ID,
                      (Step('FileBasedExampleGen'), Step('Trainer', 'RUNNING')))
  with open(run_logs.log_path(log_dir, RUN_ID), 'w', encoding='utf-8') as handle:
    handle.write(f'INFO root: {run_logs.DAG_MESSAGE % json.dumps(DAG)}\n' + ''.join(lines))
  process = run_process.RunProcess.current(RUN_ID)
  run_process.record(log_dir, process)
  epoch = f'Trainer: epoch 1 of 3 (retry), eval accuracy {accuracies["retry"][0]:.4f}'
  with _serving(output_dir) as url:
    code, body = _get(f'{url}/runs/{RUN_ID}/status.json')
    status = json.loads(body)
    assert code == 200 and status['following'] and status['running_step'] == 'Trainer'
    assert [(step['node_id'], step['state']) for step in status['steps']] == [
        ('FileBasedExampleGen', 'COMPLETE'), ('Trainer', 'RUNNING'), ('Pusher', 'NOT RUN')]
    assert status['texts']['state'] == 'RUNNING at Trainer' and status['texts']['epoch'] == epoch
    assert status['texts']['trial'] == 'Tuner: trial 2 of 2, no score'
    code, page = _get(f'{url}/runs/{RUN_ID}')
    assert code == 200 and f'<p id="live-epoch">{epoch}</p>' in page  # also without the script
    assert f'"/runs/{RUN_ID}/status.json"' in page
    run_process.record(log_dir, dataclasses.replace(process, pid=_exited_pid()))  # the runner was killed
    status = json.loads(_get(f'{url}/runs/{RUN_ID}/status.json')[1])
    assert (status['state'], status['following'], status['texts']['state']) == (
        runs_lib.ABANDONED, False, 'ABANDONED at Trainer')
    code, page = _get(f'{url}/runs/{RUN_ID}')
    assert "The run&#39;s process is gone" in page and 'status.json' not in page and epoch in page
    code, body = _get(f'{url}/runs/20261206-000000-000000/status.json')
    assert code == 404 and "no run '20261206-000000-000000'" in json.loads(body)['error']
