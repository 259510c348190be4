"""Runs written into an ML Metadata SQLite store through its own API, as TFX's LocalDagRunner records them: each
execution in its pipeline's, its run's and its node's context, the run a child of the pipeline, and each output
artifact under its output key."""
import dataclasses
from typing import Dict, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from components import names
from pipeline.inspect import runs as runs_lib

ARTIFACT_TYPES = {names.EXAMPLES: 'Examples', names.BLESSING: 'ModelBlessing', names.PUSHED_MODEL: 'PushedModel',
                  names.EVALUATION: 'ModelEvaluation'}


@dataclasses.dataclass(frozen=True)
class Step:
  """One component's execution: its state and {output key: the output artifact's properties}."""
  node_id: str
  state: str = 'COMPLETE'
  outputs: Dict[str, Dict[str, object]] = dataclasses.field(default_factory=dict)


def blessed(is_blessed: bool) -> Step:
  return Step('Evaluator', outputs={names.BLESSING: {names.BLESSED: int(is_blessed)}})


def pushed(version: str = '') -> Step:
  """The Pusher: it pushed `version`, or, without one, pushed nothing."""
  properties = {names.PUSHED: 1, names.PUSHED_VERSION: version} if version else {names.PUSHED: 0}
  return Step('Pusher', outputs={names.PUSHED_MODEL: properties})


def _value(value: object) -> metadata_store_pb2.Value:
  if isinstance(value, int):
    return metadata_store_pb2.Value(int_value=value)
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
  for step in steps:
    node = _context(store, node_type, runs_lib.NODE_CONTEXT, f'{pipeline_name}.{step.node_id}')
    execution = metadata_store_pb2.Execution(
        type_id=store.put_execution_type(metadata_store_pb2.ExecutionType(name=step.node_id)),
        last_known_state=metadata_store_pb2.Execution.State.Value(step.state))
    outputs = []
    for key, properties in step.outputs.items():
      artifact = metadata_store_pb2.Artifact(
          type_id=store.put_artifact_type(metadata_store_pb2.ArtifactType(name=ARTIFACT_TYPES[key])),
          uri=f'/pipeline_root/{step.node_id}/{key}/{run_id}')
      for name, value in properties.items():
        artifact.custom_properties[name].CopyFrom(_value(value))
      event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
      event.path.steps.add().key = key
      outputs.append((artifact, event))
    store.put_execution(execution, artifact_and_events=outputs, contexts=[pipeline, run, node])


def _context(store: mlmd.MetadataStore, type_id: int, type_name: str, name: str) -> metadata_store_pb2.Context:
  context = store.get_context_by_type_and_name(type_name, name)
  if context is None:
    context = metadata_store_pb2.Context(type_id=type_id, name=name)
    [context.id] = store.put_contexts([context])
  return context
