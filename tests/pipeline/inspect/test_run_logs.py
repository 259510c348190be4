"""A run's log file found by its run id, and cut into each component's lines."""
import json
import os

from pipeline.inspect import run_logs

def _write(folder, name, lines):
  path = os.path.join(folder, name)
  with open(path, 'w') as handle:
    handle.write('\n'.join(lines) + '\n')
  return path


def test_each_run_has_its_own_id_and_log_file(tmp_path):
  ids = {run_logs.new_run_id() for _ in range(200)}  # runs started in the same second still differ
  assert len(ids) == 200 and all(run_logs.is_local_run_id(run_id) for run_id in ids)
  run_id = sorted(ids)[0]
  mine = _write(tmp_path, f'run-{run_id}.log', ['x'])
  assert run_logs.find_log(str(tmp_path), run_id) == mine == run_logs.log_path(str(tmp_path), run_id)
  assert run_logs.find_log(str(tmp_path), sorted(ids)[1]) is None  # no log written for it
  for unsafe in ('../run-x', '2026-03-01T10:00:05.123456', f'{run_id}/../../etc'):
    assert not run_logs.is_local_run_id(unsafe) and run_logs.find_log(str(tmp_path), unsafe) is None


def test_component_lines_run_from_start_to_finish_or_to_the_end(tmp_path):
  dag = {'ExampleGen': [], 'Trainer': ['ExampleGen']}
  path = _write(tmp_path, 'run.log', [
      'INFO root: ' + run_logs.DAG_MESSAGE % json.dumps(dag),
      'INFO absl: Component ExampleGen is running.', 'INFO absl: read 10 rows',
      'INFO absl: Component ExampleGen is finished.',
      'INFO absl: Component Trainer is running.', 'ERROR root: The run failed', 'ValueError: bad input'])
  assert run_logs.logged_dag(path) == dag
  assert run_logs.node_log(path, 'ExampleGen') == [
      'INFO absl: Component ExampleGen is running.', 'INFO absl: read 10 rows',
      'INFO absl: Component ExampleGen is finished.']
  assert run_logs.node_log(path, 'Trainer')[-1] == 'ValueError: bad input'
  assert run_logs.node_log(path, 'Pusher') == []


def test_a_long_component_log_keeps_its_last_lines(tmp_path):
  lines = ['Component Transform is running.'] + [f'line {index}' for index in range(1000)]
  path = _write(tmp_path, 'run.log', lines + ['Component Transform is finished.'])
  kept = run_logs.node_log(path, 'Transform')
  assert len(kept) == run_logs.MAX_NODE_LOG_LINES and kept[-1] == 'Component Transform is finished.'
