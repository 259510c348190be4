"""The model card: every section the card promises, from the facts the Pusher gathers."""
from components import eval_config
from components import names
from components.evaluation_results import CANDIDATE
from components.evaluation_results import MetricId
from components.pusher import model_card
from components import training_record

LABELS = ('cat', 'dog')


def _facts(**changes):
  values = {MetricId('overall', CANDIDATE, eval_config.EXAMPLE_COUNT_METRIC): 40.0,
            MetricId('overall', CANDIDATE, names.ACCURACY_METRIC): 0.9,
            MetricId('label=cat', CANDIDATE, eval_config.EXAMPLE_COUNT_METRIC): 10.0,
            MetricId('label=cat', CANDIDATE, names.ACCURACY_METRIC): 0.6,
            MetricId('overall', CANDIDATE, f'{eval_config.FAIRNESS_METRIC}/false_positive_rate@0.5', 1): 0.25}
  facts = dict(
      model_name='pets', version=1700000000, labels=LABELS,
      training=training_record.TrainingRecord(LABELS, 'efficientnet_lite0', 224, {'learning_rate': 0.001}, 300),
      model_choice='efficientnet_lite0 (pretrained) at 224 px', warm_start='from scratch: warm_start is never',
      data=model_card.DataFacts(span=3, accepted_per_split={'train': 300, 'eval': 40, 'test': 40}, rejected=2,
                                rejects_uri='/out/examples/1/rejects.csv'),
      decision=model_card.Decision(True, [], '/serving/pets/1690000000'),
      lineage=model_card.Lineage('20261204-080414-69b061', '/out/Trainer/model/8', '/out/examples/1',
                                 '/out/Evaluator/evaluation/9', '/out/Evaluator/blessing/9'),
      tflite_bytes={names.TFLITE_FILE: 400_000, names.TFLITE_QUANTIZED_FILE: 110_000}, tflite_note='',
      metric_values=values)
  facts.update(changes)
  return model_card.CardFacts(**facts)


def test_the_card_holds_data_training_metrics_with_intervals_fairness_decision_and_lineage():
  cards = model_card.render(_facts())
  markdown = cards[names.MODEL_CARD_MARKDOWN_FILE]
  assert markdown.startswith('# Model card: pets, version 1700000000')
  for expected in ('| span | 3 |', '| examples in test | 40 |', '| rows rejected | 2 |',
                   '| backbone | efficientnet\\_lite0 |', '| hyperparameter learning\\_rate | 0.001 |',
                   '| overall | 40 | 0.9000 | 0.7634 to 0.9721 |',  # Clopper-Pearson, 36 of 40
                   '| label=cat | 10 | 0.6000 | 0.2624 to 0.8784 |',
                   '| overall | dog | 0.5 | 0.2500 | n/a |',
                   'Compared with the model then in production: /serving/pets/1690000000.',
                   '| pipeline run | 20261204-080414-69b061 |', '| model\\_quantized.tflite | 110000 |'):
    assert expected in markdown
  page = cards[names.MODEL_CARD_HTML_FILE]
  assert '<td>0.7634 to 0.9721</td>' in page and '<h2>Lineage</h2>' in page


def test_a_card_without_evaluation_or_tflite_says_so():
  markdown = model_card.render(_facts(metric_values=None, tflite_bytes={}, tflite_note='not a pipeline model',
                                      lineage=model_card.Lineage(None, 'm', 'e', None, 'b')))[
      names.MODEL_CARD_MARKDOWN_FILE]
  assert 'Accuracy per slice' not in markdown
  assert 'None: not a pipeline model' in markdown
  assert '| evaluation (Evaluator) | not given to the Pusher |' in markdown
  assert '| pipeline run | not named by the orchestrator' in markdown


def test_class_names_and_reasons_that_are_html_are_text_in_the_markdown_card():
  hostile = ('<script>alert(1)</script>', '"><img src=x onerror=alert(2)>')
  markdown = model_card.render(_facts(
      labels=hostile, decision=model_card.Decision(True, [f'slice label={hostile[1]} reached 0.9'], None)))[
      names.MODEL_CARD_MARKDOWN_FILE]
  assert '<script' not in markdown and '<img' not in markdown
  assert '(&lt;script&gt;alert(1)&lt;/script&gt;, "&gt;&lt;img src=x onerror=alert(2)&gt;)' in markdown
  assert 'Reason: slice label="&gt;&lt;img src=x onerror=alert(2)&gt; reached 0.9.' in markdown
