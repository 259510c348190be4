"""The Evaluator's explanations: a failure becomes a warning and a sentence in the report, never a failed step."""
from components.evaluator import component


def test_explanations_that_fail_leave_the_reason_for_the_report_and_a_warning(tmp_path, caplog):
  (tmp_path / 'model').mkdir()  # a folder without the Trainer's training record: not a model to explain
  sample = component.explain_candidate(str(tmp_path / 'model'), [str(tmp_path / 'Split-test')],
                                       str(tmp_path / 'report' / 'explanations'))
  assert sample.explanations == [] and sample.examples_classified == 0
  assert sample.error.startswith('NotPipelineModelError: ') and 'visionflow_training.json' in sample.error
  assert 'Evaluator: explanations could not be computed' in caplog.text and 'Traceback' in caplog.text
