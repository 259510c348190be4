"""Runs compared side by side over a store that five real runs left behind (tests/pipeline/conftest.py): a first
run, a retrain with one more epoch on the same data, the first again without the cache, a run on other images
and one whose data ExampleGen refused."""
import json

import pytest

from components import accuracy_intervals
from components import names
from components import test_answers
from components.reports import artifact_contents
from pipeline.inspect import compare
from pipeline.inspect import runs as runs_lib


def _no_process_known(run_id):
  return None


def _compare(compared_runs, *run_ids):
  store = runs_lib.open_store(f'{compared_runs.output_dir}/metadata.sqlite', read_only=True)
  return compare.compare(store, run_ids, _no_process_known)


def _rows(comparison, title):
  [section] = [section for section in comparison.sections if section.title == title]
  return {row.name: row for row in section.rows}


def test_runs_are_given_repeated_or_comma_separated_two_to_four_of_them_each_once():
  assert compare.select_runs(['a,b', 'c']) == ['a', 'b', 'c']
  with pytest.raises(compare.SelectionError, match='compare 2 to 4 runs, not 1'):
    compare.select_runs(['a'])
  with pytest.raises(compare.SelectionError, match='compare 2 to 4 runs, not 5'):
    compare.select_runs(['a,b,c,d,e'])
  with pytest.raises(compare.SelectionError, match='run a is named twice'):
    compare.select_runs(['a', 'a'])


@pytest.mark.slow
def test_a_retrain_on_the_same_data_differs_in_its_epochs_not_in_its_data(compared_runs):
  comparison = _compare(compared_runs, compared_runs.retrained, compared_runs.first)
  assert comparison.run_ids == (compared_runs.first, compared_runs.retrained)  # oldest first
  assert comparison.test_sets.same
  assert comparison.test_sets.message.startswith('Same test set: every Evaluator read the same ExampleGen output')
  settings = _rows(comparison, 'Settings')
  assert settings['Trainer: epochs'].values == ('2', '3') and settings['Trainer: epochs'].differs
  assert settings['epochs trained'].values == ('2', '3') and settings['epochs trained'].differs
  assert not settings['model choice'].differs
  data = _rows(comparison, 'Data')
  assert data['rows accepted'].values == ('200', '200')
  assert not any(row.differs for row in data.values())
  steps = _rows(comparison, 'Steps')
  assert steps['FileBasedExampleGen'].differs  # executed, then cached
  assert steps['FileBasedExampleGen'].values[1].startswith(f'cached from run {compared_runs.first}')
  assert not steps['Trainer'].differs and steps['Trainer'].values[1].startswith('executed')
  outcome = _rows(comparison, 'Blessing and push')
  assert outcome['measured against'].values[0] == 'no model in production'


@pytest.mark.slow
def test_the_retrain_measured_against_the_first_run_s_model_shows_that_paired_change(compared_runs):
  comparison = _compare(compared_runs, compared_runs.first, compared_runs.retrained)
  store = runs_lib.open_store(f'{compared_runs.output_dir}/metadata.sqlite', read_only=True)
  evaluation = runs_lib.outputs_by_key(runs_lib.run_nodes(store, compared_runs.retrained))[names.EVALUATION]
  recorded = {counts['slice'] or 'overall': counts for counts in json.loads(
      evaluation.properties[names.PAIRED_COUNTS])}
  overall = next(change for change in comparison.paired if change.slice == 'overall')
  assert (overall.candidate_run, overall.baseline_run) == (compared_runs.retrained, compared_runs.first)
  assert overall.counts == accuracy_intervals.PairedCounts(**recorded['overall'])
  test_rows = _rows(comparison, 'Data')['rows accepted into test'].values[1]
  assert overall.counts.examples == int(test_rows)  # the whole test split
  assert overall.interval == overall.counts.difference_interval(0.95)
  assert {change.slice for change in comparison.paired} == set(recorded)
  slices = _rows(comparison, 'Accuracy per slice')
  paired_row = slices[f'overall: paired change against run {compared_runs.first}']
  assert paired_row.values == (None, overall.describe())
  assert slices['overall'].values[0].endswith(f'{test_rows} examples)')


@pytest.mark.slow
def test_the_answers_each_evaluator_kept_pair_to_the_counts_tfma_measured_against_production(compared_runs):
  """The retrain's Evaluator counted (with TFMA) the examples only it or the first run's model got right; the two
  runs' kept answers, paired example by example, give the same counts on every slice."""
  store = runs_lib.open_store(f'{compared_runs.output_dir}/metadata.sqlite', read_only=True)
  evaluations = [runs_lib.outputs_by_key(runs_lib.run_nodes(store, run_id))[names.EVALUATION]
                 for run_id in (compared_runs.first, compared_runs.retrained)]
  first, retrained = [artifact_contents.test_answers_of(evaluation.uri) for evaluation in evaluations]
  recorded = [accuracy_intervals.PairedCounts(**counts)
              for counts in json.loads(evaluations[1].properties[names.PAIRED_COUNTS])]
  assert recorded and test_answers.paired_counts(retrained, first) == recorded


@pytest.mark.slow
def test_any_two_runs_on_one_test_set_get_the_paired_change_from_their_kept_answers(compared_runs):
  comparison = _compare(compared_runs, compared_runs.uncached, compared_runs.first)
  store = runs_lib.open_store(f'{compared_runs.output_dir}/metadata.sqlite', read_only=True)
  first, uncached = [artifact_contents.test_answers_of(
      runs_lib.outputs_by_key(runs_lib.run_nodes(store, run_id))[names.EVALUATION].uri)
      for run_id in (compared_runs.first, compared_runs.uncached)]
  expected = test_answers.paired_counts(uncached, first)
  assert [(change.candidate_run, change.baseline_run, change.counts) for change in comparison.paired] == [
      (compared_runs.uncached, compared_runs.first, counts) for counts in expected]
  test_rows = int(_rows(comparison, 'Data')['rows accepted into test'].values[0])
  assert expected[0].examples == len(first.answers) == test_rows
  slices = _rows(comparison, 'Accuracy per slice')
  paired_row = slices[f'overall: paired change against run {compared_runs.first}']
  assert paired_row.values == (None, comparison.paired[0].describe())
  [note] = [section.note for section in comparison.sections if section.title == 'Accuracy per slice']
  assert note.startswith('Exact (Clopper-Pearson) intervals; the paired change')


@pytest.mark.slow
def test_a_rerun_without_the_cache_made_its_test_set_again_from_the_same_files(compared_runs):
  comparison = _compare(compared_runs, compared_runs.first, compared_runs.uncached)
  assert comparison.test_sets.same
  assert comparison.test_sets.message == ('Same test set: the ExampleGen outputs were made from the same input '
                                          'files with the same settings')
  assert not _rows(comparison, 'Steps')['FileBasedExampleGen'].differs  # executed both times
  assert not any(row.differs for row in _rows(comparison, 'Data').values())


@pytest.mark.slow
def test_runs_on_other_images_say_their_test_sets_differ_and_compare_no_accuracy(compared_runs):
  comparison = _compare(compared_runs, compared_runs.first, compared_runs.retrained, compared_runs.other_data)
  assert not comparison.test_sets.same
  assert comparison.test_sets.message == (
      f'Test sets differ: accuracies are not comparable (each test set: run {compared_runs.first} and '
      f'{compared_runs.retrained}; run {compared_runs.other_data})')
  assert comparison.paired == ()
  data = _rows(comparison, 'Data')
  assert data['rows accepted'].values == ('200', '200', '150') and data['rows accepted'].differs
  slices = _rows(comparison, 'Accuracy per slice')
  test_rows = data['rows accepted into test'].values[2]
  assert slices['overall'].values[2].endswith(f'{test_rows} examples)') and not slices['overall'].differs
  assert not any(row.differs for row in _rows(comparison, 'Blessing gates').values())
  assert _rows(comparison, 'Settings')['FileBasedExampleGen: input_base'].differs


@pytest.mark.slow
def test_a_run_that_never_reached_the_evaluator_is_not_compared_and_shows_the_steps_it_did_not_run(compared_runs):
  comparison = _compare(compared_runs, compared_runs.first, compared_runs.refused_data)
  assert comparison.test_sets == compare.TestSets(False, (
      f'Accuracies are not comparable: run {compared_runs.refused_data} has no evaluation (it did not reach the '
      f'Evaluator)'))
  steps = _rows(comparison, 'Steps')
  assert steps['FileBasedExampleGen'].values[1].startswith('failed, ')
  assert steps['Trainer'].values[1] == 'not run' and steps['Trainer'].differs
  outcome = _rows(comparison, 'Blessing and push')
  assert outcome['state'].values == ('COMPLETE', 'FAILED') and outcome['blessed'].values[1] is None


@pytest.mark.slow
def test_every_run_s_training_curves_are_read_one_point_per_epoch(compared_runs):
  comparison = _compare(compared_runs, compared_runs.first, compared_runs.retrained)
  accuracy = comparison.curves['accuracy']
  assert [len(accuracy[run_id]['validation']) for run_id in comparison.run_ids] == [2, 3]
  last = _rows(comparison, 'Training')['accuracy, validation, last epoch'].values
  assert last[1] == f'{accuracy[compared_runs.retrained]["validation"][-1][1]:.4f} (epoch 3)'


@pytest.mark.slow
def test_an_unknown_run_is_named(compared_runs):
  with pytest.raises(compare.UnknownRunError, match="no run 'nope' in the metadata store"):
    _compare(compared_runs, compared_runs.first, 'nope')
