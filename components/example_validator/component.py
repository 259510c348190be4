"""TFX's ExampleValidator, which also compares this span's data with the previous span's: drift.

TFDV compares two spans' statistics when the schema names a drift comparator for a feature and the previous
span's statistics are given. TFX's ExampleValidator passes neither, and the usual way to fetch the previous
span's statistics, a Resolver node, does not run on self-hosted Kubeflow Pipelines v2. So this executor keeps
each span's train-split statistics under `span_statistics_dir` (in the pipeline root, which the local runner
and every Kubeflow step share), reads the newest one of an earlier span from there, and validates with the
comparators of DriftSettings: L-infinity for the label and the extra slice columns, Jensen-Shannon divergence
for the image sizes and formats. Drift anomalies join the schema anomalies in the artifact (so the DataReport
and the UI's Data page list them), are recorded as the `drift` property, and with `action: fail` refuse the run.
"""
import dataclasses
import os
import re
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_data_validation as tfdv
from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.components import ExampleValidator
from tfx.components.example_validator import executor as tfx_executor
from tfx.components.example_validator import labels
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import writer_utils

from components import compat
from components import executor_settings
from components import features
from components import names
from components.example_validator import drift_action

DRIFT_SETTINGS = 'drift_settings'
SPAN_STATISTICS_DIR = 'span_statistics_dir'
DRIFT_SPLIT = 'train'
_DRIFT_REASONS = (anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
                  anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH)
_MEASURES = {anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: 'L-infinity',
             anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: 'Jensen-Shannon'}
_SPAN_FOLDER = re.compile(r'^span-(\d+)$')


@dataclasses.dataclass(frozen=True)
class DriftSettings:
  """Which features are compared with the previous span, how, and what a drift does to the run."""
  action: str = drift_action.WARN  # warn: recorded and reported; fail: the run stops at the ExampleValidator
  label_threshold: float = drift_action.LABEL_THRESHOLD  # L-infinity distance between value frequencies
  distribution_threshold: float = drift_action.DISTRIBUTION_THRESHOLD  # Jensen-Shannon, image sizes and formats
  slice_features: Tuple[str, ...] = ()  # extra CSV columns, compared like the label

  def comparators(self) -> Dict[str, Tuple[str, float]]:
    """{feature: (comparator field of tensorflow_metadata's FeatureComparator owner, threshold)}."""
    compared = {name: ('drift_comparator.infinity_norm', self.label_threshold)
                for name in (features.LABEL, *self.slice_features)}
    compared.update({name: ('drift_comparator.jensen_shannon_divergence', self.distribution_threshold)
                     for name in (features.HEIGHT, features.WIDTH, features.FORMAT)})
    return compared


@dataclasses.dataclass(frozen=True)
class Drift:
  """One feature that moved between spans more than its threshold allows."""
  feature: str
  measure: str  # 'L-infinity' or 'Jensen-Shannon'
  value: float
  threshold: float
  previous_span: int

  def describe(self) -> str:
    return (f'{self.feature}: {self.measure} distance {self.value:.4f} from span {self.previous_span}, above '
            f'{self.threshold:.4f}')


class DataDriftError(compat.RecordedFailure):
  """The data moved between spans more than the thresholds allow, and drift is set to fail the run."""

  def __init__(self, message: str, anomalies_uri: str):
    super().__init__(message, {names.DRIFT_ANOMALIES_URI: anomalies_uri})


def with_comparators(schema: schema_pb2.Schema, settings: DriftSettings) -> schema_pb2.Schema:
  """A copy of the schema with a drift comparator on each compared feature it has."""
  compared = schema_pb2.Schema()
  compared.CopyFrom(schema)
  for feature in compared.feature:
    if feature.name in settings.comparators():
      path, threshold = settings.comparators()[feature.name]
      owner = feature
      for field in path.split('.'):
        owner = getattr(owner, field)
      owner.threshold = threshold
  return compared


def drifts(anomalies: anomalies_pb2.Anomalies, settings: DriftSettings, previous_span: int) -> List[Drift]:
  """The drift anomalies TFDV found, with the measured distances from its drift_skew_info."""
  measured = {}
  for info in anomalies.drift_skew_info:
    name = '.'.join(info.path.step)
    for value in info.drift_measurements:
      measure = _MEASURES.get(value.type, anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(value.type))
      measured[name] = (measure, value.value, value.threshold)
  found = []
  for name, info in sorted(anomalies.anomaly_info.items()):
    if any(reason.type in _DRIFT_REASONS for reason in info.reason) and name in measured:
      measure, value, threshold = measured[name]
      found.append(Drift(name, measure, value, threshold, previous_span))
  return found


def previous_statistics(span_statistics_dir: str, span: int
                        ) -> Tuple[Optional[int], Optional[statistics_pb2.DatasetFeatureStatisticsList]]:
  """(span, its kept train statistics) of the newest span before `span`; (None, None) when there is none."""
  if not tf.io.gfile.isdir(span_statistics_dir):
    return None, None
  earlier = [int(match.group(1)) for match in map(_SPAN_FOLDER.match, tf.io.gfile.listdir(span_statistics_dir))
             if match and int(match.group(1)) < span]
  if not earlier:
    return None, None
  newest = max(earlier)
  path = os.path.join(span_statistics_dir, f'span-{newest}', names.STATISTICS_FILE)
  return newest, tfdv.load_stats_binary(path)


def keep_statistics(span_statistics_dir: str, span: int,
                    statistics: statistics_pb2.DatasetFeatureStatisticsList) -> None:
  folder = os.path.join(span_statistics_dir, f'span-{span}')
  tf.io.gfile.makedirs(folder)
  with tf.io.gfile.GFile(os.path.join(folder, names.STATISTICS_FILE), 'wb') as handle:
    handle.write(statistics.SerializeToString())


class Executor(tfx_executor.Executor):
  """TFX's validation per split; the train split is also compared with the previous span's.

  TFX's Do calls _Validate once per split with only the statistics and the schema, so Do leaves the previous
  span's statistics and the settings on the executor for _Validate, which collects the drifts it finds.
  """

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]):
    settings = executor_settings.from_json(DriftSettings, exec_properties[DRIFT_SETTINGS])
    span_statistics_dir = exec_properties[SPAN_STATISTICS_DIR]
    statistics = artifact_utils.get_single_instance(input_dict[standard_component_specs.STATISTICS_KEY])
    span = int(statistics.span or 0)
    self._previous_span, self._previous = previous_statistics(span_statistics_dir, span)
    self._settings = settings
    self._drifts: List[Drift] = []
    result = super().Do(input_dict, output_dict, exec_properties)
    anomalies = artifact_utils.get_single_instance(output_dict[standard_component_specs.ANOMALIES_KEY])
    anomalies.set_json_value_custom_property(names.DRIFT, [dataclasses.asdict(drift) for drift in self._drifts])
    if self._previous_span is not None:
      anomalies.set_int_custom_property(names.DRIFT_PREVIOUS_SPAN, self._previous_span)
    # TFX's Do returns a copy of the artifact, which is what the launcher records.
    result.output_artifacts[standard_component_specs.ANOMALIES_KEY].artifacts[0].CopyFrom(anomalies.mlmd_artifact)
    if DRIFT_SPLIT in artifact_utils.decode_split_names(statistics.split_names):
      keep_statistics(span_statistics_dir, span, stats_artifact_utils.load_statistics(statistics, DRIFT_SPLIT).proto())
    if self._drifts and settings.action == drift_action.FAIL:
      raise DataDriftError(f'span {span} drifted from span {self._previous_span}: '
                           + '; '.join(drift.describe() for drift in self._drifts)
                           + f' (drift: fail; anomalies: {anomalies.uri})', anomalies.uri)
    return result

  def _Validate(self, inputs: Dict[str, Any], outputs: Dict[str, Any]) -> anomalies_pb2.Anomalies:
    output_path = outputs[labels.SCHEMA_DIFF_PATH]
    if self._previous is None or os.path.basename(output_path.rstrip('/')) != f'Split-{DRIFT_SPLIT}':
      return super()._Validate(inputs, outputs)
    schema = with_comparators(inputs[standard_component_specs.SCHEMA_KEY], self._settings)
    anomalies = tfdv.validate_statistics(statistics=inputs[standard_component_specs.STATISTICS_KEY],
                                         schema=schema, previous_statistics=self._previous)
    self._drifts = drifts(anomalies, self._settings, self._previous_span)
    logging.info('ExampleValidator compared span statistics with span %d: %s', self._previous_span,
                 '; '.join(drift.describe() for drift in self._drifts) or 'no drift')
    writer_utils.write_anomalies(os.path.join(output_path, tfx_executor.DEFAULT_FILE_NAME), anomalies)
    return anomalies


class DriftValidatorSpec(standard_component_specs.ExampleValidatorSpec):
  PARAMETERS = dict(standard_component_specs.ExampleValidatorSpec.PARAMETERS, **{
      DRIFT_SETTINGS: component_spec.ExecutionParameter(type=str),
      SPAN_STATISTICS_DIR: component_spec.ExecutionParameter(type=str),
  })


class DriftExampleValidator(ExampleValidator):
  """ExampleValidator(statistics, schema) plus the drift settings and where span statistics are kept."""
  SPEC_CLASS = DriftValidatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, statistics: types.BaseChannel, schema: types.BaseChannel, drift: DriftSettings,
               span_statistics_dir: str):
    base_component.BaseComponent.__init__(self, spec=DriftValidatorSpec(
        statistics=statistics, schema=schema, drift_settings=executor_settings.to_json(drift),
        span_statistics_dir=span_statistics_dir,
        anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))
