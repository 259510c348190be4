"""`visionflow runs` filtered by its flags over a real ML Metadata store, and a bad flag value in one line (exit 2)."""
import os

from pipeline import cli
from tests.pipeline.inspect import stored_runs
from tests.pipeline.inspect.stored_runs import Step


def _output_dir(tmp_path):
  """An output folder whose store holds a pushed training run and a failed and a running monitoring run."""
  output_dir = str(tmp_path / 'out')
  metadata_path = os.path.join(output_dir, 'metadata.sqlite')
  os.makedirs(output_dir)
  stored_runs.add_run(metadata_path, 'visionflow', 'train-pushed',
                      (Step('FileBasedExampleGen'), stored_runs.blessed(True), stored_runs.pushed('7')))
  stored_runs.add_run(metadata_path, 'visionflow-monitoring', 'monitor-failed',
                      (Step('FileBasedExampleGen', 'FAILED'),))
  stored_runs.add_run(metadata_path, 'visionflow-monitoring', 'monitor-running',
                      (Step('FileBasedExampleGen'), Step('ProductionMonitor', 'RUNNING')))
  return output_dir


def _rows(capsys):
  """The listed runs' (id, state, blessed, pushed) after checking the header."""
  out = capsys.readouterr().out.splitlines()
  assert out[0] == 'run id\tstarted\tduration\tstate\tblessed\tpushed\taccuracy'
  return [tuple(row.split('\t')[index] for index in (0, 3, 4, 5)) for row in out[1:]]


def test_runs_lists_the_runs_its_flags_admit_and_where_a_running_run_is(tmp_path, capsys):
  output_dir = _output_dir(tmp_path)
  assert cli.main(['runs', '--output-dir', output_dir, '--pipeline', 'monitoring']) == 0
  assert sorted(_rows(capsys)) == [('monitor-failed', 'FAILED', '-', '-'),
                                   ('monitor-running', 'RUNNING at ProductionMonitor', '-', '-')]
  assert cli.main(['runs', '--output-dir', output_dir, '--pipeline', 'monitoring', '--state', 'failed']) == 0
  assert _rows(capsys) == [('monitor-failed', 'FAILED', '-', '-')]
  assert cli.main(['runs', '--output-dir', output_dir, '--pushed']) == 0
  assert _rows(capsys) == [('train-pushed', 'COMPLETE', 'yes', '7')]
  assert cli.main(['runs', '--output-dir', output_dir, '--pushed', 'no', '--pipeline', 'training']) == 0
  assert _rows(capsys) == []


def test_a_bad_filter_value_is_one_line_and_exit_2(tmp_path, capsys):
  output_dir = _output_dir(tmp_path)
  assert cli.main(['runs', '--output-dir', output_dir, '--since', '2026-12-32']) == 2
  assert capsys.readouterr().err.splitlines() == [
      "visionflow runs: error: since '2026-12-32' is not a date: give it as YYYY-MM-DD"]
  assert cli.main(['runs', '--output-dir', output_dir, '--pipeline', 'nightly']) == 2
  assert capsys.readouterr().err.splitlines() == [
      "visionflow runs: error: no pipeline 'nightly': choose one of training, monitoring"]
