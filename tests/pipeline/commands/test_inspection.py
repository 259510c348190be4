"""The inspection commands over real ML Metadata stores: `visionflow runs` filtered by its flags, `visionflow
compare` side by side as text with `*` on the rows that differ or as one JSON document, and `visionflow show
--lineage`; a bad flag value, a selection it cannot compare or an unknown version is one line and exit code 2."""
import dataclasses
import getpass
import json
import os
import re

import pytest

from components import names
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


def _listed(capsys):
  """The listed runs' columns, after checking the header."""
  out = capsys.readouterr().out.splitlines()
  assert out[0] == 'run id\tstarted\tduration\tstate\tblessed\tpushed\taccuracy\tstarted by'
  return [row.split('\t') for row in out[1:]]


def _rows(capsys):
  """The listed runs' (id, state, blessed, pushed)."""
  return [tuple(row[index] for index in (0, 3, 4, 5)) for row in _listed(capsys)]


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


def test_runs_says_what_started_each_run_and_a_dash_where_no_process_recorded_it(tmp_path, capsys):
  """Runs written into the store without a local process record, as a Kubeflow run's are: nothing says who."""
  assert cli.main(['runs', '--output-dir', _output_dir(tmp_path)]) == 0
  assert [row[7] for row in _listed(capsys)] == ['-', '-', '-']


@pytest.mark.slow
def test_runs_started_by_hand_are_listed_as_started_by_their_user(compared_runs, capsys):
  assert cli.main(['runs', '--output-dir', compared_runs.output_dir]) == 0
  assert {row[0]: row[7] for row in _listed(capsys)} == {
      run_id: f'by {getpass.getuser()}' for run_id in (compared_runs.first, compared_runs.retrained,
                                                       compared_runs.uncached, compared_runs.other_data,
                                                       compared_runs.refused_data)}


def test_a_bad_filter_value_is_one_line_and_exit_2(tmp_path, capsys):
  output_dir = _output_dir(tmp_path)
  assert cli.main(['runs', '--output-dir', output_dir, '--since', '2026-12-32']) == 2
  assert capsys.readouterr().err.splitlines() == [
      "visionflow runs: error: since '2026-12-32' is not a date: give it as YYYY-MM-DD"]
  assert cli.main(['runs', '--output-dir', output_dir, '--pipeline', 'nightly']) == 2
  assert capsys.readouterr().err.splitlines() == [
      "visionflow runs: error: no pipeline 'nightly': choose one of training, monitoring"]


@pytest.mark.slow
def test_compare_marks_the_rows_that_differ_under_the_test_set_verdict(compared_runs, capsys):
  assert cli.main(['compare', compared_runs.first, compared_runs.retrained,
                   '--output-dir', compared_runs.output_dir]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].startswith('Same test set: ')
  rows = {line.split('\t')[1]: line.split('\t') for line in lines if '\t' in line and line.split('\t')[1]}
  assert rows['Trainer: epochs'] == ['*', 'Trainer: epochs', '2', '3']
  assert rows['rows accepted'] == ['', 'rows accepted', '200', '200']
  assert ['', '', f'run {compared_runs.first}', f'run {compared_runs.retrained}'] in [
      line.split('\t') for line in lines]


@pytest.mark.slow
def test_compare_json_is_one_document_flagging_test_sets_that_differ(compared_runs, capsys):
  assert cli.main(['compare', f'{compared_runs.first},{compared_runs.other_data}', '--json',
                   '--output-dir', compared_runs.output_dir]) == 0
  document = json.loads(capsys.readouterr().out)
  assert document['run_ids'] == [compared_runs.first, compared_runs.other_data]
  assert document['test_sets']['same'] is False
  assert document['test_sets']['message'].startswith('Test sets differ: accuracies are not comparable')
  assert set(document['curves']['loss']) == {compared_runs.first, compared_runs.other_data}


@pytest.mark.slow
@pytest.mark.parametrize('run_ids, error', [
    (['nope'], 'compare 2 to 4 runs, not 1'),
    (['a', 'b', 'c', 'd', 'e'], 'compare 2 to 4 runs, not 5'),
    (['{first}', 'nope'], "no run 'nope' in the metadata store"),
])
def test_compare_refuses_what_it_cannot_compare_in_one_line(compared_runs, capsys, run_ids, error):
  run_ids = [run_id.format(first=compared_runs.first) for run_id in run_ids]
  assert cli.main(['compare', *run_ids, '--output-dir', compared_runs.output_dir]) == 2
  assert capsys.readouterr().err.splitlines() == [f'visionflow compare: error: {error} (see `visionflow runs`)']


@pytest.mark.slow
def test_a_run_the_scheduler_started_is_listed_as_started_by_its_schedule_and_trigger(scheduled_runs, capsys):
  assert cli.main(['runs', '--output-dir', scheduled_runs.output_dir]) == 0
  assert [(row[0], row[7]) for row in _listed(capsys)] == [(scheduled_runs.run_id, scheduled_runs.trigger)]
  assert re.fullmatch(rf'schedule nightly: run now, asked by {re.escape(getpass.getuser())} at '
                      r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d', scheduled_runs.trigger), scheduled_runs.trigger


def test_show_lineage_prints_a_pushed_versions_chain_and_names_an_unknown_version_in_one_line(tmp_path, capsys):
  output_dir = str(tmp_path / 'out')
  model_dir = os.path.join(output_dir, 'serving', 'image_classifier')
  os.makedirs(os.path.join(model_dir, '7'))
  stored_runs.add_run(os.path.join(output_dir, 'metadata.sqlite'), 'visionflow', 'train-pushed', (
      Step('Trainer', outputs={names.MODEL: {names.WARM_START: 'from scratch: no model in production'}}),
      dataclasses.replace(stored_runs.pushed('7', model_dir), inputs=(names.MODEL,))))
  assert cli.main(['show', '--lineage', '7', '--output-dir', output_dir]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[:2] == ['Run train-pushed', 'Pushed: version 7 (pushed by run train-pushed)']
  assert 'Its model became: version 7 (pushed by run train-pushed)' in lines
  assert cli.main(['show', '--lineage', '7', '--output-dir', output_dir, '--json']) == 0
  shown = json.loads(capsys.readouterr().out)
  assert (shown['run_id'], shown['warm_start']) == ('train-pushed', 'from scratch: no model in production')
  assert cli.main(['show', '--lineage', '8', '--output-dir', output_dir]) == 2
  assert capsys.readouterr().err.splitlines() == [
      f'visionflow show: error: no pushed version 8 under {model_dir}: the Models page and `visionflow runs '
      f'--pushed` list the versions']
  assert cli.main(['show', '--output-dir', output_dir]) == 2
  assert capsys.readouterr().err.splitlines() == [
      "visionflow show: error: give a run id, or --lineage VERSION for a pushed version's lineage"]
