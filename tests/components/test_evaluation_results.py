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


def _recalls(slice_label, *recalls):
  return {MetricId(slice_label, CANDIDATE, 'recall', class_id): value for class_id, value in enumerate(recalls)}


def test_an_auc_is_undefined_where_its_slice_lacks_the_positives_or_negatives_it_needs():
  # Three classes. Slice 'size=s' holds classes 0 and 1 (class 2's recall is NaN: none of it there), 'label=a'
  # only class 0, 'size=m' all three. TFMA writes 0 for an AUC without positives or negatives.
  values = {**_recalls('size=s', 0.5, 1.0, math.nan), **_recalls('label=a', 0.8, math.nan, math.nan),
            **_recalls('size=m', 0.5, 0.5, 1.0)}
  for slice_label in ('size=s', 'label=a', 'size=m'):
    values.update({MetricId(slice_label, CANDIDATE, 'auc', class_id): 0.0 for class_id in range(3)})
    values[MetricId(slice_label, CANDIDATE, 'auc', average='macro')] = 0.4
    values[MetricId(slice_label, CANDIDATE, 'auc', average='micro')] = 0.9
  defined = {(metric.slice, metric.class_id, metric.average): evaluation_results.defined_value(values, metric)
             for metric in values if metric.name == 'auc'}
  assert defined == {('size=s', 0, None): 0.0, ('size=s', 1, None): 0.0, ('size=s', 2, None): None,
                     ('size=s', None, 'macro'): None, ('size=s', None, 'micro'): 0.9,
                     ('label=a', 0, None): None, ('label=a', 1, None): None, ('label=a', 2, None): None,
                     ('label=a', None, 'macro'): None, ('label=a', None, 'micro'): 0.9,
                     ('size=m', 0, None): 0.0, ('size=m', 1, None): 0.0, ('size=m', 2, None): 0.0,
                     ('size=m', None, 'macro'): 0.4, ('size=m', None, 'micro'): 0.9}
  assert evaluation_results.defined_value(values, MetricId('label=a', CANDIDATE, 'recall', 1)) is None  # NaN


def test_without_per_class_recall_an_auc_is_shown_as_measured():
  only_auc = {MetricId('overall', CANDIDATE, 'auc', average='macro'): 0.75}
  assert evaluation_results.defined_value(only_auc, MetricId('overall', CANDIDATE, 'auc', average='macro')) == 0.75
