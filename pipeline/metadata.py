"""Queries over the run metadata (ML Metadata) that a local run leaves in its SQLite store."""
import dataclasses
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

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
  events = [event for event in store.get_events_by_execution_ids([execution.id for execution in executions])
            if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
  by_id = {artifact.id: artifact for artifact in store.get_artifacts_by_id(
      sorted({event.artifact_id for event in events}))}
  artifacts: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  for event in sorted(events, key=lambda event: event.artifact_id):
    artifacts.setdefault(event.path.steps[0].key, []).append(by_id[event.artifact_id])
  return RunOutputs(run_id=run.name, artifacts=artifacts)


def int_property(artifact: metadata_store_pb2.Artifact, name: str) -> Optional[int]:
  value = artifact.custom_properties.get(name) or artifact.properties.get(name)
  return value.int_value if value is not None else None


def string_property(artifact: metadata_store_pb2.Artifact, name: str) -> Optional[str]:
  value = artifact.custom_properties.get(name) or artifact.properties.get(name)
  return value.string_value if value is not None else None
