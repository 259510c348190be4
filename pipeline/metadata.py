"""Queries over the run metadata (ML Metadata) that a local run leaves in its SQLite store."""
import dataclasses
import glob
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import anomalies_pb2

PIPELINE_RUN_CONTEXT = 'pipeline_run'


def sqlite_connection_config(metadata_path: str) -> metadata_store_pb2.ConnectionConfig:
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
  return config


def open_store(metadata_path: str) -> mlmd.MetadataStore:
  if not os.path.exists(metadata_path):
    raise FileNotFoundError(f'no metadata store at {metadata_path}: run the pipeline first')
  return mlmd.MetadataStore(sqlite_connection_config(metadata_path))


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
  if run is None:
    return None
  executions = store.get_executions_by_context(run.id)
  artifacts: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  for event, artifact in _outputs(store, [execution.id for execution in executions]):
    artifacts.setdefault(event.path.steps[0].key, []).append(artifact)
  return RunOutputs(run_id=run.name, artifacts=artifacts)


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
_UNFINISHED = {_STATE.NEW, _STATE.RUNNING, _STATE.UNKNOWN}


@dataclasses.dataclass
class ArtifactView:
  """An output artifact as people read it: its output key, type, URI, and its properties."""
  key: str
  type: str
  uri: str
  properties: Dict[str, Any]


@dataclasses.dataclass
class NodeView:
  """One component in one run: CACHED when the run reused an earlier execution's outputs."""
  node_id: str
  state: str
  started_ms: int
  finished_ms: int
  outputs: List[ArtifactView]

  @property
  def duration_s(self) -> float:
    return max(0, self.finished_ms - self.started_ms) / 1000


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

  @property
  def duration_s(self) -> float:
    return max(0, self.finished_ms - self.started_ms) / 1000


def _value(value: metadata_store_pb2.Value) -> Any:
  kind = value.WhichOneof('value')
  return getattr(value, kind) if kind in ('int_value', 'double_value', 'string_value', 'bool_value') else None


def artifact_properties(artifact: metadata_store_pb2.Artifact) -> Dict[str, Any]:
  properties = {name: _value(value) for name, value in artifact.properties.items()}
  properties.update({name: _value(value) for name, value in artifact.custom_properties.items()})
  return {name: value for name, value in sorted(properties.items()) if value is not None}


def _glob(pattern: str) -> List[str]:
  """Local paths without importing TensorFlow (seconds); gs:// and other file systems through tf.io.gfile."""
  if '://' not in pattern:
    return sorted(glob.glob(pattern))
  import tensorflow as tf
  return sorted(tf.io.gfile.glob(pattern))


def _read(path: str) -> bytes:
  if '://' not in path:
    with open(path, 'rb') as handle:
      return handle.read()
  import tensorflow as tf
  with tf.io.gfile.GFile(path, 'rb') as handle:
    return handle.read()


def _file_details(type_name: str, uri: str) -> Dict[str, Any]:
  """What some artifacts keep in files rather than properties: anomalies per split, best hyperparameters."""
  if type_name == 'ExampleAnomalies':
    return {'anomalies_per_split': {
        os.path.basename(os.path.dirname(path))[len('Split-'):]:
            len(anomalies_pb2.Anomalies.FromString(_read(path)).anomaly_info)
        for path in _glob(os.path.join(uri, 'Split-*', 'SchemaDiff.pb'))}}
  if type_name == 'HyperParameters':
    paths = _glob(os.path.join(uri, 'best_hyperparameters.txt'))
    if paths:
      return {'best_hyperparameters': json.loads(_read(paths[0])).get('values', {})}
  return {}


def _run_state(states: Iterable[int]) -> str:
  states = set(states)
  if _STATE.FAILED in states:
    return 'FAILED'
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


def run_nodes(store: mlmd.MetadataStore, run_id: str, with_files: bool = True) -> List[NodeView]:
  """The components of one run in execution order, with state, timing and output artifacts.

  `with_files` adds what some artifacts keep in files (anomaly counts, best hyperparameters).
  """
  run = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
  if run is None:
    raise ValueError(f'no run {run_id!r} in the metadata store (see `visionflow runs`)')
  executions = sorted(store.get_executions_by_context(run.id), key=lambda execution: execution.id)
  ids = [execution.id for execution in executions]
  node_ids = _node_ids(store, ids)
  type_names = {artifact_type.id: artifact_type.name for artifact_type in store.get_artifact_types()}
  outputs: Dict[int, List[ArtifactView]] = {}
  for event, artifact in _outputs(store, ids):
    type_name = type_names.get(artifact.type_id, '')
    properties = artifact_properties(artifact)
    if with_files:
      properties.update(_file_details(type_name, artifact.uri))
    outputs.setdefault(event.execution_id, []).append(
        ArtifactView(event.path.steps[0].key, type_name, artifact.uri, properties))
  return [NodeView(node_ids.get(execution.id, execution.type), _STATE.Name(execution.last_known_state),
                   execution.create_time_since_epoch, execution.last_update_time_since_epoch,
                   outputs.get(execution.id, [])) for execution in executions]


def list_runs(store: mlmd.MetadataStore) -> List[RunView]:
  """Every pipeline run in the store, newest first."""
  views = []
  for run in store.get_contexts_by_type(PIPELINE_RUN_CONTEXT):
    nodes = run_nodes(store, run.name, with_files=False)
    by_key = {artifact.key: artifact for node in nodes for artifact in node.outputs}
    blessing, pushed, evaluation = by_key.get('blessing'), by_key.get('pushed_model'), by_key.get('evaluation')
    views.append(RunView(
        run_id=run.name,
        started_ms=min([node.started_ms for node in nodes] or [run.create_time_since_epoch]),
        finished_ms=max([node.finished_ms for node in nodes] or [run.create_time_since_epoch]),
        state=_run_state(node_state for node_state in (_STATE.Value(node.state) for node in nodes)),
        blessed=None if blessing is None else blessing.properties.get('blessed') == 1,
        pushed_version=pushed.properties.get('pushed_version') if pushed else None,
        accuracy=evaluation.properties.get('accuracy') if evaluation else None))
  return sorted(views, key=lambda view: (view.started_ms, view.run_id), reverse=True)
