"""A run's log file found by its run id, and cut into each component's lines."""
import json
import os

from pipeline import run_logs

RUN_ID = '2026-03-01T10:00:05.123456'


def _write(folder, name, lines):
  path = os.path.join(folder, name)
  with open(path, 'w') as handle:
    handle.write('\n'.join(lines) + '\n')
  return path


def test_the_log_naming_the_run_id_is_found_among_its_neighbours(tmp_path):
  other = _write(tmp_path, 'run-20260301-100003.log', ["pipeline_run_id='2026-03-01T10:00:03.000001'"])
  mine = _write(tmp_path, 'run-20260301-100004.log', ["x", f"pipeline_run_id='{RUN_ID}', top_level=None"])
  _write(tmp_path, 'run-20260301-120000.log', [f"pipeline_run_id='{RUN_ID}'"])  # opened after the run began
  assert run_logs.find_log(str(tmp_path), RUN_ID) == mine
  assert run_logs.find_log(str(tmp_path), '2026-03-01T10:00:03.000001') == other
  assert run_logs.find_log(str(tmp_path), '2026-03-02T10:00:00') is None
  assert run_logs.find_log(str(tmp_path), 'not-a-local-run-id') is None


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
