"""Tables of TFMA's metrics that both the Evaluator's report and the model card show."""
from typing import Dict, Sequence

from components import eval_config
from components import evaluation_results
from components import features
from components.reports import report_format

_FAIRNESS_RATES = (('false_positive_rate', 'false positive rate'), ('false_negative_rate', 'false negative rate'))


def fairness_table(values: Dict[evaluation_results.MetricId, float], labels: Sequence[str]) -> report_format.Table:
  """Fairness Indicators' false positive and negative rates per slice, class and threshold."""
  fairness_rows = {}
  for metric, value in values.items():
    if (metric.model != evaluation_results.CANDIDATE
        or not metric.name.startswith(eval_config.FAIRNESS_METRIC + '/')
        or metric.slice.startswith(f'{features.LABEL}=')):
      continue
    rate, threshold = metric.name.split('/', 1)[1].split('@')
    if rate in dict(_FAIRNESS_RATES):
      key = (metric.slice, metric.class_id, threshold)
      fairness_rows.setdefault(key, {})[rate] = value
  order = {name: index for index, name in enumerate(evaluation_results.slice_labels(values))}
  return report_format.Table(
      'Fairness Indicators', ['slice', 'class', 'threshold'] + [title for _, title in _FAIRNESS_RATES],
      [[slice_label, labels[class_id] if class_id is not None else 'all', threshold]
       + [report_format.number(rates.get(rate)) for rate, _ in _FAIRNESS_RATES]
       for (slice_label, class_id, threshold), rates in sorted(
           fairness_rows.items(), key=lambda item: (order[item[0][0]], item[0][1] or 0, item[0][2]))],
      note='Per class, one-vs-rest: a prediction counts as the class when its probability is at or above '
           'the threshold. Slices by true class are left out: within one, only one class has positives.')
