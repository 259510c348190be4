"""TFMA's output read the same way for the Evaluator, the monitor and the model card: slices and counts."""
import math

from tensorflow_model_analysis.proto import metrics_for_slice_pb2

from components import eval_config
from components import evaluation_results
from components import names
from components import paired_accuracy
from components.accuracy_intervals import PairedCounts, SliceCounts
from components.evaluation_results import CANDIDATE, MetricId

# TFMA's values for a 200-example test split with a baseline: two slices, and PairedAccuracy's counts.
COUNTED_VALUES = {
    MetricId('overall', CANDIDATE, eval_config.EXAMPLE_COUNT_METRIC): 200.0,
    MetricId('overall', CANDIDATE, names.ACCURACY_METRIC): 0.9,
    MetricId('label=cat', CANDIDATE, eval_config.EXAMPLE_COUNT_METRIC): 14.0,
    MetricId('label=cat', CANDIDATE, names.ACCURACY_METRIC): 6 / 14,
    MetricId('label=dog', CANDIDATE, eval_config.EXAMPLE_COUNT_METRIC): 186.0,
    MetricId('label=dog', CANDIDATE, names.ACCURACY_METRIC): 174 / 186,
    MetricId('overall', CANDIDATE, paired_accuracy.PAIRED_EXAMPLES): 200.0,
    MetricId('overall', CANDIDATE, paired_accuracy.CANDIDATE_ONLY): 1.0,
    MetricId('overall', CANDIDATE, paired_accuracy.BASELINE_ONLY): 15.0,
}


def test_each_slice_s_examples_and_right_answers_are_read_overall_first():
  assert evaluation_results.slice_counts(COUNTED_VALUES) == [
      SliceCounts('overall', 200, 180), SliceCounts('label=cat', 14, 6), SliceCounts('label=dog', 186, 174)]


def test_the_paired_metric_s_counts_are_read_and_a_missing_or_nan_count_is_zero():
  assert evaluation_results.paired_counts(COUNTED_VALUES) == PairedCounts(200, 1, 15)
  unmeasured = {MetricId('overall', CANDIDATE, paired_accuracy.PAIRED_EXAMPLES): math.nan}
  assert evaluation_results.paired_counts(unmeasured) == PairedCounts(0, 0, 0)


def test_paired_counts_are_read_on_every_slice_that_has_them_overall_first():
  values = dict(COUNTED_VALUES)
  values.update({MetricId('label=cat', CANDIDATE, paired_accuracy.PAIRED_EXAMPLES): 14.0,
                 MetricId('label=cat', CANDIDATE, paired_accuracy.CANDIDATE_ONLY): 0.0,
                 MetricId('label=cat', CANDIDATE, paired_accuracy.BASELINE_ONLY): 3.0})
  assert evaluation_results.paired_counts_per_slice(values) == [PairedCounts(200, 1, 15),
                                                                PairedCounts(14, 0, 3, 'label=cat')]
  assert evaluation_results.paired_counts_per_slice({}) == []


def test_a_slice_key_reads_as_feature_equals_value_and_no_key_as_overall():
  key = metrics_for_slice_pb2.SliceKey()
  key.single_slice_keys.add(column='label', bytes_value=b'cat')
  key.single_slice_keys.add(column='size_bucket', int64_value=3)
  assert evaluation_results.slice_name(key) == 'label=cat, size_bucket=3'
  assert evaluation_results.slice_name(metrics_for_slice_pb2.SliceKey()) == evaluation_results.OVERALL
