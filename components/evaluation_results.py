"""Reads what TFMA wrote: every metric's value by slice, model and class, the overall slice's plots, and counts.

The Evaluator blesses and reports from these, the production monitor records them in its history, and the
model card shows them, so each reads TFMA's output the same way. What is measured is set by eval_config.py.
"""
import dataclasses
import math
from typing import Any, Dict, List, Optional, Tuple

import tensorflow_model_analysis as tfma

from components import accuracy_intervals
from components import eval_config
from components import names
from components import paired_accuracy

OVERALL = 'overall'
CANDIDATE = tfma.CANDIDATE_KEY
BASELINE = tfma.BASELINE_KEY


@dataclasses.dataclass(frozen=True)
class MetricId:
  """One value in TFMA's output: a metric on a slice for a model, per class or averaged over classes."""
  slice: str
  model: str
  name: str
  class_id: Optional[int] = None
  average: Optional[str] = None  # 'macro', 'micro', or None
  is_diff: bool = False


def slice_name(slice_key) -> str:
  """'overall', or 'feature=value[, feature=value]' for a TFMA SliceKey proto."""
  parts = []
  for single in slice_key.single_slice_keys:
    kind = single.WhichOneof('kind')
    value = getattr(single, kind) if kind else ''
    parts.append(f'{single.column}={value.decode() if isinstance(value, bytes) else value}')
  return ', '.join(parts) or OVERALL


def _metric_id(slice_label: str, key) -> MetricId:
  average = None
  if key.HasField('aggregation_type'):
    average = 'micro' if key.aggregation_type.micro_average else 'macro'
  class_id = key.sub_key.class_id.value if key.sub_key.HasField('class_id') else None
  return MetricId(slice_label, key.model_name or CANDIDATE, key.name, class_id, average, key.is_diff)


def load_metric_values(evaluation_uri: str) -> Dict[MetricId, float]:
  """Every scalar metric TFMA wrote, keyed for lookup; NaN where TFMA could not compute one."""
  values = {}
  for metrics in tfma.load_metrics(evaluation_uri):
    label = slice_name(metrics.slice_key)
    for entry in metrics.metric_keys_and_values:
      if entry.value.HasField('double_value'):
        values[_metric_id(label, entry.key)] = entry.value.double_value.value
  return values


def load_overall_plots(evaluation_uri: str) -> Dict[str, Any]:
  """The candidate's plots on the overall slice, by PlotData field name; read once for the whole report."""
  found = {}
  for plots in tfma.load_plots(evaluation_uri):
    if slice_name(plots.slice_key) != OVERALL:
      continue
    for entry in plots.plot_keys_and_values:
      if (entry.key.model_name or CANDIDATE) == CANDIDATE:
        for field, value in entry.value.ListFields():
          found.setdefault(field.name, value)
  return found


def confusion_counts(plots: Dict[str, Any], num_classes: int) -> List[List[float]]:
  """counts[true class][predicted class] on the overall slice, predictions being the top class."""
  plot = plots.get('multi_class_confusion_matrix_at_thresholds')
  counts = [[0.0] * num_classes for _ in range(num_classes)]
  if plot is None:
    return counts
  matrix = min(plot.matrices, key=lambda candidate: candidate.threshold)
  for entry in matrix.entries:
    if 0 <= entry.actual_class_id < num_classes and 0 <= entry.predicted_class_id < num_classes:
      counts[entry.actual_class_id][entry.predicted_class_id] += entry.num_weighted_examples
  return counts


def calibration_buckets(plots: Dict[str, Any]) -> List[Tuple[float, float, float, float, float]]:
  """(low, high, examples, mean predicted, observed rate) per non-empty bucket of the micro-averaged plot."""
  plot = plots.get('calibration_histogram_buckets')
  rows = []
  for bucket in plot.buckets if plot is not None else ():
    count = bucket.num_weighted_examples.value
    if count > 0 and not math.isinf(bucket.upper_threshold_exclusive):
      rows.append((bucket.lower_threshold_inclusive, bucket.upper_threshold_exclusive, count,
                   bucket.total_weighted_refined_prediction.value / count,
                   bucket.total_weighted_label.value / count))
  return rows


def _class_recalls(values: Dict[MetricId, float], slice_label: str, model: str) -> Dict[int, float]:
  """Each class's one-vs-rest recall on a slice: NaN exactly where the slice holds none of the class."""
  return {metric.class_id: value for metric, value in values.items()
          if metric.slice == slice_label and metric.model == model and metric.class_id is not None
          and metric.name == eval_config.RECALL_METRIC_NAME and not metric.is_diff}


def defined_value(values: Dict[MetricId, float], metric: MetricId) -> Optional[float]:
  """A metric's value, or None where it is undefined on its slice: not measured, NaN, or a one-vs-rest AUC
  without both positives and negatives, which TFMA writes as a number (0 for AUC-ROC), not NaN.

  A class's AUC needs examples of the class and of another class in the slice, so none is defined on a slice
  by true class; the macro average needs every class's, as TFMA's macro precision and recall do (NaN where a
  class has no example); the micro average pools every class's answers and is defined on any slice. Which
  classes a slice holds is read from per-class recall; where that was not measured, the value is kept.
  """
  value = values.get(metric)
  if value is None or math.isnan(value):
    return None
  if metric.name in eval_config.AUC_METRIC_NAMES and metric.average != 'micro':
    recalls = _class_recalls(values, metric.slice, metric.model)
    present = {class_id for class_id, recall in recalls.items() if not math.isnan(recall)}
    needed = set(recalls) if metric.class_id is None else {metric.class_id}
    if recalls and (len(present) < 2 or not needed <= present):
      return None
  return value


def slice_labels(values: Dict[MetricId, float]) -> List[str]:
  """The slices TFMA measured, the overall slice first and the others sorted by name."""
  slice_names = {metric.slice for metric in values}
  return [OVERALL] + sorted(slice_names - {OVERALL})


def _count(values: Dict[MetricId, float], slice_label: str, name: str) -> int:
  value = values.get(MetricId(slice_label, CANDIDATE, name))
  return 0 if value is None or math.isnan(value) else int(round(value))


def slice_counts(values: Dict[MetricId, float]) -> List[accuracy_intervals.SliceCounts]:
  """Each slice's test examples and right answers (accuracy x examples), the overall slice first."""
  counts = []
  for label in slice_labels(values):
    examples = _count(values, label, eval_config.EXAMPLE_COUNT_METRIC)
    accuracy = values.get(MetricId(label, CANDIDATE, names.ACCURACY_METRIC))
    correct = 0 if not examples or accuracy is None or math.isnan(accuracy) else int(round(accuracy * examples))
    counts.append(accuracy_intervals.SliceCounts(label, examples, correct))
  return counts


def paired_counts(values: Dict[MetricId, float], slice_label: str = OVERALL) -> accuracy_intervals.PairedCounts:
  """PairedAccuracy's counts on one slice, the overall one by default: the examples only one of the two models
  got right. A slice other than the overall one is named in the counts."""
  return accuracy_intervals.PairedCounts(
      _count(values, slice_label, paired_accuracy.PAIRED_EXAMPLES),
      _count(values, slice_label, paired_accuracy.CANDIDATE_ONLY),
      _count(values, slice_label, paired_accuracy.BASELINE_ONLY),
      '' if slice_label == OVERALL else slice_label)


def paired_counts_per_slice(values: Dict[MetricId, float]) -> List[accuracy_intervals.PairedCounts]:
  """PairedAccuracy's counts on each slice where it counted examples (none without a baseline), overall first."""
  return [counts for counts in (paired_counts(values, label) for label in slice_labels(values)) if counts.examples]
