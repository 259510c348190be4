"""A TFMA metric that counts, per slice, the test examples only the candidate or only the baseline got right.

TFMA's change metrics subtract two accuracies; a paired test (McNemar's, components/accuracy_intervals.py) needs
the examples on which the two models disagree, which only a metric that sees both models' predictions for the
same example can count. With no baseline in the config it computes nothing.
"""
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util
from tensorflow_model_analysis.proto import config_pb2

CANDIDATE_ONLY = 'paired_candidate_only_correct'
BASELINE_ONLY = 'paired_baseline_only_correct'
PAIRED_EXAMPLES = 'paired_example_count'
# (examples, right only by the candidate, right only by the baseline)
_Counts = Tuple[int, int, int]


def _model_names(eval_config: Optional[config_pb2.EvalConfig]) -> Tuple[str, Optional[str]]:
  candidate = baseline = None
  for spec in eval_config.model_specs if eval_config else ():
    if spec.is_baseline:
      baseline = spec.name
    elif candidate is None:
      candidate = spec.name
  return candidate or '', baseline


def _paired_accuracy(eval_config: Optional[config_pb2.EvalConfig] = None) -> metric_types.MetricComputations:
  candidate, baseline = _model_names(eval_config)
  if baseline is None:
    return []
  keys = [metric_types.MetricKey(name=name, model_name=candidate)
          for name in (PAIRED_EXAMPLES, CANDIDATE_ONLY, BASELINE_ONLY)]
  return [metric_types.MetricComputation(
      keys=keys, preprocessors=None, combiner=_PairedCombiner(eval_config, candidate, baseline, keys))]


class PairedAccuracy(metric_types.Metric):
  """Counts of the candidate's and the baseline's right answers on the same examples (top class = label)."""

  def __init__(self):
    super().__init__(_paired_accuracy)

  @property
  def compute_confidence_interval(self) -> bool:
    return False  # counts; the gates derive exact intervals from them


metric_types.register_metric(PairedAccuracy)


class _PairedCombiner(beam.CombineFn):

  def __init__(self, eval_config: config_pb2.EvalConfig, candidate: str, baseline: str,
               keys: List[metric_types.MetricKey]):
    self._eval_config = eval_config
    self._candidate = candidate
    self._baseline = baseline
    self._keys = keys

  def _right(self, element: metric_types.StandardMetricInputs, model_name: str) -> np.ndarray:
    """Per example of the batch element: whether the model's top class is the label."""
    [(label, prediction, _)] = list(metric_util.to_label_prediction_example_weight(
        element, eval_config=self._eval_config, model_name=model_name, flatten=False, squeeze=False))
    prediction = np.reshape(prediction, (-1, np.shape(prediction)[-1]))
    return np.argmax(prediction, axis=-1) == np.reshape(label, (-1,)).astype(np.int64)

  def create_accumulator(self) -> _Counts:
    return 0, 0, 0

  def add_input(self, accumulator: _Counts, element: metric_types.StandardMetricInputs) -> _Counts:
    candidate_right, baseline_right = self._right(element, self._candidate), self._right(element, self._baseline)
    examples, candidate_only, baseline_only = accumulator
    return (examples + len(candidate_right), candidate_only + int(np.sum(candidate_right & ~baseline_right)),
            baseline_only + int(np.sum(baseline_right & ~candidate_right)))

  def merge_accumulators(self, accumulators: Iterable[_Counts]) -> _Counts:
    return tuple(int(sum(values)) for values in zip(*accumulators)) or (0, 0, 0)

  def extract_output(self, accumulator: _Counts) -> Dict[metric_types.MetricKey, int]:
    return dict(zip(self._keys, accumulator))
