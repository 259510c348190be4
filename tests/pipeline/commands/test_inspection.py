"""`visionflow compare`: runs side by side as text with `*` on the rows that differ, or as one JSON document; a
selection it cannot compare is one line and exit code 2."""
import json

import pytest

from pipeline import cli


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
