"""Evaluator that compares the candidate with the model in production, read from the serving directory.

TFX's Evaluator takes its baseline from a Resolver node, which self-hosted Kubeflow Pipelines v2 does not
run ("resolver executors not implemented"). The model in production is, by definition, the newest version
under the serving directory that the Pusher writes; this executor reads it there, so the same DAG blesses
the same way on LocalDagRunner and on Kubeflow, and a model pushed by another pipeline counts too.

It runs TFMA as TFX's Evaluator does (same outputs: ModelEvaluation and ModelBlessing), then stores why a
model was or was not blessed, and every gate, on the blessing artifact, and the counts the gates read on the
evaluation artifact (so that runs can be compared without TFMA). It writes the evaluation report (HTML and
Markdown) into the evaluation artifact, under report/, named by its properties report_html and
report_markdown. The same report is also output as system.HTML and system.Markdown artifacts, which the
Kubeflow UI renders. The report shows integrated-gradients heatmaps of a few test images of each class
(components/evaluator/explanations.py), computed here on the CPU after TFMA. When the candidate's class list
differs from the one production's Trainer recorded, TFMA evaluates the candidate alone and the two are
compared on the shared classes (components/evaluator/class_change.py); the change itself refuses the candidate
unless allow_class_change is set.
"""
import dataclasses
import json
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from absl import logging
import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import constants
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.utils import io_utils
from tfx.utils import json_utils
from tfx.utils import path_utils

from components import accuracy_intervals
from components import eval_config
from components import evaluation_defaults
from components import evaluation_results
from components import executor_settings
from components import model_analysis
from components import pixel_model
from components.evaluator import class_change
from components.evaluator import evaluation_report
from components.evaluator import explanations
from components.evaluator import gates
from components import names
from components import serving_dir
from components import test_answers
from components.reports import kfp_artifacts

SERVING_DIR = 'serving_dir'
MIN_ACCURACY = 'min_accuracy'
MIN_SLICE_ACCURACY = 'min_slice_accuracy'
MAX_ACCURACY_DROP = 'max_accuracy_drop'
SETTINGS = 'settings'
# The newest version in the serving directory as the runner saw it before the run. Unused by the executor,
# which reads the serving directory itself: it is there so that TFX's cache key changes with production,
# and a verdict against an older production model is not reused.
PRODUCTION_MODEL = 'production_model'


@dataclasses.dataclass(frozen=True)
class EvaluatorSettings:
  """The Evaluator's settings that are not Kubeflow runtime parameters, as one JSON execution property.

  The serving directory and the accuracy thresholds stay execution properties of their own, each a runtime
  parameter on Kubeflow.
  """
  model_name: str
  class_names: Tuple[str, ...]
  example_splits: Tuple[str, ...]
  allow_class_change: bool  # class_change.SETTING: whether a changed class list may be blessed
  min_slice_examples: int = gates.BlessingPolicy.min_slice_examples
  significance: float = gates.BlessingPolicy.significance
  strict_gates: bool = False
  slice_features: Tuple[str, ...] = ()
  fairness_thresholds: Tuple[float, ...] = evaluation_defaults.FAIRNESS_THRESHOLDS


def check_gates(values: Dict[evaluation_results.MetricId, float], policy: gates.BlessingPolicy, has_baseline: bool,
                paired: Optional[accuracy_intervals.PairedCounts] = None) -> List[gates.Gate]:
  """The blessing gates on TFMA's counts: each slice's examples and right answers, and with a baseline,
  PairedAccuracy's counts of the examples only one of the two models got right, or `paired` when those were
  counted outside TFMA (on the classes shared with production, when the class lists differ)."""
  counts = evaluation_results.slice_counts(values)
  overall = (counts[0] if counts and counts[0].name == evaluation_results.OVERALL
             else accuracy_intervals.SliceCounts(evaluation_results.OVERALL, 0, 0))
  if paired is None and has_baseline:
    paired = evaluation_results.paired_counts(values)
  return gates.check(policy, overall, [counted for counted in counts if counted.name != evaluation_results.OVERALL],
                     paired)


def explain_candidate(candidate_dir: str, split_uris: Sequence[str], output_dir: str,
                      slice_features: Sequence[str] = ()) -> explanations.ExplainedSample:
  """Heatmaps of test images for the report. A failure is logged with its traceback and stated in the report,
  not raised: the blessing, already decided, does not depend on them."""
  started = time.monotonic()
  try:
    sample = explanations.explain_test_images(candidate_dir, split_uris, output_dir, slice_features)
  except Exception as error:  # whatever fails here, the verdict and the rest of the report still stand
    logging.warning('Evaluator: explanations could not be computed: %s', error, exc_info=True)
    return explanations.ExplainedSample([], 0, time.monotonic() - started, f'{type(error).__name__}: {error}')
  logging.info('Evaluator: explained %d test images, chosen among %d, in %.1f s', len(sample.explanations),
               sample.examples_classified, sample.seconds)
  return sample


@dataclasses.dataclass(frozen=True)
class Verdict:
  """Whether the candidate is blessed, the reasons it is not (or that its class list changed), and every gate."""
  blessed: bool
  reasons: List[str]
  checked: List[gates.Gate]


def blessing_policy(exec_properties: Dict[str, Any], settings: EvaluatorSettings) -> gates.BlessingPolicy:
  """The policy from the threshold execution properties (Kubeflow runtime parameters) and the settings."""
  return gates.BlessingPolicy(
      min_accuracy=float(exec_properties[MIN_ACCURACY]),
      min_slice_accuracy=float(exec_properties[MIN_SLICE_ACCURACY]),
      max_accuracy_drop=float(exec_properties[MAX_ACCURACY_DROP]),
      min_slice_examples=settings.min_slice_examples,
      significance=settings.significance,
      strict=settings.strict_gates)


def production_baseline(serving_root: str, settings: EvaluatorSettings
                        ) -> Tuple[Optional[str], Optional[class_change.ClassChange]]:
  """(the newest version in production, or None; how its recorded class list differs from the candidate's)."""
  baseline_dir = serving_dir.newest_version_dir(os.path.join(serving_root, settings.model_name))
  production_record = pixel_model.read_training_record(baseline_dir) if baseline_dir else None
  changed_classes = class_change.detect(production_record.labels if production_record else None,
                                        list(settings.class_names))
  return baseline_dir, changed_classes


def decide(values: Dict[evaluation_results.MetricId, float], policy: gates.BlessingPolicy,
           settings: EvaluatorSettings, changed_classes: Optional[class_change.ClassChange], has_baseline: bool,
           shared: Optional[class_change.SharedComparison]) -> Verdict:
  """The gates on TFMA's values (or on the shared classes' counts), and a changed class list unless allowed."""
  checked = check_gates(values, policy, has_baseline=has_baseline and shared is None,
                        paired=shared.paired() if shared else None)
  refusals = gates.refusals(checked)
  class_change_allowed = settings.allow_class_change
  blessed = not refusals and (class_change_allowed or not changed_classes)
  reasons = ([class_change.blessing_reason(changed_classes, class_change_allowed)] if changed_classes
             else []) + refusals
  return Verdict(blessed, reasons, checked)


def record_blessing(blessing: types.Artifact, model: types.Artifact, verdict: Verdict,
                    baseline_dir: Optional[str]) -> None:
  """The BLESSED or NOT_BLESSED file and the properties TFX's Evaluator sets, with the baseline and reasons."""
  io_utils.write_string_file(os.path.join(
      blessing.uri, constants.BLESSED_FILE_NAME if verdict.blessed else constants.NOT_BLESSED_FILE_NAME), '')
  blessing.set_int_custom_property(
      names.BLESSED,
      constants.BLESSED_VALUE if verdict.blessed else constants.NOT_BLESSED_VALUE)
  blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
  blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
  blessing.set_string_custom_property(names.BASELINE_VERSION_DIR, baseline_dir or '')
  blessing.set_string_custom_property(names.BLESSING_REASONS, json_utils.dumps(verdict.reasons))
  blessing.set_string_custom_property(names.BLESSING_GATES, _json_list(verdict.checked))


def record_counts(evaluation: types.Artifact, values: Dict[evaluation_results.MetricId, float],
                  shared: Optional[class_change.SharedComparison]) -> None:
  """Each slice's counts and the paired counts on the evaluation artifact, for comparing runs without TFMA: the
  paired counts are TFMA's per slice, or with a changed class list the shared classes' (TFMA had no baseline)."""
  if shared is None:
    paired = evaluation_results.paired_counts_per_slice(values)
  else:
    paired = [shared.paired()] if shared.paired() else []
  evaluation.set_string_custom_property(names.SLICE_COUNTS, _json_list(evaluation_results.slice_counts(values)))
  evaluation.set_string_custom_property(names.PAIRED_COUNTS, _json_list(paired))


def _json_list(items: Sequence[Any]) -> str:
  """Dataclasses as a JSON list; an accuracy on no examples (NaN) stays NaN, which Python's json reads back."""
  return json.dumps([executor_settings.to_json_dict(item) for item in items])


def write_evaluation_report(evaluation: types.Artifact, values: Dict[evaluation_results.MetricId, float],
                            settings: EvaluatorSettings, verdict: Verdict, candidate_dir: str,
                            split_uris: Sequence[str], baseline_dir: Optional[str],
                            shared: Optional[class_change.SharedComparison]) -> evaluation_report.WrittenReport:
  """The explanations and the report under the evaluation artifact's report/, named by its properties."""
  report_dir = os.path.join(evaluation.uri, names.REPORT_FOLDER)
  explained = explain_candidate(candidate_dir, split_uris, os.path.join(report_dir, names.EXPLANATIONS_FOLDER),
                                eval_config.slice_feature_keys(settings.slice_features))
  if explained.answers is not None:  # for comparing this run with any other on the same test set
    io_utils.write_string_file(os.path.join(report_dir, test_answers.FILE_NAME), explained.answers.to_json())
  evaluation.set_int_custom_property(names.EXPLAINED_IMAGES, len(explained.explanations))
  evaluation.set_float_custom_property(names.EXPLANATION_SECONDS, explained.seconds)
  report = evaluation_report.write_report(
      report_dir, evaluation.uri, values, list(settings.class_names), blessed=verdict.blessed,
      reasons=verdict.reasons, baseline_dir=baseline_dir, checked_gates=verdict.checked, explained=explained,
      comparison=shared.table() if shared else None)
  evaluation.set_string_custom_property(names.REPORT_HTML, report.html_path)
  evaluation.set_string_custom_property(names.REPORT_MARKDOWN, report.markdown_path)
  evaluation.set_string_custom_property(names.REPORT_DETAILS, report.details_path)
  return report


class Executor(base_beam_executor.BaseBeamExecutor):
  """Evaluates, blesses or not (with reasons), and writes the report."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    settings = executor_settings.from_json(EvaluatorSettings, exec_properties[SETTINGS])
    tfma_config = eval_config.build_eval_config(
        list(settings.class_names), extra_slice_features=list(settings.slice_features),
        fairness_thresholds=list(settings.fairness_thresholds))
    policy = blessing_policy(exec_properties, settings)
    model = artifact_utils.get_single_instance(input_dict[names.MODEL])
    evaluation = artifact_utils.get_single_instance(output_dict[names.EVALUATION])
    blessing = artifact_utils.get_single_instance(output_dict[names.BLESSING])
    baseline_dir, changed_classes = production_baseline(exec_properties[SERVING_DIR], settings)
    candidate_dir = path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))
    split_uris = [uri for split in settings.example_splits
                  for uri in artifact_utils.get_split_uris(input_dict[names.EXAMPLES], split)]
    values = self._evaluate(tfma_config, candidate_dir, None if changed_classes else baseline_dir,
                            input_dict[names.EXAMPLES], list(settings.example_splits), evaluation)
    shared = (class_change.compare(changed_classes, candidate_dir, baseline_dir, split_uris)
              if changed_classes else None)
    verdict = decide(values, policy, settings, changed_classes, has_baseline=baseline_dir is not None,
                     shared=shared)
    record_blessing(blessing, model, verdict, baseline_dir)
    record_counts(evaluation, values, shared)
    report = write_evaluation_report(evaluation, values, settings, verdict, candidate_dir, split_uris,
                                     baseline_dir, shared)
    artifact_utils.get_single_instance(output_dict[names.HTML_REPORT]).value = report.html
    artifact_utils.get_single_instance(output_dict[names.MARKDOWN_REPORT]).value = report.markdown

  def _evaluate(self, tfma_config: tfma.EvalConfig, candidate_dir: str, baseline_dir: Optional[str],
                examples: List[types.Artifact], splits: List[str],
                evaluation: types.Artifact) -> Dict[evaluation_results.MetricId, float]:
    """TFMA on the candidate (and the baseline, if any) into the evaluation artifact: its values, with the
    candidate's overall accuracy recorded on the artifact."""
    model_analysis.evaluate(tfma_config, candidate_dir, baseline_dir, examples, splits, evaluation.uri,
                            self._make_beam_pipeline())
    values = evaluation_results.load_metric_values(evaluation.uri)
    overall_accuracy = values.get(evaluation_results.MetricId(
        evaluation_results.OVERALL, evaluation_results.CANDIDATE, names.ACCURACY_METRIC))
    if overall_accuracy is not None:
      evaluation.set_float_custom_property(names.ACCURACY, overall_accuracy)
    return values


class ProductionEvaluatorSpec(component_spec.ComponentSpec):
  # Plain values rather than a TFMA EvalConfig, so that the thresholds can be Kubeflow runtime parameters.
  PARAMETERS = {
      SERVING_DIR: component_spec.ExecutionParameter(type=str),
      MIN_ACCURACY: component_spec.ExecutionParameter(type=float),
      MIN_SLICE_ACCURACY: component_spec.ExecutionParameter(type=float),
      MAX_ACCURACY_DROP: component_spec.ExecutionParameter(type=float),
      SETTINGS: component_spec.ExecutionParameter(type=str),
      PRODUCTION_MODEL: component_spec.ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {
      'examples': component_spec.ChannelParameter(type=standard_artifacts.Examples),
      'model': component_spec.ChannelParameter(type=standard_artifacts.Model),
  }
  OUTPUTS = {
      'evaluation': component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
      'blessing': component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
      names.HTML_REPORT: component_spec.ChannelParameter(type=kfp_artifacts.HtmlReport),
      names.MARKDOWN_REPORT: component_spec.ChannelParameter(type=kfp_artifacts.MarkdownReport),
  }


class ProductionEvaluator(base_beam_component.BaseBeamComponent):
  """TFMA evaluation of `model` on `example_splits`, blessed against the newest version in serving_dir.

  `policy` values and `serving_dir` may be RuntimeParameters (Kubeflow); see components/eval_config.py for
  what is measured. `production_model` (see PRODUCTION_MODEL) is what the local runner finds in production.
  `allow_class_change`: whether a candidate whose class list differs from production's may be blessed.
  """
  SPEC_CLASS = ProductionEvaluatorSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

  def __init__(self, examples, model, serving_dir, model_name: str, class_names: Sequence[str],
               example_splits: Sequence[str], min_accuracy, min_slice_accuracy, max_accuracy_drop,
               allow_class_change: bool,
               min_slice_examples: int = gates.BlessingPolicy.min_slice_examples,
               significance: float = gates.BlessingPolicy.significance, strict_gates: bool = False,
               slice_features: Sequence[str] = (),
               fairness_thresholds: Sequence[float] = evaluation_defaults.FAIRNESS_THRESHOLDS,
               production_model: str = ''):
    super().__init__(spec=ProductionEvaluatorSpec(
        examples=examples, model=model, serving_dir=serving_dir, min_accuracy=min_accuracy,
        min_slice_accuracy=min_slice_accuracy, max_accuracy_drop=max_accuracy_drop,
        settings=executor_settings.to_json(EvaluatorSettings(
            model_name=model_name, class_names=tuple(class_names), example_splits=tuple(example_splits),
            allow_class_change=bool(allow_class_change), min_slice_examples=int(min_slice_examples),
            significance=float(significance), strict_gates=bool(strict_gates),
            slice_features=tuple(slice_features),
            fairness_thresholds=tuple(float(threshold) for threshold in fairness_thresholds))),
        production_model=production_model,
        evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
        blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        html_report=types.Channel(type=kfp_artifacts.HtmlReport),
        markdown_report=types.Channel(type=kfp_artifacts.MarkdownReport)))
