"""The container entrypoint of every step on Kubeflow: TFX's Kubeflow v2 executor entrypoint, fitted to
self-hosted Kubeflow Pipelines v2.

The compiled spec runs `python -m pipeline.runners.kubeflow_entrypoint` with TFX's arguments (see
pipeline/runners/kubeflow.py). TFX 1.16's entrypoint expects what Vertex AI Pipelines passes; self-hosted KFP v2
differs in the ways kubeflow/pipelines#13476 and the TFX patches of sky-uk/kfp-operator (PRs 1248 and 1286)
list. This module applies the workarounds of components/compat.py, in order:
- KFP's `system.*` titles (such as a backend's `executor-logs` output, `system.Artifact`) are mapped to the
  classes of components/reports/kfp_artifacts.py;
- each input gets the type that the compiled spec declares for it, whatever KFP's driver passed;
- once TFX's executor is done, the zero-byte folder markers under the step's gs:// outputs are deleted, so that
  the next step's launcher can download them (with them gone, TFX's `Format-Serving/` model folder downloads
  like any other, and the model keeps TFX's layout, which the Evaluator, the Pusher and Vertex AI read);
- the process exits 0 without interpreter shutdown, whose destructors can crash after the outputs are written.
A full disk anywhere in the step ends it with one line and exit code 2, as the local runner does.
"""
import argparse
import sys
from typing import List, Tuple

from absl import app
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

from components import compat
from components import disk_space
from components.reports import kfp_artifacts

compat.register_kfp_titles(kfp_artifacts.CLASS_PATHS)
compat.skip_beam_packaging_for_direct_runner()


def run(args: argparse.Namespace, beam_args: List[str]) -> None:
  """TFX's executor run on inputs typed as compiled; then the gs:// outputs' folder markers removed."""
  executor_input = _parse(args.json_serialized_invocation_args, pipeline_spec_pb2.ExecutorInput())
  if args.json_serialized_inputs_spec_args:
    compat.type_inputs_as_compiled(
        executor_input, _parse(args.json_serialized_inputs_spec_args, pipeline_spec_pb2.ComponentInputsSpec()))
    args.json_serialized_invocation_args = json_format.MessageToJson(executor_input)
  kubeflow_v2_run_executor._run_executor(args, beam_args)
  compat.remove_output_folder_markers([artifact.uri for artifact_list in executor_input.outputs.artifacts.values()
                                       for artifact in artifact_list.artifacts])


def main(parsed_argv: Tuple[argparse.Namespace, List[str]]) -> None:
  """Runs the step; a full disk ends it in one line naming the executor, the path and the free space (exit 2)."""
  args, beam_args = parsed_argv
  try:
    run(args, beam_args)
  except Exception as error:
    disk_full = disk_space.step_disk_full(error, args.executor_class_path, _first_output_uri(args))
    if disk_full is None:
      raise
    print(disk_full, file=sys.stderr)
    sys.exit(2)
  compat.exit_without_shutdown()


def _first_output_uri(args: argparse.Namespace) -> str:
  """Where the step writes: the folder of its first output, named when an error names no path."""
  outputs = _parse(args.json_serialized_invocation_args, pipeline_spec_pb2.ExecutorInput()).outputs.artifacts
  return next((artifact.uri for artifact_list in outputs.values() for artifact in artifact_list.artifacts), '')


def _parse(text: str, message):
  return json_format.Parse(text, message, ignore_unknown_fields=True)


if __name__ == '__main__':
  app.run(main, flags_parser=kubeflow_v2_run_executor._parse_flags)
