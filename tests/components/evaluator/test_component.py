"""The Evaluator's gates on TFMA's counts, its verdict and how the blessing records it, and its explanations: a
failure of those becomes a warning and a sentence in the report, never a failed step."""
import dataclasses
import json

from tfx.components.evaluator import constants
from tfx.types import standard_artifacts

from components import executor_settings
from components import names
from components.evaluator import class_change
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


def test_a_changed_class_list_leads_the_reasons_and_refuses_the_candidate_unless_allowed():
  policy = gates.BlessingPolicy(min_slice_accuracy=0.5)
  change = class_change.detect(('cat',), ('cat', 'dog'))
  settings = component.EvaluatorSettings('model', ('cat', 'dog'), ('test',), allow_class_change=False)
  refused = component.decide(COUNTED_VALUES, policy, settings, change, has_baseline=False, shared=None)
  assert not refused.blessed
  assert refused.reasons == [class_change.blessing_reason(change, False)] + gates.refusals(refused.checked)
  allowed = component.decide(COUNTED_VALUES, policy, dataclasses.replace(settings, allow_class_change=True), change,
                             has_baseline=False, shared=None)
  assert allowed.blessed and allowed.reasons == [class_change.blessing_reason(change, True)]
  unchanged = component.decide(COUNTED_VALUES, policy, settings, None, has_baseline=True, shared=None)
  assert not unchanged.blessed and unchanged.reasons == gates.refusals(unchanged.checked) != []


def test_the_blessing_records_the_verdict_as_tfx_does_with_the_baseline_and_the_reasons(tmp_path):
  blessing, model = standard_artifacts.ModelBlessing(), standard_artifacts.Model()
  blessing.uri, model.uri, model.id = str(tmp_path), '/models/candidate', 7
  verdict = component.Verdict(blessed=False, reasons=['accuracy too low'], checked=[])
  component.record_blessing(blessing, model, verdict, '/serving/model/3')
  assert (tmp_path / constants.NOT_BLESSED_FILE_NAME).exists()
  assert blessing.get_int_custom_property(names.BLESSED) == constants.NOT_BLESSED_VALUE
  assert blessing.get_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY) == model.uri
  assert blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY) == 7
  assert blessing.get_string_custom_property(names.BASELINE_VERSION_DIR) == '/serving/model/3'
  assert json.loads(blessing.get_string_custom_property(names.BLESSING_REASONS)) == ['accuracy too low']


def test_the_blessing_records_every_gate_and_the_evaluation_the_counts_they_were_decided_on(tmp_path):
  blessing, model, evaluation = (standard_artifacts.ModelBlessing(), standard_artifacts.Model(),
                                 standard_artifacts.ModelEvaluation())
  blessing.uri, model.uri = str(tmp_path), '/models/candidate'
  checked = component.check_gates(COUNTED_VALUES, gates.BlessingPolicy(min_slice_accuracy=0.5), has_baseline=True)
  component.record_blessing(blessing, model, component.Verdict(False, gates.refusals(checked), checked), None)
  recorded = json.loads(blessing.get_string_custom_property(names.BLESSING_GATES))
  assert [executor_settings.from_json_dict(gates.Gate, gate) for gate in recorded] == checked
  component.record_counts(evaluation, COUNTED_VALUES, shared=None)
  assert json.loads(evaluation.get_string_custom_property(names.SLICE_COUNTS)) == [
      {'name': 'overall', 'examples': 200, 'correct': 180}, {'name': 'label=cat', 'examples': 14, 'correct': 6},
      {'name': 'label=dog', 'examples': 186, 'correct': 174}]
  assert json.loads(evaluation.get_string_custom_property(names.PAIRED_COUNTS)) == [
      {'examples': 200, 'candidate_only': 1, 'production_only': 15, 'slice': ''}]
  # A changed class list: TFMA had no baseline, and the shared classes' counts are the paired ones.
  shared = class_change.SharedComparison(class_change.detect(('cat',), ('cat', 'dog')), examples=14,
                                         candidate_only=2, production_only=1)
  component.record_counts(evaluation, COUNTED_VALUES, shared)
  assert json.loads(evaluation.get_string_custom_property(names.PAIRED_COUNTS)) == [
      {'examples': 14, 'candidate_only': 2, 'production_only': 1, 'slice': shared.slice}]
