"""Runs written into an ML Metadata SQLite store through its own API, as TFX's LocalDagRunner records them: each
execution in its pipeline's, its run's and its node's context, the run a child of the pipeline, each output
artifact under its output key, each input under the key it is read as, and a cached execution writing the
artifacts of the execution it reused again."""
import dataclasses
from typing import Dict, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from components import names
from pipeline.inspect import runs as runs_lib

ARTIFACT_TYPES = {names.EXAMPLES: 'Examples', names.TRANSFORM_GRAPH: 'TransformGraph', names.MODEL: 'Model',
                  names.BLESSING: 'ModelBlessing', names.PUSHED_MODEL: 'PushedModel',
                  names.EVALUATION: 'ModelEvaluation'}


@dataclasses.dataclass(frozen=True)
class Step:
  """One component's execution: its state and {output key: the output artifact's properties}.

  `inputs`: the output keys of the run's earlier steps that it reads; `properties`: its execution properties;
  `reused_from`: for a CACHED step, the run whose execution of the same component it reused.
  """
  node_id: str
  state: str = 'COMPLETE'
  outputs: Dict[str, Dict[str, object]] = dataclasses.field(default_factory=dict)
  inputs: Tuple[str, ...] = ()
  properties: Dict[str, object] = dataclasses.field(default_factory=dict)
  reused_from: str = ''


def blessed(is_blessed: bool) -> Step:
  return Step('Evaluator', outputs={names.BLESSING: {names.BLESSED: int(is_blessed)}})


def pushed(version: str = '', model_dir: str = '') -> Step:
  """The Pusher: it pushed `version` (into the folder `model_dir`, where given), or, without one, pushed nothing."""
  properties = {names.PUSHED: 1, names.PUSHED_VERSION: version} if version else {names.PUSHED: 0}
  if version and model_dir:
    properties[names.PUSHED_DESTINATION] = f'{model_dir}/{version}'
  return Step('Pusher', outputs={names.PUSHED_MODEL: properties})


def _value(value: object) -> metadata_store_pb2.Value:
  if isinstance(value, int):
    return metadata_store_pb2.Value(int_value=value)
  if isinstance(value, float):
    return metadata_store_pb2.Value(double_value=value)
  return metadata_store_pb2.Value(string_value=str(value))


def add_run(metadata_path: str, pipeline_name: str, run_id: str, steps: Tuple[Step, ...]) -> None:
  """Writes one run of the pipeline `pipeline_name` into the store at metadata_path (created if missing)."""
  store = mlmd.MetadataStore(runs_lib.sqlite_connection_config(metadata_path))
  pipeline_type, run_type, node_type = (
      store.put_context_type(metadata_store_pb2.ContextType(name=name))
      for name in (runs_lib.PIPELINE_CONTEXT, runs_lib.PIPELINE_RUN_CONTEXT, runs_lib.NODE_CONTEXT))
  pipeline = _context(store, pipeline_type, runs_lib.PIPELINE_CONTEXT, pipeline_name)
  run = _context(store, run_type, runs_lib.PIPELINE_RUN_CONTEXT, run_id)
  store.put_parent_contexts([metadata_store_pb2.ParentContext(child_id=run.id, parent_id=pipeline.id)])
  made: Dict[str, metadata_store_pb2.Artifact] = {}  # this run's artifacts by output key
  for step in steps:
    node = _context(store, node_type, runs_lib.NODE_CONTEXT, f'{pipeline_name}.{step.node_id}')
    execution = metadata_store_pb2.Execution(
        type_id=store.put_execution_type(metadata_store_pb2.ExecutionType(name=step.node_id)),
        last_known_state=metadata_store_pb2.Execution.State.Value(step.state))
    for name, value in step.properties.items():
      execution.custom_properties[name].CopyFrom(_value(value))
    outputs = [(artifact, _event(metadata_store_pb2.Event.OUTPUT, key))
               for key, artifact in (_outputs_of(store, step.reused_from, node) if step.reused_from else {}).items()]
    for key, properties in step.outputs.items():
      artifact = metadata_store_pb2.Artifact(
          type_id=store.put_artifact_type(metadata_store_pb2.ArtifactType(name=ARTIFACT_TYPES[key])),
          uri=f'/pipeline_root/{step.node_id}/{key}/{run_id}')
      for name, value in properties.items():
        artifact.custom_properties[name].CopyFrom(_value(value))
      outputs.append((artifact, _event(metadata_store_pb2.Event.OUTPUT, key)))
    inputs = [(made[key], _event(metadata_store_pb2.Event.INPUT, key)) for key in step.inputs]
    _, artifact_ids, _ = store.put_execution(execution, artifact_and_events=inputs + outputs,
                                             contexts=[pipeline, run, node])
    for (artifact, event), artifact_id in zip(inputs + outputs, artifact_ids):
      artifact.id = artifact_id
      if event.type == metadata_store_pb2.Event.OUTPUT:
        made[event.path.steps[0].key] = artifact


def _event(event_type: int, key: str) -> metadata_store_pb2.Event:
  event = metadata_store_pb2.Event(type=event_type)
  event.path.steps.add().key = key
  return event


def _outputs_of(store: mlmd.MetadataStore, run_id: str, node: metadata_store_pb2.Context
                ) -> Dict[str, metadata_store_pb2.Artifact]:
  """{output key: artifact} of the run's execution of the node."""
  run = store.get_context_by_type_and_name(runs_lib.PIPELINE_RUN_CONTEXT, run_id)
  in_node = {execution.id for execution in store.get_executions_by_context(node.id)}
  [execution_id] = [execution.id for execution in store.get_executions_by_context(run.id) if execution.id in in_node]
  events = [event for event in store.get_events_by_execution_ids([execution_id])
            if event.type == metadata_store_pb2.Event.OUTPUT]
  artifacts = {artifact.id: artifact for artifact in store.get_artifacts_by_id([event.artifact_id for event in events])}
  return {event.path.steps[0].key: artifacts[event.artifact_id] for event in events}


def _context(store: mlmd.MetadataStore, type_id: int, type_name: str, name: str) -> metadata_store_pb2.Context:
  context = store.get_context_by_type_and_name(type_name, name)
  if context is None:
    context = metadata_store_pb2.Context(type_id=type_id, name=name)
    [context.id] = store.put_contexts([context])
  return context
