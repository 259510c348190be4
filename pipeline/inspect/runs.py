"""Queries over the run metadata (ML Metadata) that a local run leaves in its SQLite store."""
import dataclasses
import json
import os
import sqlite3
import time
import urllib.parse
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from components.reports import artifact_contents

PIPELINE_RUN_CONTEXT = 'pipeline_run'


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


@dataclasses.dataclass
class RunOutputs:
  """One pipeline run: its id and the artifacts its executions produced or reused, by output key.

  Output keys are the components' output names ('examples', 'transformed_examples', 'model', 'blessing',
  'evaluation', 'pushed_model', ...), which are unique within this pipeline's DAG.
  """
  run_id: str
  artifacts: Dict[str, List[metadata_store_pb2.Artifact]]

  def single(self, output_key: str) -> Optional[metadata_store_pb2.Artifact]:
    found = self.artifacts.get(output_key, [])
    return found[-1] if found else None


def newest_run_context(store: mlmd.MetadataStore) -> Optional[metadata_store_pb2.Context]:
  """The newest pipeline run's context, or None for an empty store."""
  runs = store.get_contexts_by_type(PIPELINE_RUN_CONTEXT)
  return max(runs, key=lambda context: (context.create_time_since_epoch, context.id)) if runs else None


def latest_run(store: mlmd.MetadataStore) -> Optional[RunOutputs]:
  """The newest pipeline run's output artifacts, cached ones included; None for an empty store."""
  run = newest_run_context(store)
  return None if run is None else run_outputs(store, run.name)


def run_outputs(store: mlmd.MetadataStore, run_id: str) -> RunOutputs:
  """One pipeline run's output artifacts, cached ones included."""
  executions = store.get_executions_by_context(_run_context(store, run_id).id)
  artifacts: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  for event, artifact in _outputs(store, [execution.id for execution in executions]):
    artifacts.setdefault(event.path.steps[0].key, []).append(artifact)
  return RunOutputs(run_id=run_id, artifacts=artifacts)


def _outputs(store: mlmd.MetadataStore, execution_ids: List[int]
             ) -> List[Tuple[metadata_store_pb2.Event, metadata_store_pb2.Artifact]]:
  """(output event, artifact) pairs of these executions, cached outputs included, in artifact id order."""
  events = [event for event in store.get_events_by_execution_ids(execution_ids)
            if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
  by_id = {artifact.id: artifact for artifact in store.get_artifacts_by_id(
      sorted({event.artifact_id for event in events}))}
  return [(event, by_id[event.artifact_id]) for event in sorted(events, key=lambda event: event.artifact_id)]


def int_property(artifact: metadata_store_pb2.Artifact, name: str) -> Optional[int]:
  value = artifact.custom_properties.get(name) or artifact.properties.get(name)
  return value.int_value if value is not None else None


def string_property(artifact: metadata_store_pb2.Artifact, name: str) -> Optional[str]:
  value = artifact.custom_properties.get(name) or artifact.properties.get(name)
  return value.string_value if value is not None else None


NODE_CONTEXT = 'node'
_STATE = metadata_store_pb2.Execution.State
_UNFINISHED = {'NEW', 'RUNNING', 'UNKNOWN'}
ABANDONED = 'ABANDONED'  # unfinished, and the process that ran it is gone: nothing will finish it
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
RUN_STATES = ('COMPLETE', 'FAILED', 'RUNNING', ABANDONED)
# Whether a run's process is gone (see pipeline/runners/run_process.py); by default no run is.
AbandonedCheck = Callable[[str], bool]
# Where TFX's launcher records why an execution failed (an ExecutionResult as JSON).
EXECUTION_RESULT_PROPERTY = '__execution_result__'
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

  @property
  def duration_s(self) -> float:
    return max(0, self.finished_ms - self.started_ms) / 1000

  @property
  def error(self) -> Optional[str]:
    """Why the execution failed, where the orchestrator recorded it (on Kubeflow; a local run logs it)."""
    result = self.execution_properties.get(EXECUTION_RESULT_PROPERTY)
    return json.loads(result).get('resultMessage') if result else None


@dataclasses.dataclass
class RunView:
  """A pipeline run, for the runs list: state, timing, and what became of the model."""
  run_id: str
  started_ms: int
  finished_ms: int
  state: str
  blessed: Optional[bool]
  pushed_version: Optional[str]
  accuracy: Optional[float]
  last_step: Optional[str] = None  # the last component the run reached
  last_step_state: Optional[str] = None

  @property
  def state_text(self) -> str:
    """The state, and for an abandoned run where it stopped: in a step, or after one (between two)."""
    if self.state != ABANDONED or not self.last_step:
      return self.state
    return f'{ABANDONED} {"at" if self.last_step_state == ABANDONED else "after"} {self.last_step}'

  @property
  def duration_s(self) -> float:
    return max(0, self.finished_ms - self.started_ms) / 1000


def _value(value: metadata_store_pb2.Value) -> Any:
  kind = value.WhichOneof('value')
  return getattr(value, kind) if kind in ('int_value', 'double_value', 'string_value', 'bool_value') else None


def _properties(item) -> Dict[str, Any]:
  properties = {name: _value(value) for name, value in item.properties.items()}
  properties.update({name: _value(value) for name, value in item.custom_properties.items()})
  return {name: value for name, value in sorted(properties.items()) if value is not None}


def artifact_properties(artifact: metadata_store_pb2.Artifact) -> Dict[str, Any]:
  return _properties(artifact)


def _file_details(type_name: str, uri: str) -> Dict[str, Any]:
  """What some artifacts keep in files rather than properties: anomalies per split, best hyperparameters."""
  if type_name == 'ExampleAnomalies':
    return {'anomalies_per_split': {split: len(found)
                                    for split, found in artifact_contents.anomalies(uri).items()}}
  if type_name == 'HyperParameters':
    values = artifact_contents.best_hyperparameters(uri)
    if values:
      return {'best_hyperparameters': values}
  return {}


def _node_state(execution: metadata_store_pb2.Execution, abandoned: bool) -> str:
  state = _STATE.Name(execution.last_known_state)
  return ABANDONED if abandoned and state in _UNFINISHED else state


def _run_state(states: Iterable[str], abandoned: bool) -> str:
  """FAILED if a step failed; else ABANDONED if the run's process is gone before it ended (even between
  two steps, when no step is left unfinished); else RUNNING while a step is unfinished; else COMPLETE."""
  states = set(states)
  if 'FAILED' in states:
    return 'FAILED'
  if abandoned:
    return ABANDONED
  if states & _UNFINISHED:
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
  nodes = []
  for execution in executions:
    node_inputs = inputs.get(execution.id, [])
    upstream = sorted({producers[artifact.artifact_id] for artifact in node_inputs
                       if producers.get(artifact.artifact_id)})
    nodes.append(NodeView(node_ids.get(execution.id, execution.type), _node_state(execution, abandoned),
                          execution.create_time_since_epoch, execution.last_update_time_since_epoch,
                          outputs.get(execution.id, []), node_inputs, _properties(execution), upstream))
  return nodes


def _run_view(run: metadata_store_pb2.Context, nodes: List[NodeView], abandoned: bool) -> RunView:
  by_key = {artifact.key: artifact for node in nodes for artifact in node.outputs}
  blessing, pushed, evaluation = by_key.get('blessing'), by_key.get('pushed_model'), by_key.get('evaluation')
  return RunView(
      run_id=run.name,
      started_ms=min([node.started_ms for node in nodes] or [run.create_time_since_epoch]),
      finished_ms=max([node.finished_ms for node in nodes] or [run.create_time_since_epoch]),
      state=_run_state((node.state for node in nodes), abandoned),
      blessed=None if blessing is None else blessing.properties.get('blessed') == 1,
      pushed_version=pushed.properties.get('pushed_version') if pushed else None,
      accuracy=evaluation.properties.get('accuracy') if evaluation else None,
      last_step=nodes[-1].node_id if nodes else None,
      last_step_state=nodes[-1].state if nodes else None)


def _never_abandoned(run_id: str) -> bool:
  return False


def run_view(store: mlmd.MetadataStore, run_id: str, is_abandoned: AbandonedCheck = _never_abandoned) -> RunView:
  abandoned = is_abandoned(run_id)
  return _run_view(_run_context(store, run_id), run_nodes(store, run_id, False, abandoned), abandoned)


def run_details(store: mlmd.MetadataStore, run_id: str, is_abandoned: AbandonedCheck = _never_abandoned
                ) -> Tuple[RunView, List[NodeView]]:
  """One run's summary and its components, read once (what artifacts keep in files included)."""
  run = _run_context(store, run_id)
  abandoned = is_abandoned(run_id)
  nodes = run_nodes(store, run_id, abandoned=abandoned)
  return _run_view(run, nodes, abandoned), nodes


def list_runs(store: mlmd.MetadataStore, state: Optional[str] = None, offset: int = 0,
              limit: Optional[int] = None, is_abandoned: AbandonedCheck = _never_abandoned
              ) -> Tuple[List[RunView], int]:
  """One page of the pipeline runs, newest first, and how many runs match `state` (None: all) in total.

  Only the page's runs are read in full, so a store with hundreds of runs lists quickly.
  """
  runs = sorted(store.get_contexts_by_type(PIPELINE_RUN_CONTEXT),
                key=lambda run: (run.create_time_since_epoch, run.name), reverse=True)
  if state:
    runs = [run for run in runs if _run_state(
        (_STATE.Name(execution.last_known_state) for execution in store.get_executions_by_context(run.id)),
        is_abandoned(run.name)) == state]
  page = runs[offset:None if limit is None else offset + limit]
  return [run_view(store, run.name, is_abandoned) for run in page], len(runs)


def pushed_versions(store: mlmd.MetadataStore) -> Dict[str, str]:
  """{pushed version directory: id of the run whose Pusher wrote it}."""
  pushed_type = next((artifact_type for artifact_type in store.get_artifact_types()
                      if artifact_type.name == 'PushedModel'), None)
  if pushed_type is None:
    return {}
  artifacts = {artifact.id: artifact for artifact in store.get_artifacts_by_type(pushed_type.name)
               if int_property(artifact, 'pushed') == 1}
  run_type = store.get_context_type(PIPELINE_RUN_CONTEXT).id
  result = {}
  # The first execution that output an artifact pushed it; later runs that cached the Pusher reuse it.
  for event in sorted(store.get_events_by_artifact_ids(list(artifacts)), key=lambda event: event.execution_id):
    destination = string_property(artifacts[event.artifact_id], 'pushed_destination')
    if event.type in _INPUT_EVENTS or not destination or destination in result:
      continue
    for context in store.get_contexts_by_execution(event.execution_id):
      if context.type_id == run_type:
        result[destination] = context.name
  return result
