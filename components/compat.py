"""Every workaround around TFX 1.16 and Kubeflow Pipelines v2, each with the upstream issue it tracks.

When an issue is fixed upstream (or the stack moves past it), its workaround is deleted here and at its one
caller. What each fixes, and who calls it:

- KFP's `system.*` artifact titles name no Python class (kubeflow/pipelines#13476): `register_kfp_titles`,
  called by the Kubeflow entrypoint.
- Self-hosted KFP's driver passes inputs with an empty schema, no type, or a KFP title (kubeflow/pipelines#13476;
  sky-uk/kfp-operator PR 1248): `type_inputs_as_compiled`, called by the Kubeflow entrypoint.
- TensorFlow's GCS file system writes zero-byte folder markers that KFP's launcher downloads as files
  (kubeflow/pipelines#13476, fixes proposed in its PRs 13479 and 13537): `remove_folder_markers`, called by the
  Kubeflow entrypoint after each step.
- Protobuf and ML Metadata destructors can crash at interpreter shutdown after a step's outputs are written
  (sky-uk/kfp-operator PR 1286): `exit_without_shutdown`, the Kubeflow entrypoint's last call.
- TFX's compiler drops FileBasedExampleGen's resources (tensorflow/tfx#6146): `restore_dropped_resources`,
  called by the Kubeflow compiler.
- TFX's ExampleGen driver, which resolves {SPAN} and date specs, runs only where the backend runs TFX's
  pre-cache-check hooks (Vertex AI; tensorflow/tfx#6722 asks for driver support in KubeflowV2DagRunner):
  `resolve_spans_without_driver`, called by the image ExampleGen's executor.
- A Kubeflow runtime parameter can only replace a whole custom_config (tensorflow/tfx#4140): `TrainerExecutor`
  and `TunerExecutor` take epochs and tuner trials as execution parameters of their own and fold them into
  custom_config, for the Trainer and Tuner components in components/trainer/component.py.
- TFX packages itself as an sdist for every Beam component (about 2 s each), also for Beam's DirectRunner, whose
  workers share this process's installation (tfx/utils/dependency_utils.py; tensorflow/tfx#2839 is the Kubeflow
  side of it): `skip_beam_packaging_for_direct_runner`, called by the local runner and the Kubeflow entrypoint.
- TensorFlow's AutoGraph leaves the `keras` package unconverted but not `tf_keras`, the Keras 2 that TFX needs
  (tensorflow/python/autograph/core/config.py; no upstream issue found): it rewrites Keras's own training code
  on the first step of every process, about 16 s here. `skip_autograph_for_tf_keras`, called by
  components/trainer/training.py before the Tuner's and Trainer's fits.
- TFX's local launcher records an executor's result on a failed execution only for its own private
  `_ExecutionFailedError` (tfx/orchestration/portable/launcher.py; no upstream issue): `RecordedFailure`, the
  base of the image ExampleGen's refusal, so that the execution names the rejects report.

KFP is imported only by the Kubeflow workarounds that use it, so that the steps importing this module for
`RecordedFailure` do not load it.
"""
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List

from apache_beam.options import pipeline_options
from google.protobuf import any_pb2
from google.protobuf import json_format
from google.protobuf import struct_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.trainer import executor as trainer_executor
from tfx.components.tuner import executor as tuner_executor
from tfx.orchestration.portable import launcher
from tfx.proto import example_gen_pb2
from tfx.proto import range_config_pb2
from tfx.proto.orchestration import execution_result_pb2
from tfx.types import standard_component_specs
from tfx.utils import dependency_utils
from tfx.utils import json_utils
from tfx.utils import proto_utils

if TYPE_CHECKING:
  from kfp.pipeline_spec import pipeline_spec_pb2

GCS_SCHEME = 'gs://'
EPOCHS = 'epochs'
TUNER_TRIALS = 'tuner_trials'


def skip_beam_packaging_for_direct_runner() -> None:
  """Beam components on the DirectRunner (no --runner) start without building TFX's sdist."""
  build_flags = dependency_utils.make_beam_dependency_flags
  if getattr(build_flags, 'skips_direct_runner', False):
    return

  def dependency_flags(beam_pipeline_args: List[str]) -> List[str]:
    runner = pipeline_options.PipelineOptions(flags=beam_pipeline_args).view_as(
        pipeline_options.StandardOptions).runner
    return beam_pipeline_args if runner in (None, 'DirectRunner') else build_flags(beam_pipeline_args)

  dependency_flags.skips_direct_runner = True
  dependency_utils.make_beam_dependency_flags = dependency_flags


def skip_autograph_for_tf_keras() -> None:
  """AutoGraph treats tf_keras as it treats keras: library code, run as written, not rewritten."""
  from tensorflow.python.autograph.core import config as autograph_config
  if not any(isinstance(rule, autograph_config.DoNotConvert) and rule.matches('tf_keras')
             for rule in autograph_config.CONVERSION_RULES):
    autograph_config.CONVERSION_RULES = (autograph_config.DoNotConvert('tf_keras'),) + tuple(
        autograph_config.CONVERSION_RULES)


def register_kfp_titles(class_paths: Dict[str, str]) -> None:
  """Teaches TFX's Kubeflow entrypoint the Python classes of KFP's own `system.*` artifact titles."""
  from tfx.orchestration.kubeflow.v2 import compiler_utils
  compiler_utils.TITLE_TO_CLASS_PATH.update(class_paths)


def type_inputs_as_compiled(executor_input: 'pipeline_spec_pb2.ExecutorInput',
                            inputs_spec: 'pipeline_spec_pb2.ComponentInputsSpec') -> None:
  """Gives each input artifact the type that the compiled spec declares for its input (TFX's
  `--json_serialized_inputs_spec_args`), whatever type, if any, KFP's driver passed."""
  for key, artifact_list in executor_input.inputs.artifacts.items():
    if key in inputs_spec.artifacts:
      for artifact in artifact_list.artifacts:
        artifact.type.CopyFrom(inputs_spec.artifacts[key].artifact_type)


def remove_folder_markers(uri: str) -> List[str]:
  """Deletes the zero-byte `folder/` objects under a gs:// output whose folders hold objects; returns their
  names. An empty folder keeps its marker: it is all that makes the folder exist."""
  from google.cloud import storage  # only gs:// outputs need the client
  bucket_name, _, prefix = uri[len(GCS_SCHEME):].partition('/')
  client = storage.Client()
  blobs = sorted(client.list_blobs(bucket_name, prefix=prefix.rstrip('/') + '/'), key=lambda blob: blob.name)
  # In name order, whatever lies in a folder comes right after the folder's own `folder/` object.
  markers = [blob for blob, following in zip(blobs, blobs[1:])
             if blob.name.endswith('/') and blob.size == 0 and following.name.startswith(blob.name)]
  for blob in markers:
    blob.delete()
  return [blob.name for blob in markers]


def remove_output_folder_markers(output_uris: List[str]) -> None:
  """remove_folder_markers on each gs:// output; a failure is a warning, as Vertex AI needs none of this."""
  for uri in output_uris:
    if not uri.startswith(GCS_SCHEME):
      continue
    try:
      removed = remove_folder_markers(uri)
    except Exception as error:
      logging.warning('could not delete the folder markers under %s (%s): Kubeflow steps that read it may '
                      'fail with "not a directory" (kubeflow/pipelines#13476)', uri, error)
    else:
      logging.info('deleted %d folder marker(s) under %s', len(removed), uri)


def exit_without_shutdown() -> None:
  """Flushes the logs and exits 0 at once, so that no destructor runs after the outputs are written."""
  logging.shutdown()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(0)


def restore_dropped_resources(spec: Dict[str, Any], resources_of: Callable[[str], Dict[str, Any]]) -> None:
  """Gives every task's container that has no resources in the compiled spec those of `resources_of(task)`."""
  for task_id, task in spec['root']['dag']['tasks'].items():
    executor_label = spec['components'][task['componentRef']['name']]['executorLabel']
    container = spec['deploymentSpec']['executors'][executor_label]['container']
    if 'resources' not in container:
      container['resources'] = resources_of(task_id)


def resolve_spans_without_driver(input_base: str, input_config: example_gen_pb2.Input,
                                 exec_properties: Dict[str, Any]) -> None:
  """Does the FileBasedExampleGen driver's work where it did not run: picks the newest span (or date), or the
  one range_config names, and records it in exec_properties as the driver would.

  On LocalDagRunner and Vertex the driver has resolved the pattern before the executor starts; on self-hosted
  Kubeflow Pipelines it arrives unresolved, and resolving it here lets every scheduled run ingest the newest span.
  """
  pattern = input_config.splits[0].pattern
  if not (re.search(example_gen_utils.SPAN_FULL_REGEX, pattern)
          or any(spec in pattern for spec in example_gen_utils.DATE_SPECS)):
    return
  range_config = None
  if exec_properties.get(standard_component_specs.RANGE_CONFIG_KEY):
    range_config = proto_utils.json_to_proto(exec_properties[standard_component_specs.RANGE_CONFIG_KEY],
                                             range_config_pb2.RangeConfig())
  _, span, _ = example_gen_utils.calculate_splits_fingerprint_span_and_version(
      input_base, input_config.splits, range_config)
  exec_properties[example_gen_utils.SPAN_PROPERTY_NAME] = span
  logging.info('No driver resolved the input pattern; newest span %d: %s', span, pattern)


def fold_into_custom_config(exec_properties: Dict[str, Any], names: List[str]) -> Dict[str, Any]:
  """A copy of exec_properties with the named parameters moved into the custom_config JSON."""
  custom_config_key = standard_component_specs.CUSTOM_CONFIG_KEY
  properties = dict(exec_properties)
  custom_config = json_utils.loads(properties.get(custom_config_key) or 'null') or {}
  for name in names:
    if properties.get(name) is not None:
      custom_config[name] = int(properties.pop(name))
  properties[custom_config_key] = json_utils.dumps(custom_config)
  return properties


class TrainerExecutor(trainer_executor.GenericExecutor):
  """TFX's Trainer executor, with the `epochs` execution parameter folded into custom_config."""

  def Do(self, input_dict, output_dict, exec_properties):
    super().Do(input_dict, output_dict, fold_into_custom_config(exec_properties, [EPOCHS]))


class TunerExecutor(tuner_executor.Executor):
  """TFX's Tuner executor, with the `tuner_trials` execution parameter folded into custom_config."""

  def Do(self, input_dict, output_dict, exec_properties):
    super().Do(input_dict, output_dict, fold_into_custom_config(exec_properties, [TUNER_TRIALS]))


class RecordedFailure(launcher._ExecutionFailedError):
  """An executor error whose message and details TFX's local launcher records on the failed execution (as
  `__execution_result__`); elsewhere it fails the step like any other exception."""

  def __init__(self, message: str, details: Dict[str, str]):
    detail = any_pb2.Any()
    detail.Pack(json_format.ParseDict(details, struct_pb2.Struct()))
    result = execution_result_pb2.ExecutionResult(code=1, result_message=message, metadata_details=[detail])
    super().__init__(message, execution_result_pb2.ExecutorOutput(execution_result=result))
