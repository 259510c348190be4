"""Continuous evaluation: the model in production, measured on newly labelled images with the Evaluator's slices.

The model is the newest version in the serving directory, read there as the Evaluator reads its baseline, so
this needs no Resolver and runs the same on LocalDagRunner and on Kubeflow. Every measurement is appended to
a history file in the pipeline root, which the alerts compare with (components/monitor/history.py), and is
recorded on the ModelEvaluation artifact with the model version, the time and the alerts.
"""
import dataclasses
import datetime
import logging
import os
from typing import Any, Dict, List, Sequence, Tuple

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components import compat
from components import eval_config
from components import evaluation_results
from components import executor_settings
from components import model_analysis
from components import names
from components import pixel_model
from components.monitor import history as history_lib
from components import serving_dir

SETTINGS = 'settings'
DAMAGED_HISTORY = 'damaged_history'  # on the ModelEvaluation: the line that says which history lines were set aside
DAMAGED_SUFFIX = '.damaged'
_LINE_NUMBERS_SHOWN = 10


@dataclasses.dataclass(frozen=True)
class MonitorSettings:
  """The monitor's settings, as one JSON execution property (the monitoring pipeline has no runtime parameters)."""
  serving_dir: str
  model_name: str
  class_names: Tuple[str, ...]  # the images' classes, checked against the ones the model in production knows
  slice_features: Tuple[str, ...]
  history_path: str
  rules: history_lib.AlertRules
  example_splits: Tuple[str, ...] = ('train', 'eval', 'test')


class NotMeasurableError(compat.RecordedFailure):
  """The model in production cannot be measured on these images: none is pushed, or the images hold a class
  it was not trained on (its probabilities have no place for it)."""

  def __init__(self, message: str):
    super().__init__(message, {})


def production_to_measure(model_dir: str, data_classes: Sequence[str],
                          data_source: str) -> Tuple[str, Tuple[str, ...]]:
  """(the newest version's folder, its classes in the order of its probabilities).

  The model's own Transform graph maps each image's label to a class by name, and the evaluation is set up with
  the model's class list, so a labels file in another order, or with fewer classes, measures the same images the
  same way. A class the model does not know is refused: it has no probability to be measured against.
  """
  production = serving_dir.newest_version_dir(model_dir)
  if production is None:
    raise NotMeasurableError(f'no model in production under {model_dir} to evaluate: push one with '
                             f'`visionflow run` first')
  model_classes = tuple(pixel_model.training_record(production).labels)
  unknown = [name for name in data_classes if name not in model_classes]
  if unknown:
    raise NotMeasurableError(
        f'{data_source} has {len(unknown)} class(es) that the model in production {production} was not trained '
        f'on: {", ".join(unknown)} (it knows {", ".join(model_classes)}); evaluate images of its classes only, '
        f'or push a model trained on the new ones first')
  return production, model_classes


def set_aside_damaged_lines(history_path: str, damaged: Sequence[Tuple[int, bytes]]) -> str:
  """Appends the damaged lines to `<history>.damaged`, so that nothing is lost when the history is rewritten
  without them; returns the one line that says so ('' when there are none)."""
  if not damaged:
    return ''
  damaged_path = history_path + DAMAGED_SUFFIX
  kept = b''
  if tf.io.gfile.exists(damaged_path):
    with tf.io.gfile.GFile(damaged_path, 'rb') as handle:
      kept = handle.read()
  with tf.io.gfile.GFile(damaged_path, 'wb') as handle:
    handle.write(kept + b''.join(line + b'\n' for _, line in damaged))
  numbers = ', '.join(str(number) for number, _ in damaged[:_LINE_NUMBERS_SHOWN])
  more = ', ...' if len(damaged) > _LINE_NUMBERS_SHOWN else ''
  return (f'{history_path}: skipped {len(damaged)} damaged line(s) (line {numbers}{more}) that hold no '
          f'measurement; they are kept in {damaged_path}')


def measure(values: Dict[evaluation_results.MetricId, float], model_version: str,
            measured_at: datetime.datetime) -> history_lib.Measurement:
  slices = {}
  for metric, accuracy in values.items():
    if metric.name == names.ACCURACY_METRIC and metric.model == evaluation_results.CANDIDATE:
      examples = values.get(evaluation_results.MetricId(metric.slice, metric.model, eval_config.EXAMPLE_COUNT_METRIC))
      slices[metric.slice] = history_lib.SliceAccuracy(accuracy, int(examples or 0))
  return history_lib.Measurement(measured_at.isoformat(), model_version, slices)


class Executor(base_beam_executor.BaseBeamExecutor):
  """Evaluates production on the examples, appends the measurement to the history, records the alerts."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    settings = executor_settings.from_json(MonitorSettings, exec_properties[SETTINGS])
    model_dir = os.path.join(settings.serving_dir, settings.model_name)
    production, model_classes = production_to_measure(
        model_dir, list(settings.class_names), "the images' class list")
    tfma_config = eval_config.build_eval_config(
        model_classes, extra_slice_features=list(settings.slice_features))
    evaluation = artifact_utils.get_single_instance(output_dict[names.EVALUATION])
    model_analysis.evaluate(tfma_config, production, None, input_dict[names.EXAMPLES],
                            list(settings.example_splits), evaluation.uri, self._make_beam_pipeline())
    latest = measure(evaluation_results.load_metric_values(evaluation.uri), os.path.basename(production),
                     datetime.datetime.now(datetime.timezone.utc))
    history_path = settings.history_path
    history = history_lib.History([], [])
    if tf.io.gfile.exists(history_path):
      with tf.io.gfile.GFile(history_path, 'rb') as handle:
        history = history_lib.read_history(handle.read())
    damaged_note = set_aside_damaged_lines(history_path, history.damaged)
    if damaged_note:
      logging.warning('ProductionMonitor: %s', damaged_note)
      evaluation.set_string_custom_property(DAMAGED_HISTORY, damaged_note)
    earlier = history.measurements
    rules = settings.rules
    fired = history_lib.alerts(earlier, latest, rules)
    tf.io.gfile.makedirs(os.path.dirname(history_path))
    with tf.io.gfile.GFile(history_path, 'wb') as handle:  # GFile cannot append on every file system
      handle.write(history_lib.write_history([*earlier, latest]))
    evaluation.set_string_custom_property(names.MONITORED_MODEL, production)
    evaluation.set_string_custom_property(names.MONITORED_AT, latest.measured_at)
    evaluation.set_json_value_custom_property(names.ALERTS, fired)
    evaluation.set_json_value_custom_property(names.SLICE_ACCURACY, {
        name: dataclasses.asdict(value) for name, value in latest.slices.items()})
    evaluation.set_json_value_custom_property(names.ALERT_RULES, dataclasses.asdict(rules))
    overall = latest.slices.get(evaluation_results.OVERALL)
    if overall is not None:
      evaluation.set_float_custom_property(names.ACCURACY, overall.accuracy)


class ProductionMonitorSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      SETTINGS: component_spec.ExecutionParameter(type=str),
  }
  INPUTS = {names.EXAMPLES: component_spec.ChannelParameter(type=standard_artifacts.Examples)}
  OUTPUTS = {names.EVALUATION: component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation)}


class ProductionMonitor(base_beam_component.BaseBeamComponent):
  """The model in production evaluated on `examples` (every split), with the alert rules."""
  SPEC_CLASS = ProductionMonitorSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

  def __init__(self, examples, serving_dir: str, model_name: str, class_names, slice_features,
               history_path: str, rules: history_lib.AlertRules):
    super().__init__(spec=ProductionMonitorSpec(
        examples=examples, settings=executor_settings.to_json(MonitorSettings(
            serving_dir=serving_dir, model_name=model_name, class_names=tuple(class_names),
            slice_features=tuple(slice_features), history_path=history_path, rules=rules)),
        evaluation=types.Channel(type=standard_artifacts.ModelEvaluation)))
