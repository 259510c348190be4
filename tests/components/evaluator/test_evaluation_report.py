"""The report's tables and picture, from the blessing gates and TFMA's own metric keys."""
import math
import os
import re

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from components import eval_config
from components import evaluation_results
from components import features
from components import names
from components.accuracy_intervals import PairedCounts, SliceCounts
from components.evaluation_results import MetricId
from components.evaluator import evaluation_report
from components.evaluator import explanations
from components.evaluator import gates

LABELS = ['cat', 'dog']

def test_the_gates_table_shows_each_gate_s_value_interval_bar_and_verdict():
  checked = gates.check(gates.BlessingPolicy(min_slice_accuracy=0.5), SliceCounts('overall', 200, 180),
                        [SliceCounts('label=cat', 14, 6), SliceCounts('label=dog', 186, 174)], PairedCounts(200, 1, 15))
  table = evaluation_report.gates_table(checked)
  assert table.header[4] == '95% interval'
  assert table.rows[1][4:] == [f'{checked[1].interval.low:+.4f} to {checked[1].interval.high:+.4f}', 'drop <= 0.0000',
                               gates.FAILED]
  assert table.rows[1][3] == '-0.0700' and table.rows[2][3:] == ['0.4286', table.rows[2][4], '>= 0.5000',
                                                               'too small to gate']


def _values():
  candidate, baseline = tfma.CANDIDATE_KEY, tfma.BASELINE_KEY
  values = {
      MetricId('overall', candidate, names.ACCURACY_METRIC): 0.9,
      MetricId('overall', baseline, names.ACCURACY_METRIC): 0.85,
      MetricId('overall', candidate, eval_config.EXAMPLE_COUNT_METRIC): 20.0,
      MetricId('overall', candidate, 'f1_score', average='macro'): 0.88,
      MetricId('overall', candidate, 'precision', class_id=1): 0.8,
      MetricId('overall', candidate, 'precision', class_id=0): math.nan,
      MetricId('label=dog', candidate, names.ACCURACY_METRIC): 0.7,
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


# Test examples with the probabilities a model gave them, for TFMA to measure without a model: (true class,
# its index, probabilities of cat and dog). Each slice by true class holds one class.
SCORED_EXAMPLES = [('cat', 0, [0.9, 0.1]), ('cat', 0, [0.6, 0.4]), ('cat', 0, [0.3, 0.7]),
                   ('dog', 1, [0.2, 0.8]), ('dog', 1, [0.55, 0.45]), ('dog', 1, [0.1, 0.9])]


@pytest.fixture(scope='module')
def measured(tmp_path_factory):
  """(evaluation output, its metric values): TFMA run with the Evaluator's metrics and slices on
  SCORED_EXAMPLES' probabilities."""
  root = tmp_path_factory.mktemp('measured')
  examples_path, output = str(root / 'examples.tfrecord'), str(root / 'evaluation')
  with tf.io.TFRecordWriter(examples_path) as writer:
    for label, index, probabilities in SCORED_EXAMPLES:
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          features.LABEL: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
          features.LABEL_INDEX: tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
          features.PROBABILITIES: tf.train.Feature(float_list=tf.train.FloatList(value=probabilities)),
      })).SerializeToString())
  config = eval_config.build_eval_config(LABELS)
  del config.model_specs[:]
  config.model_specs.add(prediction_key=features.PROBABILITIES, label_key=features.LABEL_INDEX)
  tfma.run_model_analysis(eval_config=config, data_location=examples_path, output_path=output)
  return output, evaluation_results.load_metric_values(output)


def test_aucs_on_a_slice_of_one_true_class_are_n_a_in_every_form_and_numbers_on_the_slice_of_both(
    measured, tmp_path):
  evaluation_uri, values = measured
  # TFMA writes numbers where no AUC exists: 0 for AUC-ROC on a slice without negatives.
  assert values[MetricId('label=cat', tfma.CANDIDATE_KEY, 'auc', average='macro')] == 0.0
  written = evaluation_report.write_report(str(tmp_path / 'report'), evaluation_uri, values, LABELS, True, [], None)
  with open(written.details_path) as handle:  # what the UI's evaluation page shows
    details = handle.read()
  for text in (written.html, details):
    table = re.search(r'<h2>Metrics per slice</h2>.*?</table>', text).group(0)
    cells = {label: re.findall(r'<td>([^<]*)</td>', row)
             for label, row in re.findall(r'<tr><td>([^<]+)</td>(.*?)</tr>', table)}
    assert cells['label=cat'][-2:] == cells['label=dog'][-2:] == ['n/a', 'n/a']
    assert cells['overall'][-2:] == ['0.8889', '0.9041']  # AUC-ROC, AUC-PR with both classes
    assert cells['label=cat'][:2] == ['3', '0.6667']  # examples, accuracy: defined on one class
  markdown = written.markdown.split('## Metrics per slice')[1].split('\n## ')[0]
  assert '| label=cat | 3 | 0.6667 |' in markdown and '| label=dog | 3 | 0.6667 |' in markdown
  rows = {line.split(' | ')[0]: line for line in markdown.splitlines() if line.startswith('| ')}
  assert rows['| label=cat'].endswith('| n/a | n/a |') and rows['| label=dog'].endswith('| n/a | n/a |')
  assert rows['| overall'].endswith('| 0.8889 | 0.9041 |')


def test_the_heatmaps_section_puts_each_explained_image_under_its_class_right_or_wrong():
  right = explanations.Explanation('cat/1.jpg', 'cat', 'cat', 0.9, 0.70, 0.71, '/report/explanations/example_00001.png')
  wrong = explanations.Explanation('cat/2.jpg', 'cat', 'dog', 0.6, 0.52, 0.5, '/report/explanations/example_00002.png')
  sample = explanations.ExplainedSample([right, wrong], 40, 1.5)
  section = evaluation_report.explanations_html(sample, LABELS, lambda shown: f'data:image/png;base64,{shown.path}')
  rows = re.findall(r'<tr><td>(\w+)</td><td>(.*?)</td><td>(.*?)</td></tr>', section)
  assert [(label, re.findall(r'src="data:image/png;base64,([^"]+)"', in_right),
           re.findall(r'src="data:image/png;base64,([^"]+)"', in_wrong)) for label, in_right, in_wrong in rows] == [
      ('cat', ['cat/1.jpg'], ['cat/2.jpg']), ('dog', [], [])]
  assert 'predicted dog 0.60, sum 0.520 of 0.500' in section and 'the largest gap is 0.0200' in section
  markdown = evaluation_report.explanations_markdown(sample, LABELS, lambda shown: os.path.basename(shown.png_path))
  assert '| dog | none | none |' in markdown
  assert '| cat | ![cat/1.jpg](example_00001.png) predicted cat 0.90, sum 0.700 of 0.710 |' in markdown


def test_heatmap_paths_and_class_names_that_are_html_are_text_in_the_markdown_section():
  hostile = '<img src=y onerror=alert(4)>'
  shown = explanations.Explanation(f'{hostile}.jpg', hostile, hostile, 0.9, 0.7, 0.71, '/report/example_00001.png')
  markdown = evaluation_report.explanations_markdown(explanations.ExplainedSample([shown], 4, 0.1), [hostile],
                                                     lambda explained: os.path.basename(explained.png_path))
  assert '<img' not in markdown
  assert ('| &lt;img src=y onerror=alert(4)&gt; | ![&lt;img src=y onerror=alert(4)&gt;.jpg](example_00001.png) '
          'predicted &lt;img src=y onerror=alert(4)&gt; 0.90') in markdown


def test_explanations_that_failed_say_why_in_the_report():
  failed = explanations.ExplainedSample([], 0, 0.2, 'OSError: no test examples')
  section = evaluation_report.explanations_html(failed, LABELS, str)
  assert 'Explanations could not be computed: OSError: no test examples' in section and '<img' not in section
  assert 'could not be computed: OSError: no test examples' in evaluation_report.explanations_markdown(
      failed, LABELS, str)
