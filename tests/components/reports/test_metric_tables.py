"""The Fairness Indicators table the report and the model card share."""
from components import eval_config
from components.evaluation_results import BASELINE, CANDIDATE, MetricId
from components.reports import metric_tables


def _rate(slice_label: str, rate: str, class_id: int, model: str = CANDIDATE) -> MetricId:
  return MetricId(slice_label, model, f'{eval_config.FAIRNESS_METRIC}/{rate}@0.5', class_id)


def test_rates_are_listed_per_slice_and_class_leaving_out_true_class_slices_and_the_baseline():
  values = {_rate('size_bucket=2', 'false_positive_rate', 0): 0.3,
            _rate('overall', 'false_negative_rate', 1): 0.2, _rate('overall', 'false_positive_rate', 0): 0.1,
            _rate('label=cat', 'false_positive_rate', 0): 0.9,
            _rate('overall', 'false_positive_rate', 1, BASELINE): 0.5}
  table = metric_tables.fairness_table(values, ['cat', 'dog'])
  assert table.header == ['slice', 'class', 'threshold', 'false positive rate', 'false negative rate']
  assert table.rows == [['overall', 'cat', '0.5', '0.1000', 'n/a'], ['overall', 'dog', '0.5', 'n/a', '0.2000'],
                        ['size_bucket=2', 'cat', '0.5', '0.3000', 'n/a']]
