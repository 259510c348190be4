"""The Evaluator's gates on TFMA's counts, and its explanations: a failure of those becomes a warning and a
sentence in the report, never a failed step."""
from components.evaluator import component
from components.evaluator import gates
from tests.components.test_evaluation_results import COUNTED_VALUES


def test_the_gates_read_counts_from_tfma_values_and_the_paired_metric():
  policy = gates.BlessingPolicy(min_slice_accuracy=0.5)
  checked = component.check_gates(COUNTED_VALUES, policy, has_baseline=True)
  assert [(gate.kind, gate.slice, gate.examples, gate.verdict) for gate in checked] == [
      (gates.OVERALL_ACCURACY, 'overall', 200, gates.PASSED), (gates.CHANGE, 'overall', 200, gates.FAILED),
      (gates.SLICE_ACCURACY, 'label=cat', 14, gates.TOO_SMALL),
      (gates.SLICE_ACCURACY, 'label=dog', 186, gates.PASSED)]
  assert checked[2].value == 6 / 14 and checked[1].value == -0.07
  assert [gate.kind for gate in component.check_gates(COUNTED_VALUES, policy, has_baseline=False)] == [
      gates.OVERALL_ACCURACY, gates.SLICE_ACCURACY, gates.SLICE_ACCURACY]


def test_explanations_that_fail_leave_the_reason_for_the_report_and_a_warning(tmp_path, caplog):
  (tmp_path / 'model').mkdir()  # a folder without the Trainer's training record: not a model to explain
  sample = component.explain_candidate(str(tmp_path / 'model'), [str(tmp_path / 'Split-test')],
                                       str(tmp_path / 'report' / 'explanations'))
  assert sample.explanations == [] and sample.examples_classified == 0
  assert sample.error.startswith('NotPipelineModelError: ') and 'visionflow_training.json' in sample.error
  assert 'Evaluator: explanations could not be computed' in caplog.text and 'Traceback' in caplog.text
