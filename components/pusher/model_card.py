"""The model card written into every pushed version: what the model is, what it learnt from, how well it does
on which slices, why it was allowed into production, and which run made it.

Markdown for code hosts and HTML for browsers (components/reports/report_format.py), beside saved_model.pb,
so whoever finds a version folder finds its card. Built from what the Pusher's inputs already hold: ExampleGen's
counts, the training record the Trainer exports with the model, TFMA's metrics and the blessing's reasons.
"""
import dataclasses
import html
import json
from typing import Dict, List, Optional, Sequence

from components import accuracy_intervals
from components import evaluation_results
from components import names
from components.reports import metric_tables
from components.reports import report_format
from components import training_record

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class DataFacts:
  """What ExampleGen read: its span, the rows it accepted per split, and those it rejected."""
  span: int
  accepted_per_split: Dict[str, int]
  rejected: int
  rejects_uri: str


@dataclasses.dataclass(frozen=True)
class Decision:
  """The Evaluator's verdict, and the model in production it was measured against."""
  blessed: bool
  reasons: Sequence[str]
  baseline_dir: str


@dataclasses.dataclass(frozen=True)
class Lineage:
  """Where the version came from: the run, when the orchestrator names it, and the artifacts it read."""
  run_id: Optional[str]
  model_uri: str
  examples_uri: str
  evaluation_uri: Optional[str]
  blessing_uri: str


@dataclasses.dataclass(frozen=True)
class CardFacts:
  model_name: str
  version: int
  labels: Sequence[str]
  training: Optional[training_record.TrainingRecord]
  model_choice: str
  warm_start: str
  data: DataFacts
  decision: Decision
  lineage: Lineage
  tflite_bytes: Dict[str, int]  # file name -> size
  tflite_note: str  # why there is no TFLite model, when there is none
  metric_values: Optional[Dict[evaluation_results.MetricId, float]]  # TFMA's values; None without an evaluation


def slice_table(values: Dict[evaluation_results.MetricId, float]) -> report_format.Table:
  confidence = f'{CONFIDENCE:.0%}'
  rows = []
  for counts in evaluation_results.slice_counts(values):
    interval = accuracy_intervals.proportion_interval(counts.correct, counts.examples, CONFIDENCE)
    accuracy = counts.correct / counts.examples if counts.examples else float('nan')
    rows.append([counts.name, report_format.count(counts.examples), report_format.number(accuracy),
                 f'{interval.low:.4f} to {interval.high:.4f}'])
  return report_format.Table(
      'Accuracy per slice (test split)', ['slice', 'examples', 'accuracy', f'{confidence} interval'], rows,
      note='Exact (Clopper-Pearson) intervals: a slice with few examples has a wide one, and its accuracy '
           'says little on its own.')


def _fact_tables(facts: CardFacts) -> List[report_format.Table]:
  data = facts.data
  tables = [report_format.Table('Data', ['fact', 'value'], [
      ['span', str(data.span)],
      *[[f'examples in {split}', report_format.count(count)] for split, count in data.accepted_per_split.items()],
      ['rows rejected', report_format.count(data.rejected)],
      ['rejects report', data.rejects_uri or 'none'],
  ])]
  training = facts.training
  rows = [['classes', ', '.join(facts.labels)], ['model choice', facts.model_choice or 'not recorded'],
          ['warm start', facts.warm_start or 'not recorded']]
  if training:
    rows[1:1] = [['backbone', training.backbone], ['image size', f'{training.image_size} px'],
                 ['training examples', report_format.count(training.train_examples)]]
    rows += [[f'hyperparameter {name}', json.dumps(value)] for name, value in sorted(training.hyperparameters.items())]
  tables.append(report_format.Table('Training', ['fact', 'value'], rows))
  if facts.metric_values is not None:
    tables += [slice_table(facts.metric_values), metric_tables.fairness_table(facts.metric_values, facts.labels)]
  lineage = facts.lineage
  tables.append(report_format.Table('Lineage', ['artifact', 'where'], [
      ['pipeline run', lineage.run_id or 'not named by the orchestrator (see the artifacts below)'],
      ['model (Trainer)', lineage.model_uri], ['examples (ExampleGen)', lineage.examples_uri],
      ['evaluation (Evaluator)', lineage.evaluation_uri or 'not given to the Pusher'],
      ['blessing (Evaluator)', lineage.blessing_uri],
  ]))
  if not facts.tflite_bytes:
    tables.append(report_format.Table('TensorFlow Lite', ['file', 'bytes'], [], note=f'None: {facts.tflite_note}'))
  else:
    tables.append(report_format.Table(
        'TensorFlow Lite', ['file', 'bytes'], [[name, report_format.count(size)]
                                              for name, size in sorted(facts.tflite_bytes.items())],
        note='Input: float32 [1, S, S, 3] pixels in [0, 1], the image resized with padding as in training; '
             'components/pusher/tflite.py:device_input is the reference preprocessing.'))
  return tables


def _decision_lines(decision: Decision) -> List[str]:
  lines = ['Blessed by the Evaluator.' if decision.blessed else 'Not blessed.']
  lines.append(f'Compared with the model then in production: {decision.baseline_dir}.' if decision.baseline_dir
               else 'No model was in production: only the accuracy floors applied.')
  return lines + [f'Reason: {reason}.' for reason in decision.reasons]


def render(facts: CardFacts) -> Dict[str, str]:
  """{file name: text} of the card in Markdown and HTML."""
  title = f'Model card: {facts.model_name}, version {facts.version}'
  intended = (f'Classifies an image into one of {len(facts.labels)} classes ({", ".join(facts.labels)}). An '
              f'image of anything else still gets one of them: check the probability before acting on it.')
  decision = _decision_lines(facts.decision)
  tables = _fact_tables(facts)
  markdown = '\n'.join([f'# {report_format.markdown_text(title)}', '', report_format.markdown_text(intended), '',
                        '## Blessing', '', *[f'- {report_format.markdown_text(line)}' for line in decision], '',
                        *[report_format.markdown_table(table) for table in tables]])
  page = report_format.html_page(title, [
      f'<p>{html.escape(intended)}</p><h2>Blessing</h2><ul>'
      + ''.join(f'<li>{html.escape(line)}</li>' for line in decision) + '</ul>',
      *[report_format.html_table(table) for table in tables]])
  return {names.MODEL_CARD_MARKDOWN_FILE: markdown, names.MODEL_CARD_HTML_FILE: page}
