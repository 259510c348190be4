"""Blessing reasons and the report's tables and picture, from TFMA's own protos and metric keys."""
import math

import tensorflow_model_analysis as tfma
from google.protobuf import text_format
from tensorflow_model_analysis.proto import validation_result_pb2

from components.evaluator import eval_config
from components.evaluator import evaluation_report
from components.evaluator.evaluation_report import MetricId

LABELS = ['cat', 'dog']

VALIDATION = """
validation_ok: false
metric_validations_per_slice {
  slice_key { single_slice_keys { column: "label" bytes_value: "dog" } }
  failures {
    metric_key { name: "sparse_categorical_accuracy" model_name: "candidate" }
    metric_threshold { value_threshold { lower_bound { value: 0.9 } } }
    metric_value { double_value { value: 0.75 } }
  }
}
metric_validations_per_slice {
  slice_key { }
  failures {
    metric_key { name: "sparse_categorical_accuracy" model_name: "candidate" is_diff: true }
    metric_threshold { change_threshold { direction: HIGHER_IS_BETTER absolute { value: -0.01 } } }
    metric_value { double_value { value: -0.05 } }
  }
}
missing_slices { feature_values { key: "camera" value: "phone" } }
"""


def test_reasons_name_metric_slice_value_and_margin():
  validation = text_format.Parse(VALIDATION, validation_result_pb2.ValidationResult())
  assert evaluation_report.blessing_reasons(validation) == [
      'sparse_categorical_accuracy on slice label=dog is 0.7500, below the minimum 0.9000 by 0.1500',
      'sparse_categorical_accuracy on slice overall changed by -0.0500 against the model in production; '
      'it may drop by at most 0.0100',
      'no examples for slice camera=phone, so its thresholds could not be checked',
  ]


def _values():
  candidate, baseline = tfma.CANDIDATE_KEY, tfma.BASELINE_KEY
  values = {
      MetricId('overall', candidate, eval_config.ACCURACY_METRIC): 0.9,
      MetricId('overall', baseline, eval_config.ACCURACY_METRIC): 0.85,
      MetricId('overall', candidate, eval_config.EXAMPLE_COUNT_METRIC): 20.0,
      MetricId('overall', candidate, 'f1_score', average='macro'): 0.88,
      MetricId('overall', candidate, 'precision', class_id=1): 0.8,
      MetricId('overall', candidate, 'precision', class_id=0): math.nan,
      MetricId('label=dog', candidate, eval_config.ACCURACY_METRIC): 0.7,
      MetricId('overall', candidate, 'fairness_indicators_metrics/false_positive_rate@0.5', class_id=1): 0.1,
      MetricId('label=dog', candidate, 'fairness_indicators_metrics/false_positive_rate@0.5', class_id=1): 0.2,
  }
  return values


def test_tables_compare_with_production_and_list_slices_classes_and_fairness():
  comparison, per_slice, per_class, fairness = evaluation_report.build_tables(_values(), LABELS, True)
  assert comparison.rows[1] == ['accuracy', '0.9000', '0.8500', '+0.0500']
  assert comparison.rows[0][:2] == ['examples', '20']
  assert [row[:3] for row in per_slice.rows] == [['overall', '20', '0.9000'], ['label=dog', 'n/a', '0.7000']]
  assert per_slice.rows[0][5] == '0.8800'  # F1, a macro average
  assert [row[:2] for row in per_class.rows[:2]] == [['0: cat', 'n/a'], ['1: dog', '0.8000']]
  # Slices by true class are left out of the fairness table: within one, only one class has positives.
  assert fairness.rows == [['overall', 'dog', '0.5', '0.1000', 'n/a']]


def test_without_a_baseline_there_is_no_comparison_table():
  tables = evaluation_report.build_tables(_values(), LABELS, False)
  assert [table.title for table in tables] == ['Metrics per slice', 'Per class, overall slice',
                                               'Fairness Indicators']
