"""A run's warm-start decision and drift, read back from a real ML Metadata store where the artifacts hold them
as the Trainer and the ExampleValidator record them (TFX's own artifact classes and property setters)."""
import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from components import names
from pipeline.inspect import runs as runs_lib

RUN_ID = 'run-1'
WARM_START = 'warm start from /serving/image_classifier/3: 5 new training examples, 4.8% of 104, under 10%: fine-tuned'
DRIFTS = [{'feature': 'label', 'measure': 'L-infinity', 'value': 0.25, 'threshold': 0.1, 'previous_span': 1},
          {'feature': 'image/width', 'measure': 'Jensen-Shannon', 'value': 0.3125, 'threshold': 0.1,
           'previous_span': 1}]


def _store_with_run(tmp_path, drifts):
  """A store holding one run: an ExampleValidator and a Trainer, each with its output artifact."""
  store = mlmd.MetadataStore(runs_lib.sqlite_connection_config(str(tmp_path / 'metadata.sqlite')))
  run_type = store.put_context_type(metadata_store_pb2.ContextType(name=runs_lib.PIPELINE_RUN_CONTEXT))
  node_type = store.put_context_type(metadata_store_pb2.ContextType(name=runs_lib.NODE_CONTEXT))
  run = metadata_store_pb2.Context(type_id=run_type, name=RUN_ID)
  [run.id] = store.put_contexts([run])
  anomalies = standard_artifacts.ExampleAnomalies()
  anomalies.set_json_value_custom_property(names.DRIFT, drifts)
  anomalies.set_int_custom_property(names.DRIFT_PREVIOUS_SPAN, 1)
  model = standard_artifacts.Model()
  model.set_string_custom_property(names.WARM_START, WARM_START)
  for node_id, key, artifact in (('ExampleValidator', names.ANOMALIES, anomalies), ('Trainer', names.MODEL, model)):
    artifact.mlmd_artifact.type_id = store.put_artifact_type(artifact.artifact_type)
    node = metadata_store_pb2.Context(type_id=node_type, name=f'visionflow.{node_id}')
    [node.id] = store.put_contexts([node])
    event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
    event.path.steps.add().key = key
    event.path.steps.add().index = 0
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name=node_id))
    store.put_execution(metadata_store_pb2.Execution(type_id=execution_type,
                                                     last_known_state=metadata_store_pb2.Execution.COMPLETE),
                        artifact_and_events=[(artifact.mlmd_artifact, event)], contexts=[run, node])
  return store


def test_the_warm_start_decision_and_the_drift_are_read_from_the_artifacts(tmp_path):
  outcome = runs_lib.run_outcome(runs_lib.run_nodes(_store_with_run(tmp_path, DRIFTS), RUN_ID, with_files=False))
  assert outcome.warm_start == WARM_START
  assert outcome.drift == ('the data drifted from span 1 (drift: warn, so the run went on): label: L-infinity '
                           'distance 0.2500, above 0.1000; image/width: Jensen-Shannon distance 0.3125, above 0.1000')


def test_a_span_without_drift_has_no_drift(tmp_path):
  outcome = runs_lib.run_outcome(runs_lib.run_nodes(_store_with_run(tmp_path, []), RUN_ID, with_files=False))
  assert outcome.drift is None
