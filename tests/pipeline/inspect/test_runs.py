"""Run listings over a real ML Metadata SQLite store holding hundreds of runs, as a long-lived pipeline's does.

The store is written through ML Metadata's own API with the context and execution types TFX's runner
uses; test_ui.py covers stores that real pipeline runs wrote.
"""
import dataclasses
import datetime
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2

from components import names
from components.monitor import history
from pipeline.inspect import run_logs
from pipeline.inspect import runs as runs_lib
from pipeline.inspect import ui
from pipeline import run_process

RUNS = 300
FAILED_EVERY = 30


def _run_id(index):
  return (datetime.datetime(2026, 1, 1) + datetime.timedelta(minutes=index)).isoformat()


@pytest.fixture(scope='module')
def many_runs(tmp_path_factory):
  """The path of a store with RUNS runs of one Trainer each; every FAILED_EVERY-th run failed."""
  path = str(tmp_path_factory.mktemp('store') / 'metadata.sqlite')
  store = mlmd.MetadataStore(runs_lib.sqlite_connection_config(path))
  run_type = store.put_context_type(metadata_store_pb2.ContextType(name=runs_lib.PIPELINE_RUN_CONTEXT))
  node_type = store.put_context_type(metadata_store_pb2.ContextType(name=runs_lib.NODE_CONTEXT))
  trainer_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name='Trainer'))
  node = metadata_store_pb2.Context(type_id=node_type, name='visionflow.Trainer')
  [node.id] = store.put_contexts([node])
  for index in range(RUNS):
    run = metadata_store_pb2.Context(type_id=run_type, name=_run_id(index))
    [run.id] = store.put_contexts([run])
    state = (metadata_store_pb2.Execution.FAILED if index % FAILED_EVERY == 0
             else metadata_store_pb2.Execution.COMPLETE)
    store.put_execution(metadata_store_pb2.Execution(type_id=trainer_type, last_known_state=state),
                        artifact_and_events=[],
                        contexts=[run, node])
  return path


def test_a_page_of_runs_is_the_right_slice_newest_first(many_runs):
  views, total = runs_lib.list_runs(runs_lib.open_store(many_runs), offset=25, limit=25)
  assert total == RUNS
  assert [view.run_id for view in views] == [_run_id(index) for index in range(RUNS - 26, RUNS - 51, -1)]


def test_the_state_filter_counts_every_matching_run(many_runs):
  views, total = runs_lib.list_runs(runs_lib.open_store(many_runs), runs_lib.RunFilter(state='FAILED'), limit=5)
  assert total == RUNS // FAILED_EVERY
  assert [view.run_id for view in views] == [_run_id(index) for index in (270, 240, 210, 180, 150)]
  assert {view.state for view in views} == {'FAILED'}


@pytest.fixture(scope='module')
def server(many_runs, tmp_path_factory):
  folder = tmp_path_factory.mktemp('ui')
  served = ui.make_server(ui.Sources(many_runs, str(folder / 'logs'), str(folder / 'serving' / 'model'), str(folder)),
                          port=0)
  thread = threading.Thread(target=served.serve_forever, daemon=True)
  thread.start()
  yield 'http://127.0.0.1:%d' % served.server_address[1]
  served.shutdown()
  served.server_close()


def _get(url, host=None):
  request = urllib.request.Request(url, headers={'Host': host} if host else {})
  try:
    with urllib.request.urlopen(request, timeout=30) as response:
      return response.status, response.read().decode('utf-8')
  except urllib.error.HTTPError as error:
    return error.code, error.read().decode('utf-8')


def test_the_runs_page_paginates(server):
  status, page = _get(server + '/?page=2')
  assert status == 200
  assert page.count('<tr><td><a href="/runs/') == ui.RUNS_PER_PAGE
  assert page.count('<td class="started-by">-</td>') == ui.RUNS_PER_PAGE
  assert f'Page 2 of {-(-RUNS // ui.RUNS_PER_PAGE)}' in page
  assert _run_id(RUNS - 1 - ui.RUNS_PER_PAGE) in page and _run_id(RUNS - 1) not in page


def test_the_runs_page_filters_by_state(server):
  status, page = _get(server + '/?state=failed')
  assert status == 200 and f'{RUNS // FAILED_EVERY} runs failed' in page
  assert page.count('class="state-FAILED"') == RUNS // FAILED_EVERY


def test_the_page_links_keep_the_filter(server):
  status, page = _get(server + '/runs?state=complete&page=2')
  assert status == 200 and f'{RUNS - RUNS // FAILED_EVERY} runs complete' in page
  assert 'href="/runs?state=complete&amp;page=1" id="previous-page"' in page
  assert 'href="/runs?state=complete&amp;page=3" id="next-page"' in page


def test_a_run_without_its_log_or_later_components_still_shows(server):
  status, page = _get(server + '/runs/' + urllib.request.quote(_run_id(0), safe=''))
  assert status == 200 and 'data-node="Trainer"' in page and 'none found for this run' in page
  assert 'Started by: <span id="run-started-by">-</span>' in page  # no process record: nothing says who
  status, page = _get(server + '/runs/' + urllib.request.quote(_run_id(0), safe='') + '/evaluation')
  assert status == 200 and 'The Evaluator did not run in this run.' in page


def test_unknown_runs_and_pages_are_404_with_a_reason(server):
  status, page = _get(server + '/runs/no-such-run')
  assert status == 404 and "no run &#39;no-such-run&#39; in the metadata store" in page
  assert _get(server + '/nowhere')[0] == 404


def test_a_bad_filter_value_is_400_with_what_the_filter_takes(server):
  status, page = _get(server + '/runs?state=bogus')
  assert status == 400
  expected = 'no run state &#39;bogus&#39;: choose one of complete, failed, running, abandoned'
  assert f'<pre id="error">{expected}</pre>' in page


def test_only_loopback_host_names_are_answered(server):
  """A page elsewhere reaching the server through DNS rebinding sends its own name as Host: refused."""
  port = server.rsplit(':', 1)[1]
  for host in ('attacker.example', f'attacker.example:{port}', '10.0.0.5', f'evil.localhost.example:{port}'):
    status, page = _get(server + '/', host)
    assert status == 421 and 'answers only for' in page, host
  for host in (f'127.0.0.1:{port}', f'localhost:{port}', 'LOCALHOST', f'[::1]:{port}'):
    assert _get(server + '/', host)[0] == 200, host


def test_a_server_on_a_named_address_answers_that_name_too():
  assert ui.allowed_host_names('192.168.7.2') == {'localhost', '127.0.0.1', '::1', '192.168.7.2'}
  assert ui.allowed_host_names('0.0.0.0') >= {'localhost', '127.0.0.1', '::1', socket.gethostname().lower()}


def _truncated_copy(many_runs, folder):
  path = os.path.join(str(folder), 'metadata.sqlite')
  with open(many_runs, 'rb') as source, open(path, 'wb') as target:
    data = source.read()
    target.write(data[:len(data) // 2])
  return path


def test_a_truncated_store_is_named_with_what_to_do(many_runs, tmp_path, capsys):
  from pipeline import cli
  path = _truncated_copy(many_runs, tmp_path)
  expected = (f'the metadata store {path} is damaged (database disk image is malformed): move it aside (mv '
              f'{path} {path}.damaged) and run again. Nothing else was touched')
  with pytest.raises(runs_lib.DamagedStoreError, match=re.escape(expected)):
    runs_lib.open_store(path, read_only=True)
  for command in (['run'], ['runs'], ['show', _run_id(3)], ['ui', '--port', '0']):
    assert cli.main([*command, '--output-dir', str(tmp_path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f'visionflow {command[0]}: error: {expected}')


def test_the_ui_says_so_when_the_store_is_damaged_after_it_started(many_runs, tmp_path):
  path = os.path.join(str(tmp_path), 'metadata.sqlite')
  shutil.copy(many_runs, path)
  served = ui.make_server(ui.Sources(path, str(tmp_path / 'logs'), str(tmp_path / 'serving'), str(tmp_path)), port=0)
  threading.Thread(target=served.serve_forever, daemon=True).start()
  try:
    url = 'http://127.0.0.1:%d/' % served.server_address[1]
    assert _get(url)[0] == 200
    _truncated_copy(many_runs, tmp_path)
    status, page = _get(url)
    assert status == 503 and 'is damaged (database disk image is malformed): move it aside' in page
  finally:
    served.shutdown()
    served.server_close()


def test_a_run_whose_process_is_gone_is_abandoned_at_its_last_step_and_a_live_one_runs_even_between_steps(
    tmp_path):
  """The Trainer was RUNNING when the process died: it stays so in the store, and reads as ABANDONED. A live
  process between two steps (none unfinished) is RUNNING after the last one, not COMPLETE; once it recorded
  its end, the run is COMPLETE."""
  path = str(tmp_path / 'metadata.sqlite')
  store = mlmd.MetadataStore(runs_lib.sqlite_connection_config(path))
  run_type = store.put_context_type(metadata_store_pb2.ContextType(name=runs_lib.PIPELINE_RUN_CONTEXT))
  node_type = store.put_context_type(metadata_store_pb2.ContextType(name=runs_lib.NODE_CONTEXT))
  execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name='Step'))
  nodes = {}
  for step in ('Transform', 'Trainer'):
    nodes[step] = metadata_store_pb2.Context(type_id=node_type, name=f'visionflow.{step}')
    [nodes[step].id] = store.put_contexts([nodes[step]])
  child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
  run_ids = []
  complete, running = metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.RUNNING
  for process_kind, states in (('live', (complete, running)), ('killed', (complete, running)),
                               ('live', (complete,)), ('ended', (complete, complete))):
    run_id = run_logs.new_run_id()
    run_ids.append(run_id)
    run = metadata_store_pb2.Context(type_id=run_type, name=run_id)
    [run.id] = store.put_contexts([run])
    for step, state in zip(('Transform', 'Trainer'), states):
      store.put_execution(metadata_store_pb2.Execution(type_id=execution_type, last_known_state=state),
                          artifact_and_events=[], contexts=[run, nodes[step]])
    process = run_process.RunProcess.current(run_id)
    if process_kind == 'killed':
      process = dataclasses.replace(process, pid=child.pid, process_start=run_process._process_start(child.pid))
    if process_kind == 'ended':
      process = dataclasses.replace(process, ended=process.started + 1)
    run_process.record(str(tmp_path / 'logs'), process)
  child.kill()
  child.wait(timeout=30)

  def process_state(run_id):
    return run_process.process_state(str(tmp_path / 'logs'), run_id)
  live_run, killed_run, between_run, ended_run = run_ids
  views, _ = runs_lib.list_runs(runs_lib.open_store(path, read_only=True), process_state=process_state)
  assert {view.run_id: view.state_text for view in views} == {
      live_run: 'RUNNING at Trainer', killed_run: 'ABANDONED at Trainer', between_run: 'RUNNING after Transform',
      ended_run: 'COMPLETE'}
  running, _ = runs_lib.list_runs(runs_lib.open_store(path), runs_lib.RunFilter(state='RUNNING'),
                                  process_state=process_state)
  assert {view.run_id for view in running} == {live_run, between_run}
  abandoned, total = runs_lib.list_runs(runs_lib.open_store(path), runs_lib.RunFilter(state='ABANDONED'),
                                        process_state=process_state)
  assert total == 1 and abandoned[0].run_id == killed_run
  nodes = runs_lib.run_nodes(runs_lib.open_store(path), killed_run, abandoned=True)
  assert [(node.node_id, node.state) for node in nodes] == [('Transform', 'COMPLETE'), ('Trainer', 'ABANDONED')]


def test_a_run_killed_between_two_steps_is_abandoned_after_the_last_one():
  view = runs_lib.RunView('r', 0, 0, runs_lib.ABANDONED, runs_lib.RunOutcome(), last_step='Evaluator',
                          last_step_state='COMPLETE')
  assert view.state_text == 'ABANDONED after Evaluator'
  assert runs_lib.RunView('r', 0, 0, 'COMPLETE', runs_lib.RunOutcome(), last_step='Pusher').state_text == 'COMPLETE'


def test_json_properties_read_back_as_tfx_wrote_them():
  """The inspection commands read TFX's JSON-valued properties without TFX: mappings, single values, counts."""
  from tfx.types import standard_artifacts
  model = standard_artifacts.Model()
  model.set_json_value_custom_property('settings', {'image_size': 32, 'weights': None, 'ratio': 0.5})
  model.set_json_value_custom_property('sizes', [32, 64])
  properties = runs_lib.artifact_properties(model.mlmd_artifact)
  assert properties['settings'] == {'image_size': 32, 'weights': None, 'ratio': 0.5}
  assert isinstance(properties['settings']['image_size'], int)
  assert properties['sizes'] == [32, 64]


def test_production_measurements_read_back_as_the_monitor_wrote_them(tmp_path):
  """The monitor's slice accuracies and alert rules come back as its own types, with the counts as integers
  (a JSON property holds every number as a float), and the production page shows them so."""
  from tfx.types import standard_artifacts
  slices = {'overall': history.SliceAccuracy(1.0, 30), 'label=cat': history.SliceAccuracy(0.9, 12)}
  rules = history.AlertRules(min_accuracy=1.0, max_weekly_drop=0.0, min_examples=30)
  evaluation = standard_artifacts.ModelEvaluation()
  evaluation.uri = str(tmp_path / 'evaluation')
  evaluation.set_string_custom_property(names.MONITORED_MODEL, '/serving/model/1')
  evaluation.set_string_custom_property(names.MONITORED_AT, '2026-01-02T03:04:05+00:00')
  evaluation.set_json_value_custom_property(names.ALERTS, ['an alert'])
  evaluation.set_json_value_custom_property(names.SLICE_ACCURACY, {
      name: dataclasses.asdict(value) for name, value in slices.items()})
  evaluation.set_json_value_custom_property(names.ALERT_RULES, dataclasses.asdict(rules))
  path = str(tmp_path / 'metadata.sqlite')
  store = mlmd.MetadataStore(runs_lib.sqlite_connection_config(path))
  run = metadata_store_pb2.Context(type_id=store.put_context_type(metadata_store_pb2.ContextType(
      name=runs_lib.PIPELINE_RUN_CONTEXT)), name='monitoring-run')
  [run.id] = store.put_contexts([run])
  artifact = evaluation.mlmd_artifact
  artifact.type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(name='ModelEvaluation'))
  output = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
  output.path.steps.add().key = names.EVALUATION
  monitor = metadata_store_pb2.Execution(
      type_id=store.put_execution_type(metadata_store_pb2.ExecutionType(name='ProductionMonitor')),
      last_known_state=metadata_store_pb2.Execution.COMPLETE)
  store.put_execution(monitor, artifact_and_events=[(artifact, output)], contexts=[run])

  [measurement] = runs_lib.production_measurements(runs_lib.open_store(path, read_only=True))
  assert (measurement.run_id, measurement.slices, measurement.rules, measurement.alerts) == (
      'monitoring-run', slices, rules, ('an alert',))
  assert isinstance(measurement.slices['overall'].examples, int) and isinstance(measurement.rules.min_examples, int)
  served = ui.make_server(ui.Sources(path, str(tmp_path / 'logs'), str(tmp_path / 'serving'), str(tmp_path)), port=0)
  threading.Thread(target=served.serve_forever, daemon=True).start()
  try:
    status, page = _get('http://127.0.0.1:%d/production' % served.server_address[1])
  finally:
    served.shutdown()
    served.server_close()
  assert status == 200
  assert 'accuracy below 1.0000 on a slice of at least\n30 images' in page
  assert '<td class="number">1.0000 (30)</td><td class="number">0.9000 (12)</td>' in page
