"""What artifacts keep in files rather than in metadata, read for people: statistics, anomalies, rejects,
training curves, tuner trials and test answers.

Local paths are read without importing TensorFlow (seconds per process); gs:// and other file systems go
through tf.io.gfile.
"""
import csv
import dataclasses
import glob
import io
import json
import os
import struct
from typing import Dict, List, Optional, Tuple

import numpy as np
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2

from components import features
from components import names
from components import paths
from components import test_answers



def glob_paths(pattern: str) -> List[str]:
  if not paths.is_remote(pattern):
    return sorted(glob.glob(pattern))
  import tensorflow as tf
  return sorted(tf.io.gfile.glob(pattern))


def read_bytes(path: str) -> bytes:
  if not paths.is_remote(path):
    with open(path, 'rb') as handle:
      return handle.read()
  import tensorflow as tf
  with tf.io.gfile.GFile(path, 'rb') as handle:
    return handle.read()


def _per_split(uri: str, file_name: str) -> Dict[str, str]:
  """{split name: path} of `file_name` in each Split-* folder of an artifact."""
  return {os.path.basename(os.path.dirname(path))[len(names.SPLIT_PREFIX):]: path
          for path in glob_paths(os.path.join(uri, names.SPLIT_PREFIX + '*', file_name))}


def split_order(split: str) -> Tuple[int, str]:
  """Train, eval, test first, then any other split by name."""
  return (features.SPLITS.index(split) if split in features.SPLITS else len(features.SPLITS), split)


def serving_versions(model_dir: str) -> List[int]:
  """The numeric version folders under `<serving_dir>/<model_name>/` that hold a SavedModel, ascending."""
  folders = [os.path.basename(os.path.dirname(path))
             for path in glob_paths(os.path.join(model_dir, '*', names.SAVED_MODEL_FILE))]
  return sorted(int(folder) for folder in folders if folder.isdigit())


@dataclasses.dataclass
class FeatureSummary:
  """One feature of one split: how often it is present, and its values in brief."""
  name: str
  type: str
  present: int
  missing: int
  summary: str                                       # min/mean/max for numbers, distinct values for strings
  top_values: List[Tuple[str, float]]                # (value, count), most frequent first, strings only


# (feature, title) of the value distributions shown per split.
DISTRIBUTIONS = ((features.LABEL, 'Label distribution'), (features.SIZE_BUCKET, 'Image size (longer side)'))
_BYTES_PLACEHOLDER = '__BYTES_VALUE__'  # TFDV's stand-in for binary values such as the image bytes
_TOP_VALUES_SHOWN = 10


def shown_values(summary: FeatureSummary) -> List[Tuple[str, float]]:
  """The most frequent values worth showing: none for binary features such as the image bytes."""
  return [item for item in summary.top_values if item[0] != _BYTES_PLACEHOLDER][:_TOP_VALUES_SHOWN]


def _numeric_summary(stats: statistics_pb2.NumericStatistics) -> str:
  return f'min {stats.min:g}, mean {stats.mean:.1f}, max {stats.max:g}'


def feature_summaries(statistics_uri: str) -> Dict[str, List[FeatureSummary]]:
  """{split: features} from a StatisticsGen artifact (TFDV's FeatureStats.pb in each split folder)."""
  result = {}
  for split, path in _per_split(statistics_uri, names.STATISTICS_FILE).items():
    stats_list = statistics_pb2.DatasetFeatureStatisticsList.FromString(read_bytes(path))
    summaries = []
    for feature in stats_list.datasets[0].features if stats_list.datasets else []:
      kind = feature.WhichOneof('stats')
      common = getattr(feature, kind).common_stats
      top_values: List[Tuple[str, float]] = []
      if kind == 'num_stats':
        summary = _numeric_summary(feature.num_stats)
      elif kind == 'string_stats':
        summary = f'{feature.string_stats.unique} distinct values'
        top_values = [(bucket.label, bucket.sample_count)
                      for bucket in feature.string_stats.rank_histogram.buckets]
      else:
        summary = f'average {feature.bytes_stats.avg_num_bytes:.0f} bytes'
      summaries.append(FeatureSummary(
          name='.'.join(feature.path.step), type=statistics_pb2.FeatureNameStatistics.Type.Name(feature.type),
          present=common.num_non_missing, missing=common.num_missing, summary=summary, top_values=top_values))
    result[split] = summaries
  return result


@dataclasses.dataclass
class Anomaly:
  feature: str
  severity: str
  description: str


def anomalies(anomalies_uri: str) -> Dict[str, List[Anomaly]]:
  """{split: anomalies} from an ExampleValidator artifact; an empty list is a clean split."""
  result = {}
  for split, path in _per_split(anomalies_uri, names.ANOMALIES_FILE).items():
    proto = anomalies_pb2.Anomalies.FromString(read_bytes(path))
    found = [Anomaly(feature, anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                     info.description or info.short_description)
             for feature, info in sorted(proto.anomaly_info.items())]
    if proto.HasField('dataset_anomaly_info'):
      info = proto.dataset_anomaly_info
      found.append(Anomaly('(whole split)', anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                           info.description or info.short_description))
    result[split] = found
  return result


def rejects(rejects_path: Optional[str]) -> Tuple[List[str], List[List[str]]]:
  """(header, rows) of ExampleGen's rejects.csv: row, path, label, reason, csv; none without a path."""
  if not rejects_path:
    return [], []
  rows = list(csv.reader(io.StringIO(read_bytes(rejects_path).decode('utf-8'))))
  return (rows[0], rows[1:]) if rows else ([], [])


def best_hyperparameters(hyperparameters_uri: str) -> Dict[str, object]:
  found = glob_paths(os.path.join(hyperparameters_uri, names.BEST_HYPERPARAMETERS_FILE))
  return json.loads(read_bytes(found[0])).get('values', {}) if found else {}


def tuner_trials(tuner_results_uri: str) -> List[Dict[str, object]]:
  """The Tuner's completed trials, best first: trial_id, score, and the hyperparameter values."""
  found = glob_paths(os.path.join(tuner_results_uri, names.TUNER_RESULTS_FILE))
  return json.loads(read_bytes(found[0])) if found else []


def test_answers_of(evaluation_uri: str) -> Optional[test_answers.TestAnswers]:
  """Each test example's answer, as the Evaluator kept it; None for an evaluation that kept none."""
  found = glob_paths(os.path.join(evaluation_uri, names.REPORT_FOLDER, test_answers.FILE_NAME))
  return test_answers.TestAnswers.from_json(read_bytes(found[0]).decode('utf-8')) if found else None


def _tfrecords(data: bytes):
  """The records of a TFRecord file (length, length CRC, payload, payload CRC); CRCs are not checked."""
  offset = 0
  while offset + 12 <= len(data):
    (length,) = struct.unpack_from('<Q', data, offset)
    start = offset + 12
    if start + length + 4 > len(data):
      return  # a file still being written ends in a partial record
    yield data[start:start + length]
    offset = start + length + 4


def _scalar(value: summary_pb2.Summary.Value) -> Optional[float]:
  if value.HasField('simple_value'):
    return value.simple_value
  if value.HasField('tensor'):
    tensor = value.tensor
    if tensor.float_val:
      return tensor.float_val[0]
    if tensor.double_val:
      return tensor.double_val[0]
    if tensor.tensor_content:
      return float(np.frombuffer(tensor.tensor_content, dtype=np.float32 if tensor.dtype == 1 else np.float64)[0])
  return None


def training_curves(model_run_uri: str) -> Dict[str, Dict[str, List[Tuple[int, float]]]]:
  """{metric: {series: [(epoch, value)]}} from the Trainer's TensorBoard logs.

  Keras writes `epoch_loss`, `epoch_accuracy`, ... under train/ and validation/; a fine-tuning phase writes
  under fine_tune/, so its series are named 'fine_tune/train' and 'fine_tune/validation'.
  """
  curves: Dict[str, Dict[str, Dict[int, float]]] = {}
  event_files = [path for depth in ('*', os.path.join('*', '*'))
                 for path in glob_paths(os.path.join(model_run_uri, depth, 'events.out.tfevents.*'))]
  for path in event_files:
    series = os.path.relpath(os.path.dirname(path), model_run_uri)
    for record in _tfrecords(read_bytes(path)):
      event = event_pb2.Event.FromString(record)
      for value in event.summary.value:
        if not value.tag.startswith('epoch_'):
          continue
        scalar = _scalar(value)
        if scalar is not None:
          curves.setdefault(value.tag[len('epoch_'):], {}).setdefault(series, {})[event.step] = scalar
  return {metric: {series: sorted(points.items()) for series, points in sorted(by_series.items())}
          for metric, by_series in sorted(curves.items())}
