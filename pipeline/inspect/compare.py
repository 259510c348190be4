"""Runs side by side, for `visionflow compare` and the UI's /compare: what differs between two to four runs of one
store, from what each run recorded. The settings that differ, the data, the blessing's gates, each slice's
accuracy with its exact interval and the paired change (from the examples each Evaluator kept, or where one
run's Evaluator measured another compared run's model as the model in production), the training curves, each
step's cache state and duration, the blessing and the push.

Accuracies are compared only on one test set: the Evaluators read the same ExampleGen output, or outputs made
from the same recorded input files with the same settings. Otherwise the comparison says that the test sets
differ and marks no accuracy as different. Read-only, without TensorFlow or TFX.
"""
import dataclasses
import json
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import ml_metadata as mlmd

from components import accuracy_intervals
from components import executor_settings
from components import features
from components import names
from components import paths
from components import test_answers
from components.evaluator import gates
from components.reports import artifact_contents
from pipeline.inspect import runs as runs_lib

MIN_RUNS = 2
MAX_RUNS = 4
OVERALL = 'overall'  # the slice of every test example, as the Evaluator names it
CACHED = 'CACHED'
_DEFAULT_CONFIDENCE = gates.BlessingPolicy().confidence  # for runs evaluated before the gates were recorded
Curve = List[Tuple[int, float]]  # (epoch - 1, value), as artifact_contents.training_curves reads them


class SelectionError(ValueError):
  """Fewer than MIN_RUNS runs, more than MAX_RUNS, or one run named twice."""


class UnknownRunError(ValueError):
  """A run id that the metadata store does not hold."""


@dataclasses.dataclass(frozen=True)
class Row:
  """One compared setting or measurement: its text in each run (None where the run recorded none), and whether
  the runs differ on it."""
  name: str
  values: Tuple[Optional[str], ...]
  differs: bool


@dataclasses.dataclass(frozen=True)
class Section:
  title: str
  rows: Tuple[Row, ...]
  note: str = ''  # what a reader must know to read the rows, or why some are not shown


@dataclasses.dataclass(frozen=True)
class PairedChange:
  """The accuracy change of run `candidate_run`'s model against run `baseline_run`'s on the same test examples:
  the candidate's Evaluator measured the baseline run's pushed model as the model in production, or both
  Evaluators kept which examples their model got right."""
  slice: str
  candidate_run: str
  baseline_run: str
  counts: accuracy_intervals.PairedCounts
  interval: accuracy_intervals.Interval
  confidence: float

  def describe(self) -> str:
    return (f'{self.counts.difference:+.4f} ({self.confidence:.0%} interval {self.interval.low:+.4f} to '
            f'{self.interval.high:+.4f}; {self.counts.examples} paired examples, {self.counts.candidate_only} right '
            f'only by run {self.candidate_run}, {self.counts.production_only} only by run {self.baseline_run})')


@dataclasses.dataclass(frozen=True)
class TestSets:
  """Whether the runs' accuracies are on one test set, and how that was decided."""
  same: bool
  message: str


@dataclasses.dataclass(frozen=True)
class Comparison:
  """Everything the CLI and the UI show, in their order; sections' rows have one value per run, in run_ids order."""
  run_ids: Tuple[str, ...]
  test_sets: TestSets
  sections: Tuple[Section, ...]
  paired: Tuple[PairedChange, ...]
  curves: Dict[str, Dict[str, Dict[str, Curve]]]  # {metric: {run id: {series: points}}}


@dataclasses.dataclass(frozen=True)
class _Run:
  """One run as read from the store: its summary, its components and their outputs by key."""
  view: runs_lib.RunView
  nodes: List[runs_lib.NodeView]
  outputs: Dict[str, runs_lib.ArtifactView]

  @property
  def run_id(self) -> str:
    return self.view.run_id

  def node(self, output_key: str) -> Optional[runs_lib.NodeView]:
    """The component that output `output_key` in this run, executed or cached."""
    return next((node for node in self.nodes if any(artifact.key == output_key for artifact in node.outputs)), None)

  def recorded(self, output_key: str, property_name: str, record_type: type) -> Optional[List[Any]]:
    """A JSON list of dataclasses an output records; None where it records none (or the step did not run)."""
    artifact = self.outputs.get(output_key)
    text = artifact.properties.get(property_name) if artifact else None
    return [executor_settings.from_json_dict(record_type, item) for item in json.loads(text)] if text else None

  @property
  def gates(self) -> Optional[List[gates.Gate]]:
    return self.recorded(names.BLESSING, names.BLESSING_GATES, gates.Gate)

  @property
  def confidence(self) -> float:
    """The confidence of the Evaluator's intervals, as its gates record it."""
    checked = self.gates
    return checked[0].confidence if checked else _DEFAULT_CONFIDENCE


def select_runs(requested: Iterable[str]) -> List[str]:
  """Run ids as a user gives them (repeated, or comma-separated), checked for count and repeats."""
  run_ids = [part.strip() for item in requested for part in item.split(',') if part.strip()]
  repeated = sorted({run_id for run_id in run_ids if run_ids.count(run_id) > 1})
  if repeated:
    raise SelectionError(f'run {repeated[0]} is named twice: compare different runs')
  if not MIN_RUNS <= len(run_ids) <= MAX_RUNS:
    raise SelectionError(f'compare {MIN_RUNS} to {MAX_RUNS} runs, not {len(run_ids)} (see `visionflow runs`)')
  return run_ids


def compare(store: mlmd.MetadataStore, run_ids: Sequence[str], process_state: runs_lib.ProcessState) -> Comparison:
  """The runs side by side, oldest first whatever the order asked; SelectionError or UnknownRunError (one line
  each) for a selection that cannot be compared."""
  run_ids = select_runs(run_ids)
  runs = []
  for run_id in run_ids:
    try:
      view, nodes = runs_lib.run_details(store, run_id, process_state)
    except ValueError as error:
      raise UnknownRunError(str(error)) from error
    runs.append(_Run(view, nodes, runs_lib.outputs_by_key(nodes)))
  runs.sort(key=lambda run: (run.view.started_ms, run.run_id))
  test_sets = _test_sets(runs)
  paired = tuple(_paired_changes(runs)) if test_sets.same else ()
  if test_sets.same:
    paired += tuple(_paired_by_answers(runs, paired))
  curves = _curves(runs)
  return Comparison(
      run_ids=tuple(run.run_id for run in runs), test_sets=test_sets,
      sections=(_settings(runs), _data(runs), _gates(runs, test_sets), _slices(runs, test_sets, paired),
                _training(runs, curves), _steps(runs), _outcome(runs, test_sets)),
      paired=paired, curves=curves)


def _row(name: str, values: Sequence[Optional[str]], compared: Optional[Sequence[Any]] = None) -> Row:
  """A row that differs where the compared values (the texts, unless given) are not all equal."""
  return Row(name, tuple(values), len(set(values if compared is None else compared)) > 1)


def _text(value: Any) -> Optional[str]:
  if value is None:
    return None
  return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _property_row(runs: Sequence[_Run], name: str, output_key: str, property_name: str,
                  show: Callable[[Any], Optional[str]] = _text) -> Row:
  values = []
  for run in runs:
    artifact = run.outputs.get(output_key)
    values.append(show(artifact.properties.get(property_name)) if artifact else None)
  return _row(name, values)


def _flatten(name: str, value: Any) -> Dict[str, str]:
  """A recorded setting as {dotted name: text}: JSON text and mappings opened down to their values (lists stay
  whole), and the protobuf Any wrapper ExampleGen's custom_config is recorded in skipped."""
  if isinstance(value, str) and value[:1] in '{[':
    try:
      value = json.loads(value)
    except ValueError:
      pass
  if isinstance(value, dict) and set(value) == {'@type', 'value'}:
    return _flatten(name, value['value'])
  if isinstance(value, dict):
    return {key: text for item_name, item in value.items() for key, text in _flatten(f'{name}.{item_name}',
                                                                                         item).items()}
  return {name: _text(value)}


def _settings(runs: Sequence[_Run]) -> Section:
  """The model and how its training went, then every recorded execution property that differs."""
  rows = [_property_row(runs, 'model choice', names.MODEL, names.MODEL_CHOICE),
          _property_row(runs, 'epochs trained', names.MODEL, names.EPOCHS_TRAINED),
          _property_row(runs, 'training outcome', names.MODEL, names.TRAINING_OUTCOME),
          _property_row(runs, 'warm start', names.MODEL, names.WARM_START)]
  best = [run.outputs[names.BEST_HYPERPARAMETERS].properties.get(names.BEST_HYPERPARAMETERS, {})
          if names.BEST_HYPERPARAMETERS in run.outputs else None for run in runs]
  for hyperparameter in sorted({name for values in best if values for name in values}):
    rows.append(_row(f'best hyperparameter {hyperparameter}',
                     [_text(values.get(hyperparameter)) if values is not None else None for values in best]))
  recorded = [{key: text for node in run.nodes for name, value in node.execution_properties.items()
               if name != names.EXECUTION_RESULT_PROPERTY
               for key, text in _flatten(f'{node.node_id}: {name}', value).items()} for run in runs]
  keys = sorted({key for settings in recorded for key in settings})
  # A cached execution records fewer properties (not ExampleGen's input fingerprint): compare what was recorded.
  differing = [_row(key, values, [value for value in values if value is not None])
               for key in keys for values in [[settings.get(key) for settings in recorded]]]
  rows += [row for row in differing if row.differs]
  same = len(differing) - sum(row.differs for row in differing)
  return Section('Settings', tuple(rows), f'The model, how its training went, and the recorded settings of each '
                                          f'component that differ; {same} recorded settings are the same in every '
                                          f'run and not shown.')


def _data(runs: Sequence[_Run]) -> Section:
  def accepted_in(split: str) -> Row:
    return _property_row(runs, f'rows accepted into {split}', names.EXAMPLES, names.accepted_rows_in(split))

  def drift(run: _Run) -> Optional[str]:
    if names.ANOMALIES not in run.outputs:
      return None
    return run.view.outcome.drift or 'none'

  def anomalies(counts: Optional[Dict[str, int]]) -> Optional[str]:
    if counts is None:
      return None
    return ', '.join(f'{split} {counts[split]}' for split in sorted(counts, key=artifact_contents.split_order))

  splits = sorted({split for run in runs if names.EXAMPLES in run.outputs
                   for split in json.loads(run.outputs[names.EXAMPLES].properties.get(names.SPLIT_NAMES) or '[]')},
                  key=artifact_contents.split_order)
  return Section('Data', tuple(
      [_property_row(runs, 'span', names.EXAMPLES, names.SPAN),
       _property_row(runs, 'input files', names.EXAMPLES, names.INPUT_FINGERPRINT),
       _property_row(runs, 'rows accepted', names.EXAMPLES, names.ACCEPTED_ROWS)]
      + [accepted_in(split) for split in splits]
      + [_property_row(runs, 'rows rejected', names.EXAMPLES, names.REJECTED_ROWS),
         _row('drift from the previous span', [drift(run) for run in runs]),
         _property_row(runs, 'schema anomalies per split', names.ANOMALIES, runs_lib.ANOMALIES_PER_SPLIT,
                       anomalies)]),
      'Rows are rejected before the split, so they are counted for the whole run.')


def _test_set_identity(run: _Run) -> Optional[Tuple[int, str]]:
  """(the Examples artifact the Evaluator read, what it was made from), or None without an evaluation.

  What it was made from: the input files' fingerprint (TFX's cache key: their sizes and modification times) and
  span, ExampleGen's recorded settings (input, split, checks and the code's fingerprint) and the test split's
  size. ExampleGen's split is a hash of each example, so two outputs made from the same of these hold the same
  test examples.
  """
  evaluator = run.node(names.EVALUATION)
  examples = next((artifact for artifact in evaluator.inputs if artifact.key == names.EXAMPLES),
                  None) if evaluator else None
  if examples is None:
    return None
  example_gen = run.node(names.EXAMPLES)
  # The fingerprint and span are on the artifact: a cached execution does not record them as properties.
  settings = {name: value for name, value in (example_gen.execution_properties if example_gen else {}).items()
              if name not in (names.SPAN, names.INPUT_FINGERPRINT, names.EXECUTION_RESULT_PROPERTY)}
  recipe = json.dumps([examples.properties.get(names.INPUT_FINGERPRINT), examples.properties.get(names.SPAN),
                       settings, examples.properties.get(names.accepted_rows_in(features.TEST_SPLIT))],
                      sort_keys=True)
  return examples.artifact_id, recipe


def _test_sets(runs: Sequence[_Run]) -> TestSets:
  identities = [_test_set_identity(run) for run in runs]
  missing = [run.run_id for run, identity in zip(runs, identities) if identity is None]
  if missing:
    return TestSets(False, f'Accuracies are not comparable: run {" and ".join(missing)} has no evaluation (it '
                           f'did not reach the Evaluator)')
  artifacts = {artifact_id for artifact_id, _ in identities}
  if len(artifacts) == 1:
    return TestSets(True, f'Same test set: every Evaluator read the same ExampleGen output (artifact '
                          f'{artifacts.pop()})')
  if len({recipe for _, recipe in identities}) == 1:
    return TestSets(True, 'Same test set: the ExampleGen outputs were made from the same input files with the '
                          'same settings')
  groups: Dict[str, List[str]] = {}
  for run, (_, recipe) in zip(runs, identities):
    groups.setdefault(recipe, []).append(run.run_id)
  return TestSets(False, 'Test sets differ: accuracies are not comparable (each test set: '
                  + '; '.join(f'run {" and ".join(group)}' for group in groups.values()) + ')')


def _gate(gate: gates.Gate) -> str:
  share = f'{gate.confidence:.0%} interval'
  if gate.kind == gates.CHANGE:
    return (f'{gate.value:+.4f} ({share} {gate.interval.low:+.4f} to {gate.interval.high:+.4f}, {gate.examples} '
            f'paired examples; may drop by at most {gate.bound:.4f}): {gate.verdict}')
  return (f'{gate.value:.4f} ({share} {gate.interval.low:.4f}-{gate.interval.high:.4f}, {gate.examples} examples; '
          f'minimum {gate.bound:.4f}): {gate.verdict}')


def _gates(runs: Sequence[_Run], test_sets: TestSets) -> Section:
  recorded = [run.gates for run in runs]
  keys = []
  for checked in recorded:
    keys += [(gate.kind, gate.slice) for gate in checked or () if (gate.kind, gate.slice) not in keys]
  rows = []
  for kind, slice_name in keys:
    found = [next((gate for gate in checked or () if (gate.kind, gate.slice) == (kind, slice_name)), None)
             for checked in recorded]
    texts = [_gate(gate) if gate else None for gate in found]
    rows.append(_row(f'{kind}, {slice_name}', texts, texts if test_sets.same else [True]))
  note = 'Each gate with its value, exact interval and verdict.'
  if not test_sets.same:
    note += ' Each run is gated on its own test set: not compared.'
  if any(checked is None for run, checked in zip(runs, recorded) if names.BLESSING in run.outputs):
    note += ' A run evaluated before the gates were recorded shows its reasons under Blessing and push only.'
  return Section('Blessing gates', tuple(rows), note)


def _paired_changes(runs: Sequence[_Run]) -> Iterable[PairedChange]:
  """Each run whose Evaluator measured another compared run's pushed model: its paired change per slice."""
  pushed: Dict[str, str] = {}
  for run in runs:  # oldest first: a later run whose model was already served names the same version
    if run.view.outcome.pushed_model_dir:
      pushed.setdefault(paths.canonical(run.view.outcome.pushed_model_dir), run.run_id)
  for run in runs:
    baseline = run.view.outcome.baseline_dir
    baseline_run = pushed.get(paths.canonical(baseline)) if baseline else None
    if baseline_run is None or baseline_run == run.run_id:
      continue
    for counts in run.recorded(names.EVALUATION, names.PAIRED_COUNTS, accuracy_intervals.PairedCounts) or ():
      yield PairedChange(counts.slice or OVERALL, run.run_id, baseline_run, counts,
                         counts.difference_interval(run.confidence), run.confidence)


def _paired_by_answers(runs: Sequence[_Run], measured: Sequence[PairedChange]) -> Iterable[PairedChange]:
  """Each later run against the oldest, paired example by example from the answers their Evaluators kept,
  unless the later run's Evaluator already measured the oldest run's model."""
  measured_pairs = {(change.candidate_run, change.baseline_run) for change in measured}
  first = runs[0]
  first_answers = _answers(first)
  if first_answers is None:
    return
  for run in runs[1:]:
    answers = None if (run.run_id, first.run_id) in measured_pairs else _answers(run)
    counted = test_answers.paired_counts(answers, first_answers) if answers is not None else None
    for counts in counted or ():
      yield PairedChange(counts.slice or OVERALL, run.run_id, first.run_id, counts,
                         counts.difference_interval(run.confidence), run.confidence)


def _answers(run: _Run) -> Optional[test_answers.TestAnswers]:
  evaluation = run.outputs.get(names.EVALUATION)
  return artifact_contents.test_answers_of(evaluation.uri) if evaluation else None


def _accuracy(counts: Optional[accuracy_intervals.SliceCounts], confidence: float) -> Optional[str]:
  """A slice's accuracy with its exact interval and sample size; None for a slice without examples."""
  if counts is None or not counts.examples:
    return None
  interval = accuracy_intervals.proportion_interval(counts.correct, counts.examples, confidence)
  return (f'{counts.accuracy:.4f} ({confidence:.0%} interval {interval.low:.4f}-{interval.high:.4f}, '
          f'{counts.examples} examples)')


def _slices(runs: Sequence[_Run], test_sets: TestSets, paired: Sequence[PairedChange]) -> Section:
  counted = [{counts.name: counts for counts in run.recorded(names.EVALUATION, names.SLICE_COUNTS,
                                                             accuracy_intervals.SliceCounts) or ()} for run in runs]
  slice_names = sorted({name for counts in counted for name in counts}, key=lambda name: (name != OVERALL, name))
  rows = []
  for slice_name in slice_names:
    texts = [_accuracy(counts.get(slice_name), run.confidence) for run, counts in zip(runs, counted)]
    rows.append(_row(slice_name, texts, texts if test_sets.same else [True]))
    for change in (change for change in paired if change.slice == slice_name):
      rows.append(Row(f'{slice_name}: paired change against run {change.baseline_run}',
                      tuple(change.describe() if run.run_id == change.candidate_run else None for run in runs),
                      change.counts.difference != 0))
  if not test_sets.same:
    note = 'Each run on its own test set: not compared.'
  elif paired:
    note = ('Exact (Clopper-Pearson) intervals; the paired change is McNemar\'s exact interval on the examples '
            'the two models disagree on.')
  else:
    note = ('Unpaired: the Evaluators kept no answers per example to pair (runs evaluated before they did), and '
            'no run\'s Evaluator measured another compared run\'s model; compare the exact (Clopper-Pearson) '
            'intervals.')
  if any(not counts for run, counts in zip(runs, counted) if names.EVALUATION in run.outputs):
    note += ' A run evaluated before the counts were recorded shows none: see its overall accuracy under Blessing.'
  return Section('Accuracy per slice', tuple(rows), note)


def _curves(runs: Sequence[_Run]) -> Dict[str, Dict[str, Dict[str, Curve]]]:
  """{metric: {run id: {series: points}}} from each Trainer's TensorBoard logs."""
  curves: Dict[str, Dict[str, Dict[str, Curve]]] = {}
  for run in runs:
    model_run = run.outputs.get(names.MODEL_RUN)
    for metric, series in (artifact_contents.training_curves(model_run.uri) if model_run else {}).items():
      curves.setdefault(metric, {})[run.run_id] = series
  return curves


def _training(runs: Sequence[_Run], curves: Dict[str, Dict[str, Dict[str, Curve]]]) -> Section:
  rows = []
  for metric, by_run in curves.items():
    series_names = sorted({name for series in by_run.values() for name in series})
    for name in series_names:
      rows.append(_row(f'{metric}, {name}, last epoch', [
          f'{by_run[run.run_id][name][-1][1]:.4f} (epoch {by_run[run.run_id][name][-1][0] + 1})'
          if name in by_run.get(run.run_id, {}) else None for run in runs]))
  return Section('Training', tuple(rows), 'The last value of each curve in the Trainer\'s TensorBoard logs.')


def _step_state(node: Optional[runs_lib.NodeView]) -> str:
  if node is None:
    return 'not run'
  return 'cached' if node.state == CACHED else 'executed' if node.state == 'COMPLETE' else node.state.lower()


def _steps(runs: Sequence[_Run]) -> Section:
  node_ids: List[str] = []
  for run in runs:
    node_ids += [node.node_id for node in run.nodes if node.node_id not in node_ids]
  rows = []
  for node_id in node_ids:
    found = [next((node for node in run.nodes if node.node_id == node_id), None) for run in runs]
    texts = []
    for node in found:
      reused = f' from run {node.reused_from}' if node and node.reused_from else ''
      texts.append(f'{_step_state(node)}{reused}, {node.duration_s:.1f} s' if node else 'not run')
    rows.append(_row(node_id, texts, [_step_state(node) for node in found]))
  return Section('Steps', tuple(rows), 'Each step\'s cache state and duration; a row is marked where the cache '
                                       'states differ.')


def _outcome(runs: Sequence[_Run], test_sets: TestSets) -> Section:
  def blessed(outcome: runs_lib.RunOutcome) -> Optional[str]:
    return None if outcome.blessed is None else 'yes' if outcome.blessed else 'no'

  def pushed(outcome: runs_lib.RunOutcome) -> Optional[str]:
    if outcome.pushed_version:
      return f'version {outcome.pushed_version}' + (' (already served)' if outcome.already_served else '')
    return f'not pushed: {outcome.push_refusal}' if outcome.push_refusal else None

  outcomes = [run.view.outcome for run in runs]
  accuracies = [None if outcome.accuracy is None else f'{outcome.accuracy:.4f}' for outcome in outcomes]
  return Section('Blessing and push', (
      _row('state', [run.view.state_text for run in runs]),
      _row('test accuracy', accuracies, accuracies if test_sets.same else [True]),
      _row('blessed', [blessed(outcome) for outcome in outcomes]),
      _row('why not', [' '.join(outcome.blessing_reasons) or None for outcome in outcomes]),
      _row('measured against', [None if outcome.blessed is None else outcome.baseline_dir or 'no model in production'
                                for outcome in outcomes]),
      _row('pushed', [pushed(outcome) for outcome in outcomes])))
