"""The one way to read a pipeline run from its metadata (ML Metadata): its components (`run_nodes`), and
what it produced (`run_outcome`), for the local runner's summary, the CLI and the UI alike.

Read-only, and without TensorFlow or TFX: property names come from components/names.py.
"""
import dataclasses
import datetime
import json
import os
import sqlite3
import time
import urllib.parse
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import ml_metadata as mlmd
from google.protobuf import json_format
from ml_metadata.proto import metadata_store_pb2

from components import executor_settings
from components import names
from components import paths
from components.monitor import history
from components.reports import artifact_contents
from pipeline import run_process

_JSON_SINGLE_VALUE_KEY = '__value__'  # how TFX's Artifact wraps a JSON property that is not a mapping

PIPELINE_RUN_CONTEXT = 'pipeline_run'
PIPELINE_CONTEXT = 'pipeline'  # TFX makes it each run's parent context


def sqlite_connection_config(metadata_path: str, read_only: bool = False) -> metadata_store_pb2.ConnectionConfig:
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  config.sqlite.connection_mode = (metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if read_only else
                                   metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
  return config


class DamagedStoreError(ValueError):
  """The SQLite metadata store cannot be read; the message names it and says what to do."""


def check_store(metadata_path: str) -> None:
  """Raises DamagedStoreError when the store exists but SQLite finds it truncated or corrupt.

  A missing or empty file is not damaged: the first run creates it.
  """
  if not os.path.exists(metadata_path) or os.path.getsize(metadata_path) == 0:
    return
  try:
    connection = sqlite3.connect(f'file:{urllib.parse.quote(os.path.abspath(metadata_path))}?mode=ro', uri=True)
    try:
      problems = [row[0] for row in connection.execute('PRAGMA quick_check').fetchall() if row[0] != 'ok']
    finally:
      connection.close()
  except sqlite3.Error as error:
    problems = [str(error)]
  if problems:
    raise DamagedStoreError(
        f'the metadata store {metadata_path} is damaged ({problems[0]}): move it aside (mv {metadata_path} '
        f'{metadata_path}.damaged) and run again. Nothing else was touched: the pipeline root, the serving '
        f'folder and the logs stay, but the run history and the cache start over')


def open_store(metadata_path: str, read_only: bool = False) -> mlmd.MetadataStore:
  """The store of an existing run; `read_only` for readers beside a pipeline that may be writing to it."""
  if not os.path.exists(metadata_path) or (read_only and os.path.getsize(metadata_path) == 0):
    raise FileNotFoundError(f'no metadata store at {metadata_path}: run the pipeline first')
  check_store(metadata_path)
  return mlmd.MetadataStore(sqlite_connection_config(metadata_path, read_only))


def format_time(milliseconds: int) -> str:
  """A metadata timestamp (milliseconds since the epoch) in local time, to the second."""
  return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(milliseconds / 1000))


NODE_CONTEXT = 'node'
_STATE = metadata_store_pb2.Execution.State
_UNFINISHED = {'NEW', 'RUNNING', 'UNKNOWN'}
ABANDONED = 'ABANDONED'  # unfinished, and the process that ran it is gone: nothing will finish it
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
RUN_STATES = ('COMPLETE', 'FAILED', 'RUNNING', ABANDONED)
TRAINING, MONITORING = 'training', 'monitoring'  # `visionflow run`'s pipeline and `visionflow evaluate`'s
PIPELINES = (TRAINING, MONITORING)
# Whether a run's process is gone (see pipeline/run_process.py); by default no run is.
# A run's process, as pipeline/run_process.py:process_state reads it: RUNNING, ENDED, ABANDONED, or None (unknown).
ProcessState = Callable[[str], Optional[str]]
# What _file_details adds to an ExampleValidator's output: {split: how many anomalies}.
ANOMALIES_PER_SPLIT = 'anomalies_per_split'
# Properties every TFX artifact carries that say nothing about this run.
BOILERPLATE_PROPERTIES = frozenset({'tfx_version', 'is_external', 'state', 'name', 'producer_component',
                                    'type_name'})


@dataclasses.dataclass
class ArtifactView:
  """An artifact as people read it: its input or output key, type, URI, and its properties."""
  key: str
  type: str
  uri: str
  properties: Dict[str, Any]
  artifact_id: int = 0


@dataclasses.dataclass
class NodeView:
  """One component in one run: CACHED when the run reused an earlier execution's outputs.

  `upstream` names the components in this run whose outputs it read.
  """
  node_id: str
  state: str
  started_ms: int
  finished_ms: int
  outputs: List[ArtifactView]
  inputs: List[ArtifactView] = dataclasses.field(default_factory=list)
  execution_properties: Dict[str, Any] = dataclasses.field(default_factory=dict)
  upstream: List[str] = dataclasses.field(default_factory=list)
  reused_from: str = ''  # CACHED: the run whose execution produced the outputs this run reused

  @property
  def duration_s(self) -> float:
    return max(0, self.finished_ms - self.started_ms) / 1000

  def _result(self) -> Dict[str, Any]:
    result = self.execution_properties.get(names.EXECUTION_RESULT_PROPERTY)
    return json.loads(result) if result else {}

  @property
  def error(self) -> Optional[str]:
    """Why the execution failed, where the orchestrator recorded it (else the run's log has it)."""
    return self._result().get('resultMessage')

  @property
  def refused_rejects_uri(self) -> Optional[str]:
    """The rejects report of an ExampleGen that refused the data, as its failed execution records it."""
    for detail in self._result().get('metadataDetails', []):
      value = detail.get('value')
      if isinstance(value, dict) and value.get(names.REFUSED_REJECTS_URI):
        return value[names.REFUSED_REJECTS_URI]
    return None


@dataclasses.dataclass(frozen=True)
class RunOutcome:
  """What a run produced, from its artifacts' properties: the rows taken in, the verdict, and the push.

  None where the step that writes a value did not run (or, cached, wrote none).
  """
  accepted_rows: Optional[int] = None
  rejected_rows: Optional[int] = None
  rejects_uri: Optional[str] = None
  model_choice: Optional[str] = None      # the trained model's backbone, size and augmentation, and why
  training_outcome: Optional[str] = None  # the epochs it trained, the one it kept, and why training stopped
  warm_start: Optional[str] = None        # whether training started from production's weights, and why
  drift: Optional[str] = None             # the features that drifted from the previous span (drift: warn)
  accuracy: Optional[float] = None        # the candidate's overall test accuracy
  report_html: Optional[str] = None       # the Evaluator's report page
  report_details: Optional[str] = None    # its tables and charts, without the decision
  blessed: Optional[bool] = None
  blessing_reasons: Tuple[str, ...] = ()  # one sentence per failed gate
  baseline_dir: Optional[str] = None      # the model in production the candidate was measured against
  pushed_version: Optional[str] = None
  pushed_model_dir: Optional[str] = None
  push_refusal: Optional[str] = None      # why a blessed model was not pushed
  already_served: bool = False            # the pushed version held these bytes already: not copied again
  push_reused_from: str = ''              # the Pusher was cached: the run that pushed, not this one


def outputs_by_key(nodes: List[NodeView]) -> Dict[str, ArtifactView]:
  """A run's output artifacts by output key, which is unique within this pipeline's DAG."""
  return {artifact.key: artifact for node in nodes for artifact in node.outputs}


def describe_drift(drifts: List[Dict[str, Any]], previous_span: Optional[int]) -> Optional[str]:
  """The ExampleValidator's drifts in one line, as its `drift` property records them; None when there is none."""
  if not drifts:
    return None
  return (f'the data drifted from span {previous_span} (drift: warn, so the run went on): '
          + '; '.join(f'{drift["feature"]}: {drift["measure"]} distance {drift["value"]:.4f}, above '
                      f'{drift["threshold"]:.4f}' for drift in drifts))


def run_outcome(nodes: List[NodeView]) -> RunOutcome:
  outputs = outputs_by_key(nodes)
  values: Dict[str, Any] = {}
  examples = outputs.get(names.EXAMPLES)
  if examples:
    values.update(accepted_rows=examples.properties.get(names.ACCEPTED_ROWS),
                  rejected_rows=examples.properties.get(names.REJECTED_ROWS),
                  rejects_uri=examples.properties.get(names.REJECTS_URI))
  anomalies = outputs.get(names.ANOMALIES)
  if anomalies:
    values.update(drift=describe_drift(anomalies.properties.get(names.DRIFT) or [],
                                       anomalies.properties.get(names.DRIFT_PREVIOUS_SPAN)))
  model = outputs.get(names.MODEL)
  if model:
    values.update(model_choice=model.properties.get(names.MODEL_CHOICE),
                  training_outcome=model.properties.get(names.TRAINING_OUTCOME),
                  warm_start=model.properties.get(names.WARM_START))
  evaluation = outputs.get(names.EVALUATION)
  if evaluation:
    values.update(accuracy=evaluation.properties.get(names.ACCURACY),
                  report_html=evaluation.properties.get(names.REPORT_HTML),
                  report_details=evaluation.properties.get(names.REPORT_DETAILS))
  blessing = outputs.get(names.BLESSING)
  if blessing:
    values.update(blessed=blessing.properties.get(names.BLESSED) == 1,
                  blessing_reasons=tuple(json.loads(blessing.properties.get(names.BLESSING_REASONS) or '[]')),
                  baseline_dir=blessing.properties.get(names.BASELINE_VERSION_DIR) or None)
  pushed = outputs.get(names.PUSHED_MODEL)
  if pushed:
    is_pushed = pushed.properties.get(names.PUSHED) == 1
    values.update(pushed_version=pushed.properties.get(names.PUSHED_VERSION) if is_pushed else None,
                  pushed_model_dir=pushed.properties.get(names.PUSHED_DESTINATION) if is_pushed else None,
                  push_refusal=pushed.properties.get(names.NOT_PUSHED_REASON) or None,
                  already_served=bool(pushed.properties.get(names.ALREADY_SERVED)))
  pusher = next((node for node in nodes if any(artifact.key == names.PUSHED_MODEL for artifact in node.outputs)),
                None)
  if pusher is not None and pusher.reused_from:
    values.update(push_reused_from=pusher.reused_from)
  return RunOutcome(**values)


@dataclasses.dataclass
class RunView:
  """A pipeline run, for the runs list: state, timing, and what became of the model."""
  run_id: str
  started_ms: int
  finished_ms: int
  state: str
  outcome: RunOutcome
  last_step: Optional[str] = None  # the last component the run reached
  last_step_state: Optional[str] = None
  pipeline: str = ''  # TRAINING or MONITORING; '' where the store names no pipeline for the run

  @property
  def state_text(self) -> str:
    """The state, and for a running or abandoned run where it is (or stopped): in a step, or after one
    (between two)."""
    if self.state not in ('RUNNING', ABANDONED) or not self.last_step:
      return self.state
    inside = self.last_step_state in _UNFINISHED or self.last_step_state == ABANDONED
    return f'{self.state} {"at" if inside else "after"} {self.last_step}'

  @property
  def duration_s(self) -> float:
    return max(0, self.finished_ms - self.started_ms) / 1000


def _value(value: metadata_store_pb2.Value) -> Any:
  kind = value.WhichOneof('value')
  if kind == 'struct_value':  # TFX's JSON-valued property: a mapping, or one value wrapped in one
    decoded = _whole_numbers(json_format.MessageToDict(value.struct_value))
    return decoded[_JSON_SINGLE_VALUE_KEY] if set(decoded) == {_JSON_SINGLE_VALUE_KEY} else decoded
  return getattr(value, kind) if kind in ('int_value', 'double_value', 'string_value', 'bool_value') else None


def _whole_numbers(value: Any) -> Any:
  """A Struct holds every number as a double: counts and sizes come back as the integers they were."""
  if isinstance(value, dict):
    return {key: _whole_numbers(item) for key, item in value.items()}
  if isinstance(value, list):
    return [_whole_numbers(item) for item in value]
  return int(value) if isinstance(value, float) and value.is_integer() else value


def _properties(item) -> Dict[str, Any]:
  properties = {name: _value(value) for name, value in item.properties.items()}
  properties.update({name: _value(value) for name, value in item.custom_properties.items()})
  return {name: value for name, value in sorted(properties.items()) if value is not None}


def artifact_properties(artifact: metadata_store_pb2.Artifact) -> Dict[str, Any]:
  return _properties(artifact)


def _file_details(type_name: str, uri: str) -> Dict[str, Any]:
  """What some artifacts keep in files rather than properties: anomalies per split, best hyperparameters."""
  if type_name == 'ExampleAnomalies':
    return {ANOMALIES_PER_SPLIT: {split: len(found)
                                  for split, found in artifact_contents.anomalies(uri).items()}}
  if type_name == 'HyperParameters':
    values = artifact_contents.best_hyperparameters(uri)
    if values:
      return {names.BEST_HYPERPARAMETERS: values}
  return {}


def _node_state(execution: metadata_store_pb2.Execution, abandoned: bool) -> str:
  state = _STATE.Name(execution.last_known_state)
  return ABANDONED if abandoned and state in _UNFINISHED else state


def _run_state(states: Iterable[str], process: Optional[str]) -> str:
  """FAILED if a step failed; else ABANDONED if the run's process is gone before it ended (even between
  two steps, when no step is left unfinished); else RUNNING while a step is unfinished or its process goes on
  (between two steps); else COMPLETE."""
  states = set(states)
  if 'FAILED' in states:
    return 'FAILED'
  if process == run_process.ABANDONED:
    return ABANDONED
  if states & _UNFINISHED or process == run_process.RUNNING:
    return 'RUNNING'
  return 'COMPLETE'


def _node_ids(store: mlmd.MetadataStore, execution_ids: List[int]) -> Dict[int, str]:
  node_type = store.get_context_type(NODE_CONTEXT).id
  result = {}
  for execution_id in execution_ids:
    for context in store.get_contexts_by_execution(execution_id):
      if context.type_id == node_type:
        result[execution_id] = context.name.split('.')[-1]
  return result


def _run_context(store: mlmd.MetadataStore, run_id: str) -> metadata_store_pb2.Context:
  run = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
  if run is None:
    raise ValueError(f'no run {run_id!r} in the metadata store (see `visionflow runs`)')
  return run


def run_nodes(store: mlmd.MetadataStore, run_id: str, with_files: bool = True,
              abandoned: bool = False) -> List[NodeView]:
  """The components of one run in execution order, with state, timing, inputs and outputs.

  `with_files` adds what some artifacts keep in files (anomaly counts, best hyperparameters);
  `abandoned` (the run's process is gone) shows an unfinished component as ABANDONED.
  """
  executions = sorted(store.get_executions_by_context(_run_context(store, run_id).id),
                      key=lambda execution: execution.id)
  ids = [execution.id for execution in executions]
  node_ids = _node_ids(store, ids)
  type_names = {artifact_type.id: artifact_type.name for artifact_type in store.get_artifact_types()}
  events = store.get_events_by_execution_ids(ids)
  artifacts = {artifact.id: artifact for artifact in store.get_artifacts_by_id(
      sorted({event.artifact_id for event in events}))}
  producers = {event.artifact_id: node_ids.get(event.execution_id) for event in events
               if event.type not in _INPUT_EVENTS}
  inputs: Dict[int, List[ArtifactView]] = {}
  outputs: Dict[int, List[ArtifactView]] = {}
  for event in sorted(events, key=lambda event: event.artifact_id):
    artifact = artifacts[event.artifact_id]
    type_name = type_names.get(artifact.type_id, '')
    properties = artifact_properties(artifact)
    is_input = event.type in _INPUT_EVENTS
    if with_files and not is_input:
      properties.update(_file_details(type_name, artifact.uri))
    (inputs if is_input else outputs).setdefault(event.execution_id, []).append(
        ArtifactView(event.path.steps[0].key, type_name, artifact.uri, properties, artifact.id))
  cached = {execution.id: [artifact.artifact_id for artifact in outputs.get(execution.id, [])]
            for execution in executions if _node_state(execution, abandoned) == 'CACHED'}
  origins = _origin_runs(store, cached)
  nodes = []
  for execution in executions:
    node_inputs = inputs.get(execution.id, [])
    upstream = sorted({producers[artifact.artifact_id] for artifact in node_inputs
                       if producers.get(artifact.artifact_id)})
    nodes.append(NodeView(node_ids.get(execution.id, execution.type), _node_state(execution, abandoned),
                          execution.create_time_since_epoch, execution.last_update_time_since_epoch,
                          outputs.get(execution.id, []), node_inputs, _properties(execution), upstream,
                          origins.get(execution.id, '')))
  return nodes


def _origin_runs(store: mlmd.MetadataStore, cached: Dict[int, List[int]]) -> Dict[int, str]:
  """{cached execution id: the run of the first execution that output its artifacts}."""
  artifact_ids = sorted({artifact_id for ids in cached.values() for artifact_id in ids})
  if not artifact_ids:
    return {}
  first_producer: Dict[int, int] = {}
  for event in store.get_events_by_artifact_ids(artifact_ids):
    if event.type not in _INPUT_EVENTS:
      first_producer[event.artifact_id] = min(first_producer.get(event.artifact_id, event.execution_id),
                                              event.execution_id)
  run_type = store.get_context_type(PIPELINE_RUN_CONTEXT).id
  runs: Dict[int, str] = {}
  for producer in sorted(set(first_producer.values())):
    runs[producer] = next((context.name for context in store.get_contexts_by_execution(producer)
                           if context.type_id == run_type), '')
  return {execution_id: runs[min(first_producer[artifact_id] for artifact_id in ids)]
          for execution_id, ids in cached.items() if ids and all(i in first_producer for i in ids)}


def _pipeline_kind(pipeline_name: str) -> str:
  """TRAINING or MONITORING, from the name of the pipeline a run belongs to."""
  return MONITORING if pipeline_name.endswith(names.MONITORING_PIPELINE_SUFFIX) else TRAINING


def _pipeline_of(store: mlmd.MetadataStore, run: metadata_store_pb2.Context) -> str:
  """TRAINING or MONITORING for one run; '' where the store records no pipeline for it."""
  return next((_pipeline_kind(parent.name) for parent in store.get_parent_contexts_by_context(run.id)
               if parent.type == PIPELINE_CONTEXT), '')


def _pipelines_of_runs(store: mlmd.MetadataStore) -> Dict[int, str]:
  """{run context id: TRAINING or MONITORING} for every run whose pipeline the store records."""
  return {run.id: _pipeline_kind(pipeline.name) for pipeline in store.get_contexts_by_type(PIPELINE_CONTEXT)
          for run in store.get_children_contexts_by_context(pipeline.id)}


def _run_view(store: mlmd.MetadataStore, run: metadata_store_pb2.Context, nodes: List[NodeView],
              process: Optional[str]) -> RunView:
  return RunView(
      run_id=run.name,
      started_ms=min([node.started_ms for node in nodes] or [run.create_time_since_epoch]),
      finished_ms=max([node.finished_ms for node in nodes] or [run.create_time_since_epoch]),
      state=_run_state((node.state for node in nodes), process),
      outcome=run_outcome(nodes),
      last_step=nodes[-1].node_id if nodes else None,
      last_step_state=nodes[-1].state if nodes else None,
      pipeline=_pipeline_of(store, run))


def newest_run_id(store: mlmd.MetadataStore) -> Optional[str]:
  """The newest pipeline run's id, or None for an empty store."""
  runs = store.get_contexts_by_type(PIPELINE_RUN_CONTEXT)
  return max(runs, key=lambda context: (context.create_time_since_epoch, context.id)).name if runs else None


def _no_process_known(run_id: str) -> Optional[str]:
  return None


def run_view(store: mlmd.MetadataStore, run_id: str, process_state: ProcessState = _no_process_known) -> RunView:
  process = process_state(run_id)
  return _run_view(store, _run_context(store, run_id),
                   run_nodes(store, run_id, False, process == run_process.ABANDONED), process)


def run_details(store: mlmd.MetadataStore, run_id: str, process_state: ProcessState = _no_process_known
                ) -> Tuple[RunView, List[NodeView]]:
  """One run's summary and its components, read once (what artifacts keep in files included)."""
  run = _run_context(store, run_id)
  process = process_state(run_id)
  nodes = run_nodes(store, run_id, abandoned=process == run_process.ABANDONED)
  return _run_view(store, run, nodes, process), nodes


_ANSWERS = {'': None, 'yes': True, 'no': False}
_WORDS = {answer: word for word, answer in _ANSWERS.items()}


def _yes_no(name: str, text: str) -> Optional[bool]:
  if text.lower() not in _ANSWERS:
    raise ValueError(f'{name} {text!r}: choose yes or no')
  return _ANSWERS[text.lower()]


def _day(name: str, text: str) -> Optional[datetime.date]:
  try:
    return datetime.date.fromisoformat(text) if text else None
  except ValueError:
    raise ValueError(f'{name} {text!r} is not a date: give it as YYYY-MM-DD') from None


@dataclasses.dataclass(frozen=True)
class RunFilter:
  """Which runs a listing shows, for `visionflow runs`' flags and the UI's query alike; None admits any run.

  `parse` reads it from text and raises ValueError, in one line, for a value it does not know.
  """
  pipeline: Optional[str] = None         # TRAINING or MONITORING
  state: Optional[str] = None            # one of RUN_STATES
  blessed: Optional[bool] = None         # True: the Evaluator blessed the model; False: it refused it
  pushed: Optional[bool] = None          # True: the runs list shows a pushed version; False: it shows none
  since: Optional[datetime.date] = None  # started on this day (local time) or later
  until: Optional[datetime.date] = None  # started on this day or earlier

  @classmethod
  def parse(cls, pipeline: str = '', state: str = '', blessed: str = '', pushed: str = '', since: str = '',
            until: str = '') -> 'RunFilter':
    """From text as `as_text` writes it: '' admits any; case does not matter; days are YYYY-MM-DD."""
    if pipeline and pipeline.lower() not in PIPELINES:
      raise ValueError(f'no pipeline {pipeline!r}: choose one of {", ".join(PIPELINES)}')
    if state and state.upper() not in RUN_STATES:
      raise ValueError(f'no run state {state!r}: choose one of {", ".join(RUN_STATES).lower()}')
    parsed = cls(pipeline=pipeline.lower() or None, state=state.upper() or None,
                 blessed=_yes_no('blessed', blessed), pushed=_yes_no('pushed', pushed),
                 since=_day('since', since), until=_day('until', until))
    if parsed.since and parsed.until and parsed.since > parsed.until:
      raise ValueError(f'since {parsed.since} is after until {parsed.until}: no run can match')
    return parsed

  def as_text(self) -> Dict[str, str]:
    """{field: its text, '' for any}: what `parse` reads back, for the UI's form and links."""
    return {'pipeline': self.pipeline or '', 'state': (self.state or '').lower(),
            'blessed': _WORDS[self.blessed], 'pushed': _WORDS[self.pushed],
            'since': self.since.isoformat() if self.since else '',
            'until': self.until.isoformat() if self.until else ''}

  def describe(self) -> str:
    """The filter in words, as in '3 runs failed, monitoring, since 2026-12-01'; '' for none."""
    words = [(self.state or '').lower(), self.pipeline or '',
             {None: '', True: 'blessed', False: 'not blessed'}[self.blessed],
             {None: '', True: 'pushed', False: 'not pushed'}[self.pushed],
             f'since {self.since}' if self.since else '', f'until {self.until}' if self.until else '']
    return ', '.join(word for word in words if word)

  def admits_start(self, started_ms: int) -> bool:
    day = datetime.date.fromtimestamp(started_ms / 1000)
    return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

  def admits_outcome(self, outcome: RunOutcome) -> bool:
    return ((self.blessed is None or outcome.blessed == self.blessed)
            and (self.pushed is None or (outcome.pushed_version is not None) == self.pushed))


def list_runs(store: mlmd.MetadataStore, run_filter: Optional[RunFilter] = None, offset: int = 0,
              limit: Optional[int] = None, process_state: ProcessState = _no_process_known
              ) -> Tuple[List[RunView], int]:
  """One page of the runs `run_filter` admits (None: all), newest first, and how many it admits in total.

  Only the page's runs are read in full, so a store with hundreds of runs lists quickly; a filter on the
  blessing or the push reads every run that the other filters admit (about 2 ms each).
  """
  run_filter = run_filter or RunFilter()
  runs = sorted(store.get_contexts_by_type(PIPELINE_RUN_CONTEXT),
                key=lambda run: (run.create_time_since_epoch, run.name), reverse=True)
  if run_filter.pipeline:
    pipelines = _pipelines_of_runs(store)
    runs = [run for run in runs if pipelines.get(run.id) == run_filter.pipeline]
  runs = [run for run in runs if run_filter.admits_start(run.create_time_since_epoch)]
  if run_filter.state:
    runs = [run for run in runs if _run_state(
        (_STATE.Name(execution.last_known_state) for execution in store.get_executions_by_context(run.id)),
        process_state(run.name)) == run_filter.state]
  end = None if limit is None else offset + limit
  if run_filter.blessed is None and run_filter.pushed is None:
    return [run_view(store, run.name, process_state) for run in runs[offset:end]], len(runs)
  views = [view for view in (run_view(store, run.name, process_state) for run in runs)
           if run_filter.admits_outcome(view.outcome)]
  return views[offset:end], len(views)


@dataclasses.dataclass(frozen=True)
class ProductionMeasurement:
  """One `visionflow evaluate` of the model in production: when, which model, each slice, the alerts."""
  run_id: str
  measured_at: str
  model: str
  slices: Dict[str, history.SliceAccuracy]
  alerts: Tuple[str, ...]
  rules: Optional[history.AlertRules]  # None where the measurement records none


def production_measurements(store: mlmd.MetadataStore) -> List[ProductionMeasurement]:
  """Every measurement of the model in production the store holds, newest first."""
  if not any(artifact_type.name == 'ModelEvaluation' for artifact_type in store.get_artifact_types()):
    return []
  measured = {artifact.id: properties for artifact in store.get_artifacts_by_type('ModelEvaluation')
              for properties in [_properties(artifact)] if names.MONITORED_AT in properties}
  run_type = store.get_context_type(PIPELINE_RUN_CONTEXT).id
  found = []
  for event in store.get_events_by_artifact_ids(list(measured)):
    if event.type in _INPUT_EVENTS:
      continue
    properties = measured[event.artifact_id]
    run_id = next((context.name for context in store.get_contexts_by_execution(event.execution_id)
                   if context.type_id == run_type), '')
    rules = properties.get(names.ALERT_RULES)
    found.append(ProductionMeasurement(
        run_id=run_id, measured_at=properties[names.MONITORED_AT], model=properties[names.MONITORED_MODEL],
        slices={name: executor_settings.from_json_dict(history.SliceAccuracy, value)
                for name, value in (properties.get(names.SLICE_ACCURACY) or {}).items()},
        alerts=tuple(properties.get(names.ALERTS) or ()),
        rules=executor_settings.from_json_dict(history.AlertRules, rules) if rules else None))
  return sorted(found, key=lambda measurement: measurement.measured_at, reverse=True)


def pushed_versions(store: mlmd.MetadataStore) -> Dict[str, str]:
  """{pushed version directory, canonical (components/paths.canonical), so that any spelling of it can be looked
  up: id of the run whose Pusher wrote it}."""
  pushed_type = next((artifact_type for artifact_type in store.get_artifact_types()
                      if artifact_type.name == 'PushedModel'), None)
  if pushed_type is None:
    return {}
  destinations = {artifact.id: paths.canonical(properties[names.PUSHED_DESTINATION])
                  for artifact in store.get_artifacts_by_type(pushed_type.name)
                  for properties in [_properties(artifact)]
                  if properties.get(names.PUSHED) == 1 and properties.get(names.PUSHED_DESTINATION)}
  run_type = store.get_context_type(PIPELINE_RUN_CONTEXT).id
  result = {}
  # The first execution that output an artifact pushed it; later runs that cached the Pusher reuse it.
  for event in sorted(store.get_events_by_artifact_ids(list(destinations)), key=lambda event: event.execution_id):
    destination = destinations[event.artifact_id]
    if event.type in _INPUT_EVENTS or destination in result:
      continue
    for context in store.get_contexts_by_execution(event.execution_id):
      if context.type_id == run_type:
        result[destination] = context.name
  return result


def is_input(event: metadata_store_pb2.Event) -> bool:
  """Whether the event records an execution reading its artifact; any other event records one writing it (a
  cached execution writes its origin's artifacts again)."""
  return event.type in _INPUT_EVENTS
