"""The evaluation report people read: TFMA's output and the blessing decision as HTML and Markdown.

Self-contained (see report_format; the confusion matrix as an SVG file and the heatmaps of explained test images
as PNG files beside the reports, and inline in the HTML), so it renders offline without a notebook. TFMA's output
is read through components/evaluation_results.py.
"""
import base64
import dataclasses
import html
import math
import os
from typing import Callable, Dict, List, Optional, Sequence

import tensorflow as tf

from components import eval_config
from components import evaluation_results
from components.evaluator import explanations
from components.evaluator import gates
from components import names
from components.reports import charts
from components.reports import metric_tables
from components.reports import report_format

# (metric name, column title) of the per-slice and comparison tables; averages are macro unless stated.
_SLICE_COLUMNS = (
    (eval_config.EXAMPLE_COUNT_METRIC, 'examples'),
    (names.ACCURACY_METRIC, 'accuracy'),
    ('precision', 'precision'),
    ('recall', 'recall'),
    ('f1_score', 'F1'),
    ('auc', 'AUC-ROC'),
    ('auc_precision_recall', 'AUC-PR'),
)
_CLASS_COLUMNS = (('precision', 'precision'), ('recall', 'recall'), ('f1_score', 'F1'), ('auc', 'AUC-ROC'),
                  ('auc_precision_recall', 'AUC-PR'), ('calibration', 'calibration'))


def gates_table(checked: Sequence[gates.Gate]) -> report_format.Table:
  rows = []
  for gate in checked:
    if gate.kind == gates.CHANGE:  # a signed difference, with the drop allowed
      value, interval = f'{gate.value:+.4f}', f'{gate.interval.low:+.4f} to {gate.interval.high:+.4f}'
      bar = f'drop <= {gate.bound:.4f}'
    else:
      value, interval = report_format.number(gate.value), f'{gate.interval.low:.4f} to {gate.interval.high:.4f}'
      bar = f'>= {gate.bound:.4f}'
    rows.append([gate.kind, gate.slice, report_format.count(gate.examples), value, interval, bar, gate.verdict])
  confidence = f'{checked[0].confidence:.0%}' if checked else ''
  return report_format.Table(
      'Blessing gates', ['gate', 'slice', 'examples', 'value', f'{confidence} interval', 'bar', 'verdict'], rows,
      note='Intervals are exact (Clopper-Pearson). A slice floor applies only to slices with enough test '
           'examples; the change against production is paired (the same test examples) and fails only when its '
           'whole interval lies below the bar (McNemar\'s exact test).')


def _cell(name: str, value: Optional[float]) -> str:
  return report_format.count(value) if name == eval_config.EXAMPLE_COUNT_METRIC else report_format.number(value)


def _slice_value(values, slice_label, name, model=evaluation_results.CANDIDATE):
  """The metric, or its macro average over classes; None where it is undefined on the slice."""
  for average in (None, 'macro'):
    metric = evaluation_results.MetricId(slice_label, model, name, average=average)
    if metric in values:
      return evaluation_results.defined_value(values, metric)
  return None


def build_tables(values: Dict[evaluation_results.MetricId, float], labels: Sequence[str],
                 has_baseline: bool) -> List[report_format.Table]:
  tables = []
  if has_baseline:
    rows = []
    for name, title in _SLICE_COLUMNS:
      candidate = _slice_value(values, evaluation_results.OVERALL, name)
      baseline = _slice_value(values, evaluation_results.OVERALL, name, evaluation_results.BASELINE)
      change = None if candidate is None or baseline is None else candidate - baseline
      rows.append([title, _cell(name, candidate), _cell(name, baseline),
                   'n/a' if change is None or math.isnan(change) else f'{change:+.4f}'])
    tables.append(report_format.Table('Candidate against the model in production (overall slice)',
                                      ['metric', 'candidate', 'in production', 'change'], rows))
  tables.append(report_format.Table(
      'Metrics per slice', ['slice'] + [title for _, title in _SLICE_COLUMNS],
      [[label] + [_cell(name, _slice_value(values, label, name)) for name, _ in _SLICE_COLUMNS]
       for label in evaluation_results.slice_labels(values)],
      note='Precision, recall, F1 and AUCs are macro averages over classes (one-vs-rest); micro averages '
           'are in the overall row of the next table. n/a: undefined on the slice. A class\'s AUC needs examples '
           'of the class and of another, so a slice of one true class has none, and a macro average needs '
           'examples of every class.'))
  overall, candidate = evaluation_results.OVERALL, evaluation_results.CANDIDATE

  def overall_cell(name: str, class_id: Optional[int] = None, average: Optional[str] = None) -> str:
    metric = evaluation_results.MetricId(overall, candidate, name, class_id, average)
    return report_format.number(evaluation_results.defined_value(values, metric))

  class_rows = [[f'{class_id}: {label}'] + [overall_cell(name, class_id) for name, _ in _CLASS_COLUMNS]
                for class_id, label in enumerate(labels)]
  class_rows += [[f'{average} average'] + [overall_cell(name, average=average) for name, _ in _CLASS_COLUMNS]
                 for average in ('macro', 'micro')]
  tables.append(report_format.Table(
      'Per class, overall slice', ['class'] + [title for _, title in _CLASS_COLUMNS], class_rows,
      note='Calibration is mean predicted probability / observed frequency (1 is calibrated).'))
  tables.append(metric_tables.fairness_table(values, labels))
  return tables


EXPLANATIONS_TITLE = 'What the model looked at'
_EXPLANATION_COLUMNS = ('true class', 'predicted right', 'predicted wrong')


def _explanations_note(sample: explanations.ExplainedSample) -> str:
  gap = max((abs(shown.attribution_sum - shown.output_difference) for shown in sample.explanations), default=0.0)
  return (f'Integrated gradients from a black image to the test image, for the class the model predicted: red '
          f'pixels raised its probability, blue ones lowered it (colours scaled per image). Per class, the first '
          f'{explanations.PER_CLASS} test images the model got right and the first {explanations.PER_CLASS} it got '
          f'wrong, of the {sample.examples_classified} classified; {len(sample.explanations)} explained in '
          f'{sample.seconds:.1f} s. Completeness check: an image\'s attributions add up to its probability minus '
          f'the black image\'s ("sum" against "of" under each image); the largest gap is {gap:.4f}. A small "of" '
          f'means the black image alone already scores that class high, so the heatmap has little to show.')


def _explanation_caption(shown: explanations.Explanation) -> str:
  return (f'predicted {shown.predicted_label} {shown.probability:.2f}, '
          f'sum {shown.attribution_sum:.3f} of {shown.output_difference:.3f}')


def _by_true_class(sample: explanations.ExplainedSample, labels: Sequence[str]):
  """(class, explained images it got right, explained images it got wrong) for every class, in labels order."""
  for label in labels:
    of_class = [shown for shown in sample.explanations if shown.true_label == label]
    yield label, [shown for shown in of_class if shown.correct], [shown for shown in of_class if not shown.correct]


def explanations_html(sample: explanations.ExplainedSample, labels: Sequence[str],
                      image_source: Callable[[explanations.Explanation], str]) -> str:
  """The report's section of heatmaps; image_source gives each <img> its src (a data: URI keeps it one file)."""
  heading = f'<h2>{html.escape(EXPLANATIONS_TITLE)}</h2>'
  if sample.error:
    return heading + f'<p class="note">Explanations could not be computed: {html.escape(sample.error)}</p>'

  def figure(shown: explanations.Explanation) -> str:
    return (f'<figure style="display:inline-block;margin:4px;text-align:center"><img class="heatmap" '
            f'src="{html.escape(image_source(shown))}" alt="{html.escape(shown.path)}" '
            f'title="{html.escape(shown.path)}" width="{explanations.DISPLAY_SIDE}">'
            f'<figcaption>{html.escape(_explanation_caption(shown))}</figcaption></figure>')

  head = ''.join(f'<th>{title}</th>' for title in _EXPLANATION_COLUMNS)
  rows = ''.join(f'<tr><td>{html.escape(label)}</td>'
                 + ''.join(f'<td>{"".join(figure(shown) for shown in group) or "none"}</td>' for group in groups)
                 + '</tr>' for label, *groups in _by_true_class(sample, labels))
  return (f'{heading}<p class="note">{html.escape(_explanations_note(sample))}</p>'
          f'<table id="explanations"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>')


def explanations_markdown(sample: explanations.ExplainedSample, labels: Sequence[str],
                          image_source: Callable[[explanations.Explanation], str]) -> str:
  """The same section in Markdown; image_source: a path relative to the report, or a data: URI."""
  if sample.error:
    return (f'## {EXPLANATIONS_TITLE}\n\nExplanations could not be computed: '
            f'{report_format.markdown_text(sample.error)}\n')

  def cell(group: Sequence[explanations.Explanation]) -> report_format.Markdown:
    return report_format.Markdown(' '.join(
        f'![{report_format.markdown_text(shown.path)}]({image_source(shown)}) '
        f'{report_format.markdown_text(_explanation_caption(shown))}' for shown in group) or 'none')

  return report_format.markdown_table(report_format.Table(
      EXPLANATIONS_TITLE, _EXPLANATION_COLUMNS,
      [[label, *(cell(group) for group in groups)] for label, *groups in _by_true_class(sample, labels)],
      note=_explanations_note(sample)))


def _decision_lines(blessed: bool, reasons: Sequence[str], baseline_dir: Optional[str]) -> List[str]:
  lines = [f'Blessed: {"yes, the model may be pushed" if blessed else "no, the model is not pushed"}.']
  lines.append(f'Compared with the model in production: {baseline_dir}.' if baseline_dir else
               'No model in production yet: only the accuracy floors applied.')
  lines += [f'Reason: {reason}.' for reason in reasons]
  return lines


@dataclasses.dataclass
class WrittenReport:
  """The report's files, and its texts for the system.HTML and system.Markdown artifacts.

  The Markdown file links confusion_matrix.svg and the heatmaps' PNG files beside it; the Markdown artifact, a
  single file, has them inline instead, as the HTML has.
  """
  html_path: str
  markdown_path: str
  details_path: str  # the tables and charts without the page frame and the decision, for pages that show both
  html: str
  markdown: str


def write_report(report_dir: str, evaluation_uri: str, values: Dict[evaluation_results.MetricId, float],
                 labels: Sequence[str], blessed: bool, reasons: Sequence[str], baseline_dir: Optional[str],
                 checked_gates: Sequence[gates.Gate] = (),
                 explained: Optional[explanations.ExplainedSample] = None,
                 comparison: Optional[report_format.Table] = None) -> WrittenReport:
  """Writes report.html, report.md, details.html and confusion_matrix.svg into report_dir.

  `values` are evaluation_results.load_metric_values(evaluation_uri); the plots are read from evaluation_uri.
  `explained`: the heatmaps' section, its PNG files already written under report_dir, which the Markdown file
  links.
  `comparison`: the comparison with production made outside TFMA (on the shared classes, when the class lists
  differ), shown instead of TFMA's.
  """
  tables = ([gates_table(checked_gates)] if checked_gates else []) + ([comparison] if comparison else []) + (
      build_tables(values, labels, baseline_dir is not None and comparison is None))
  plots = evaluation_results.load_overall_plots(evaluation_uri)
  svg = charts.confusion_matrix_svg(evaluation_results.confusion_counts(plots, len(labels)), labels)
  calibration = report_format.Table(
      'Calibration (all classes, one-vs-rest, micro-averaged)',
      ['predicted probability', 'examples', 'mean predicted', 'observed frequency'],
      [[f'{low:.1f} to {high:.1f}', report_format.count(examples), report_format.number(predicted),
        report_format.number(observed)]
       for low, high, examples, predicted, observed in evaluation_results.calibration_buckets(plots)])
  decision = _decision_lines(blessed, reasons, baseline_dir)
  inline_pngs = {}
  for shown in explained.explanations if explained else ():
    with tf.io.gfile.GFile(shown.png_path, 'rb') as handle:
      inline_pngs[shown.png_path] = 'data:image/png;base64,' + base64.b64encode(handle.read()).decode('ascii')

  def inline(shown: explanations.Explanation) -> str:
    return inline_pngs[shown.png_path]

  def beside_report(shown: explanations.Explanation) -> str:
    return os.path.relpath(shown.png_path, report_dir)

  def markdown(confusion_matrix: str, explanation_image: Callable[[explanations.Explanation], str]) -> str:
    lines = ['# Evaluation report', ''] + [f'- {report_format.markdown_text(line)}' for line in decision] + ['']
    lines += [report_format.markdown_table(table) for table in tables]
    lines += ['## Confusion matrix (overall slice)', '', confusion_matrix, '']
    lines.append(report_format.markdown_table(calibration))
    if explained:
      lines.append(explanations_markdown(explained, labels, explanation_image))
    return '\n'.join(lines)

  details = '\n'.join([*[report_format.html_table(table) for table in tables],
                        '<h2>Confusion matrix (overall slice)</h2>', svg, report_format.html_table(calibration),
                        *([explanations_html(explained, labels, inline)] if explained else [])])
  status = 'blessed' if blessed else 'refused'
  page = report_format.html_page('Evaluation report', [
      f'<ul class="{status}" id="decision">' + ''.join(f'<li>{html.escape(line)}</li>' for line in decision)
      + '</ul>', details])

  tf.io.gfile.makedirs(report_dir)
  files = (names.REPORT_HTML_FILE, names.REPORT_MARKDOWN_FILE, names.REPORT_DETAILS_FILE, names.CONFUSION_MATRIX_FILE)
  paths = {name: os.path.join(report_dir, name) for name in files}
  texts = (page, markdown(f'![confusion matrix]({names.CONFUSION_MATRIX_FILE})', beside_report), details, svg)
  for name, text in zip(files, texts):
    with tf.io.gfile.GFile(paths[name], 'w') as handle:
      handle.write(text)
  html_path, markdown_path, details_path, _ = (paths[name] for name in files)
  return WrittenReport(html_path, markdown_path, details_path, page, markdown(svg, inline))
