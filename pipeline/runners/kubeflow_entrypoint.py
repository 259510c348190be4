"""The container entrypoint of every step on Kubeflow: TFX's Kubeflow v2 executor entrypoint, fitted to
self-hosted Kubeflow Pipelines v2.

The compiled spec runs `python -m pipeline.runners.kubeflow_entrypoint` with TFX's arguments (see
pipeline/runners/kubeflow.py). TFX 1.16's entrypoint expects what Vertex AI Pipelines passes; self-hosted KFP v2
differs in the ways that kubeflow/pipelines#13476 and the TFX patches of sky-uk/kfp-operator (PRs 1248 and
1286) list. Each workaround is here, and only here:
- Input artifacts arrive with an empty instance schema (KFP 2.x's driver reads them back from its metadata
  store without their schema), with no type at all, or with a KFP title such as `system.Dataset`. TFX imports
  each artifact's class from that type and fails (AttributeError, UnboundLocalError, ImportError), or would
  build an artifact without its TFX properties. Each input is given the type that the compiled spec declares
  for it instead (the `--json_serialized_inputs_spec_args` that TFX's compiler writes).
- KFP types outputs it adds itself, such as a backend's `executor-logs`, `system.Artifact`: KFP's system titles
  map to the classes in components/kfp_artifacts.py.
- On a gs:// pipeline root, TensorFlow's GCS file system (TF 2.16 and older) writes a zero-byte `folder/`
  object for every folder it creates. KFP's launcher downloads such a marker as a file, and then cannot create
  the files under it (`mkdir ...: not a directory`; kubeflow/pipelines#13476, fixes proposed in its PRs 13479
  and 13537). The markers of non-empty folders under each output are deleted once the executor is done. With
  them gone, TFX's `Format-Serving/` model folder downloads like any other, so the model keeps TFX's layout,
  which the Evaluator, the Pusher and Vertex AI read.
- Protobuf and ML Metadata destructors can crash at interpreter shutdown ("pure virtual method called", seen on
  TFX 1.17 with S3; sky-uk/kfp-operator PR 1286) and fail a step whose outputs are all written. Once TFX has
  written the executor output file, the process flushes its logs and exits 0 without interpreter shutdown.
"""
import argparse
import logging
import os
import sys
from typing import List, Tuple

from absl import app
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

from components.reports import kfp_artifacts

compiler_utils.TITLE_TO_CLASS_PATH.update(kfp_artifacts.CLASS_PATHS)
GCS_SCHEME = 'gs://'


def type_inputs_as_compiled(executor_input: pipeline_spec_pb2.ExecutorInput,
                            inputs_spec: pipeline_spec_pb2.ComponentInputsSpec) -> None:
  """Gives each input artifact the type that the compiled spec declares for its input."""
  for key, artifact_list in executor_input.inputs.artifacts.items():
    if key in inputs_spec.artifacts:
      for artifact in artifact_list.artifacts:
        artifact.type.CopyFrom(inputs_spec.artifacts[key].artifact_type)


def remove_directory_markers(uri: str) -> List[str]:
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


def run(args: argparse.Namespace, beam_args: List[str]) -> None:
  """TFX's executor run on inputs typed as compiled; then the gs:// outputs' folder markers removed."""
  executor_input = _parse(args.json_serialized_invocation_args, pipeline_spec_pb2.ExecutorInput())
  if args.json_serialized_inputs_spec_args:
    type_inputs_as_compiled(
        executor_input, _parse(args.json_serialized_inputs_spec_args, pipeline_spec_pb2.ComponentInputsSpec()))
    args.json_serialized_invocation_args = json_format.MessageToJson(executor_input)
  kubeflow_v2_run_executor._run_executor(args, beam_args)  # pylint: disable=protected-access
  output_uris = [artifact.uri for artifact_list in executor_input.outputs.artifacts.values()
                 for artifact in artifact_list.artifacts]
  for uri in output_uris:
    if uri.startswith(GCS_SCHEME):
      try:
        removed = remove_directory_markers(uri)
      except Exception as error:  # pylint: disable=broad-except
        logging.warning('could not delete the folder markers under %s (%s): Kubeflow steps that read it may '
                        'fail with "not a directory" (kubeflow/pipelines#13476)', uri, error)
      else:
        logging.info('deleted %d folder marker(s) under %s', len(removed), uri)


def main(parsed_argv: Tuple[argparse.Namespace, List[str]]) -> None:
  run(*parsed_argv)
  logging.shutdown()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(0)  # pylint: disable=protected-access


def _parse(text: str, message):
  return json_format.Parse(text, message, ignore_unknown_fields=True)


if __name__ == '__main__':
  app.run(main, flags_parser=kubeflow_v2_run_executor._parse_flags)  # pylint: disable=protected-access
