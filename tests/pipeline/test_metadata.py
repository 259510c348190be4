"""Run listings over a real ML Metadata SQLite store holding hundreds of runs, as a long-lived pipeline's does.

The store is written through ML Metadata's own API with the context and execution types TFX's runner
uses; test_ui.py covers stores that real pipeline runs wrote.
"""
import datetime
import threading
import urllib.error
import urllib.request

import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2

from pipeline import metadata
from pipeline import ui

RUNS = 300
FAILED_EVERY = 30


def _run_id(index):
  return (datetime.datetime(2026, 1, 1) + datetime.timedelta(minutes=index)).isoformat()


@pytest.fixture(scope='module')
def many_runs(tmp_path_factory):
  """The path of a store with RUNS runs of one Trainer each; every FAILED_EVERY-th run failed."""
  path = str(tmp_path_factory.mktemp('store') / 'metadata.sqlite')
  store = mlmd.MetadataStore(metadata.sqlite_connection_config(path))
  run_type = store.put_context_type(metadata_store_pb2.ContextType(name=metadata.PIPELINE_RUN_CONTEXT))
  node_type = store.put_context_type(metadata_store_pb2.ContextType(name=metadata.NODE_CONTEXT))
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
  views, total = metadata.list_runs(metadata.open_store(many_runs), offset=25, limit=25)
  assert total == RUNS
  assert [view.run_id for view in views] == [_run_id(index) for index in range(RUNS - 26, RUNS - 51, -1)]


def test_the_state_filter_counts_every_matching_run(many_runs):
  views, total = metadata.list_runs(metadata.open_store(many_runs), state='FAILED', limit=5)
  assert total == RUNS // FAILED_EVERY
  assert [view.run_id for view in views] == [_run_id(index) for index in (270, 240, 210, 180, 150)]
  assert {view.state for view in views} == {'FAILED'}


@pytest.fixture(scope='module')
def server(many_runs, tmp_path_factory):
  folder = tmp_path_factory.mktemp('ui')
  served = ui.make_server(ui.Sources(many_runs, str(folder / 'logs'), str(folder / 'serving' / 'model')),
                          port=0)
  thread = threading.Thread(target=served.serve_forever, daemon=True)
  thread.start()
  yield 'http://127.0.0.1:%d' % served.server_address[1]
  served.shutdown()
  served.server_close()


def _get(url):
  try:
    with urllib.request.urlopen(url, timeout=30) as response:
      return response.status, response.read().decode('utf-8')
  except urllib.error.HTTPError as error:
    return error.code, error.read().decode('utf-8')


def test_the_runs_page_paginates(server):
  status, page = _get(server + '/?page=2')
  assert status == 200
  assert page.count('<tr><td><a href="/runs/') == ui.RUNS_PER_PAGE
  assert f'Page 2 of {-(-RUNS // ui.RUNS_PER_PAGE)}' in page
  assert _run_id(RUNS - 1 - ui.RUNS_PER_PAGE) in page and _run_id(RUNS - 1) not in page


def test_the_runs_page_filters_by_state(server):
  status, page = _get(server + '/?state=failed')
  assert status == 200 and f'{RUNS // FAILED_EVERY} runs failed' in page
  assert page.count('class="state-FAILED"') == RUNS // FAILED_EVERY


def test_a_run_without_its_log_or_later_components_still_shows(server):
  status, page = _get(server + '/runs/' + urllib.request.quote(_run_id(0), safe=''))
  assert status == 200 and 'data-node="Trainer"' in page and 'none found for this run' in page
  status, page = _get(server + '/runs/' + urllib.request.quote(_run_id(0), safe='') + '/evaluation')
  assert status == 200 and 'The Evaluator did not run in this run.' in page


def test_unknown_runs_and_pages_are_404_with_a_reason(server):
  status, page = _get(server + '/runs/no-such-run')
  assert status == 404 and "no run &#39;no-such-run&#39; in the metadata store" in page
  assert _get(server + '/nowhere')[0] == 404
  assert _get(server + '/?state=bogus')[0] == 404
