"""Compiles the DAG into a Kubeflow Pipelines v2 pipeline spec with TFX's KubeflowV2DagRunner.

Compiling is offline and uploads nothing: components name their code by module path inside the image
(`components.trainer.run_fn.run_fn`), never as `module_file` wheels under the pipeline root. Settings that change
from run to run are runtime parameters, so one compiled spec serves every scheduled run.
"""
import json
import re
import subprocess
from typing import Any, Callable, Dict, List, Optional, Tuple

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration import data_types
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from components import compat
from components import paths
from components.trainer import tfjob
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_monitoring_pipeline
from pipeline.pipeline import create_pipeline
from pipeline.pipeline import RuntimeValues
from pipeline.pipeline import runtime_defaults

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
TRAINING_COMPONENTS = ('Trainer', 'Tuner')
# Scores whatever images are at its path when it runs: never reused from Kubeflow's cache.
SCORE_SPAN_TASK = 'ScoreSpan'
# TFX's executor entrypoint, fitted to self-hosted Kubeflow Pipelines (pipeline/runners/kubeflow_entrypoint.py).
EXECUTOR_COMMAND = ['python', '-m', 'pipeline.runners.kubeflow_entrypoint']


def runtime_parameters(config: PipelineConfig) -> Dict[str, data_types.RuntimeParameter]:
  """One RuntimeParameter per runtime_defaults name, defaulting to the config's value."""
  return {name: data_types.RuntimeParameter(name=name, ptype=type(default), default=default)
          for name, default in runtime_defaults(config).by_name().items()}


def resource_spec(config: PipelineConfig, component_id: str) -> ResourceSpec:
  """CPU and memory for every step; GPUs (count and type) for the Trainer and the Tuner.

  Both spellings of each field are set: the numeric ones TFX's compiler knows, and the string `resource_*`
  ones that Kubeflow Pipelines 2.x backends read.
  """
  training = component_id in TRAINING_COMPONENTS
  cpu = config.training_cpu if training else config.step_cpu
  memory_gib = config.training_memory_gib if training else config.step_memory_gib
  spec = ResourceSpec(cpu_limit=cpu, memory_limit=memory_gib * 2**30 / 1e9,
                      resource_cpu_limit=f'{cpu:g}', resource_memory_limit=f'{memory_gib:g}Gi')
  if training and config.gpus:
    spec.accelerator.type = spec.accelerator.resource_type = config.gpu_type
    spec.accelerator.count = config.gpus
    spec.accelerator.resource_count = str(config.gpus)
  return spec


def compile_pipeline_job(config: PipelineConfig, labels: List[str], evaluate_only: bool = False) -> Dict[str, Any]:
  """The PipelineJob as a dict: {'pipelineSpec': ..., 'runtimeConfig': ...}.

  `evaluate_only`: the continuous evaluation of the model in production instead (ExampleGen ->
  ProductionMonitor), without runtime parameters: a recurring run of it reads the newest span of the data.
  """
  parameters = {} if evaluate_only else runtime_parameters(config)
  pipeline = (create_monitoring_pipeline(config, labels) if evaluate_only
              else create_pipeline(config, labels, runtime_values=RuntimeValues(**parameters)))
  for component in pipeline.components:
    component.with_platform_config(resource_spec(config, component.id))
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
      display_name=pipeline.pipeline_info.pipeline_name, default_image=config.image, default_commands=EXECUTOR_COMMAND,
      use_pipeline_spec_2_1=True))
  job = runner.run(pipeline, write_out=False)
  spec = job['pipelineSpec']
  compat.restore_dropped_resources(
      spec, lambda task_id: json_format.MessageToDict(resource_spec(config, task_id)))
  for name, parameter in parameters.items():
    spec['root']['inputDefinitions']['parameters'][name]['defaultValue'] = parameter.default
  if SCORE_SPAN_TASK in spec['root']['dag']['tasks']:  # new images arrive at the same path between runs
    spec['root']['dag']['tasks'][SCORE_SPAN_TASK]['cachingOptions'] = {'enableCache': False}
  return job


def _executor_label(spec: Dict[str, Any], task_id: str) -> str:
  task = spec['root']['dag']['tasks'][task_id]
  return spec['components'][task['componentRef']['name']]['executorLabel']


def platform_spec(config: PipelineConfig, pipeline_spec: Dict[str, Any]) -> Dict[str, Any]:
  """Kubernetes placement of the Trainer and Tuner pods (GPU or TPU node pools), as kfp-kubernetes writes it.

  TFX's compiler has no field for node selectors or tolerations; Kubeflow Pipelines reads them from this
  platform spec, the YAML document after the pipeline spec. Empty when none is configured.
  """
  placement = {}
  if config.training_node_selector:
    labels = {key: str(value) for key, value in config.training_node_selector.items()}
    placement['nodeSelector'] = {'labels': labels}
  if config.training_tolerations:
    placement['tolerations'] = [tfjob.toleration(text) for text in config.training_tolerations]
  if not placement:
    return {}
  executors = {_executor_label(pipeline_spec, task_id): placement
               for task_id in TRAINING_COMPONENTS if task_id in pipeline_spec['root']['dag']['tasks']}
  return {'platforms': {'kubernetes': {'deploymentSpec': {'executors': executors}}}}


_DIGEST = re.compile(r'@sha256:[0-9a-f]{64}$')


def docker_repo_digests(image: str) -> List[str]:
  """The registry digests the local Docker engine knows for the image (`name@sha256:...`); none without one."""
  try:
    result = subprocess.run(['docker', 'image', 'inspect', '--format', '{{json .RepoDigests}}', image],
                            capture_output=True, text=True, timeout=30, check=False)
  except (OSError, subprocess.TimeoutExpired):
    return []
  try:
    return (json.loads(result.stdout.strip() or 'null') or []) if result.returncode == 0 else []
  except ValueError:
    return []


def pinned_image(image: str, repo_digests: Callable[[str], List[str]] = docker_repo_digests
                 ) -> Tuple[str, Optional[str]]:
  """(the image to compile into the spec, a warning or None).

  Kubeflow's cache keys a step on its image name, and the code fingerprint keys it on the code that compiled
  the spec, not on what the image holds: a new image pushed under the same tag would be invisible to both.
  An image named by digest is used as it is; a tag becomes the digest its registry gave it when the local
  Docker engine knows one; otherwise the tag stays, with the warning.
  """
  if _DIGEST.search(image):
    return image, None
  last = image.rsplit('/', 1)[-1]
  repository = image[:len(image) - len(last)] + last.split(':', 1)[0]
  for digest in repo_digests(image):
    if digest.startswith(repository + '@sha256:'):
      return digest, None
  return image, (f'warning: the image {image} is a tag, and no registry digest of it is known here: Kubeflow\'s '
                 'cache keys steps on the image name, so an image pushed again under this tag would reuse the '
                 'old steps\' outputs. Give the image as name@sha256:<digest>, or push it and compile again.')


def local_path_warning(config: PipelineConfig) -> Optional[str]:
  """Steps run in separate pods: a pipeline root on this machine's disk is not where they can write."""
  if paths.is_remote(config.pipeline_root):
    return None
  return (f'warning: the pipeline root {config.pipeline_root} is a local path; steps on Kubeflow run in '
          'separate pods and need storage they all reach: set --output-dir to e.g. gs://bucket/visionflow')


def compile_pipeline(config: PipelineConfig, labels: List[str], output_file: str, evaluate_only: bool = False) -> str:
  """Writes the pipeline spec as YAML, the format `kfp.Client().upload_pipeline` and the KFP UI take.

  A second YAML document, the platform spec, follows when the training steps have a placement.
  """
  spec = compile_pipeline_job(config, labels, evaluate_only)['pipelineSpec']
  documents = [spec] + [document for document in [platform_spec(config, spec)] if document]
  with open(output_file, 'w') as handle:
    name = spec['pipelineInfo']['name']
    handle.write(f'# {name}: compiled by visionflow from the TFX DAG for Kubeflow Pipelines v2.\n')
    yaml.safe_dump_all(documents, handle, sort_keys=True)
  return output_file
