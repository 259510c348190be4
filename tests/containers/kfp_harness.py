"""Runs a compiled pipeline spec task by task in Docker containers, standing in for KFP v2's driver and launcher.

This is not Kubeflow Pipelines. It does what KFP's launcher does around each task, as far as the executor can
tell: it orders the tasks by their dependencies, resolves each task's parameters (pipeline inputs and
constants) and input artifacts (what the upstream task's executor output recorded), gives every output
artifact a URI under the pipeline root, replaces `{{$}}` with that ExecutorInput as JSON, runs exactly the
container's command and args in a fresh container of the spec's image (as the image's user, no network, one
shared volume), and reads `/tmp/kfp_outputs/output_metadata.json` back from the container as the launcher
does. It keeps no metadata store and caches nothing.

Backends differ in how they type the input artifacts they pass (`InputTyping`), and some add an output of
their own to every step (`publish_logs`): a run picks one of them.
"""
import dataclasses
import enum
import graphlib
import io
import json
import os
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

OUTPUT_FILE = '/tmp/kfp_outputs/output_metadata.json'
TASK_TIMEOUT_S = 1200
# The output a backend that publishes each step's log adds to it (KFP's driver, provisionOutputs).
EXECUTOR_LOGS = 'executor-logs'
# KFP's system titles for TFX's types, as a backend that keeps only KFP's own types passes them.
KFP_TITLES = {'tfx.Examples': 'system.Dataset', 'tfx.Model': 'system.Model', 'tfx.PushedModel': 'system.Model',
              'system.HTML': 'system.HTML', 'system.Markdown': 'system.Markdown'}


class InputTyping(enum.Enum):
  """How a backend types each input artifact of the executor input it builds."""
  AS_COMPILED = 'as compiled'  # the spec's instance schema, as Vertex AI Pipelines passes it
  # KFP 2.x's driver reads an upstream output back from ML Metadata without its schema (GetOutputArtifactsByExecutionId)
  EMPTY_SCHEMA = 'empty instance schema'
  UNTYPED = 'untyped'  # an ML Metadata artifact converted with no type at all (toRuntimeArtifact)
  KFP_TITLE = 'KFP title'  # KFP's own title in place of TFX's (sky-uk/kfp-operator PR 1248)


def input_type(typing: InputTyping, compiled: Dict[str, Any]) -> Optional[Dict[str, Any]]:
  """The `type` of an input artifact whose compiled type is `compiled`; None: the field is left out."""
  if typing is InputTyping.AS_COMPILED:
    return compiled
  if typing is InputTyping.EMPTY_SCHEMA:
    return {'instanceSchema': ''}
  if typing is InputTyping.UNTYPED:
    return None
  title = compiled.get('schemaTitle') or yaml.safe_load(compiled['instanceSchema'])['title']
  return {'schemaTitle': KFP_TITLES.get(title, 'system.Artifact')}


class TaskFailed(AssertionError):
  pass


@dataclasses.dataclass
class TaskRun:
  name: str
  exit_code: int
  seconds: float
  log: str
  executor_input: Dict[str, Any]
  executor_output: Dict[str, Any]
  outputs: Dict[str, Dict[str, Any]]  # output key -> the RuntimeArtifact passed downstream


@dataclasses.dataclass
class PipelineRun:
  run_id: str
  tasks: Dict[str, TaskRun]
  seconds: float

  def artifact(self, task: str, key: str) -> Dict[str, Any]:
    return self.tasks[task].outputs[key]


def load_spec(path: str) -> Dict[str, Any]:
  """The pipeline spec: the first YAML document (a platform spec may follow)."""
  with open(path) as handle:
    return next(yaml.safe_load_all(handle))


def task_order(spec: Dict[str, Any]) -> List[str]:
  """The DAG's tasks, each after every task it depends on (ties broken by name, so runs repeat)."""
  tasks = spec['root']['dag']['tasks']
  sorter = graphlib.TopologicalSorter({name: task.get('dependentTasks', []) for name, task in tasks.items()})
  sorter.prepare()
  order = []
  while sorter.is_active():
    ready = sorted(sorter.get_ready())
    order.extend(ready)
    sorter.done(*ready)
  return order


class ContainerDag:
  """One spec, one shared folder mounted at the same path in every container."""

  def __init__(self, spec_path: str, shared: Path, pipeline_root: str):
    self.spec = load_spec(spec_path)
    self.shared = shared
    self.pipeline_root = pipeline_root.rstrip('/')

  def run(self, parameters: Optional[Dict[str, Any]] = None, typing: InputTyping = InputTyping.AS_COMPILED,
          publish_logs: bool = False) -> PipelineRun:
    root_parameters = {name: definition.get('defaultValue') for name, definition
                       in self.spec['root'].get('inputDefinitions', {}).get('parameters', {}).items()}
    unknown = set(parameters or {}) - set(root_parameters)
    if unknown:
      raise ValueError(f'not runtime parameters of the spec: {sorted(unknown)}')
    root_parameters.update(parameters or {})
    run_id = f'run-{uuid.uuid4().hex[:8]}'
    started = time.monotonic()
    done: Dict[str, TaskRun] = {}
    for name in task_order(self.spec):
      done[name] = self._run_task(run_id, name, root_parameters, done, typing, publish_logs)
    return PipelineRun(run_id, done, time.monotonic() - started)

  def _run_task(self, run_id: str, name: str, root_parameters: Dict[str, Any], done: Dict[str, TaskRun],
                typing: InputTyping, publish_logs: bool) -> TaskRun:
    task = self.spec['root']['dag']['tasks'][name]
    component = self.spec['components'][task['componentRef']['name']]
    container = self.spec['deploymentSpec']['executors'][component['executorLabel']]['container']
    executor_input = {
        'inputs': {'parameterValues': self._parameters(task, root_parameters),
                   'artifacts': self._input_artifacts(task, component, done, typing)},
        'outputs': {'artifacts': self._output_artifacts(run_id, name, component, publish_logs),
                    'outputFile': OUTPUT_FILE},
    }
    args = [json.dumps(executor_input) if arg == '{{$}}' else arg for arg in container.get('args', [])]
    leftover = [arg for arg in args if '{{$' in arg]
    if leftover:
      raise ValueError(f'{name}: placeholders this harness does not fill: {leftover}')
    container_name = f'visionflow-{run_id}-{name.lower()}'
    create = ['docker', 'create', '--name', container_name, '--network', 'none',
              '--volume', f'{self.shared}:{self.shared}', *self._limits(container),
              '--entrypoint', container['command'][0], container['image'], *container['command'][1:], *args]
    subprocess.run(create, check=True, capture_output=True, text=True)
    started = time.monotonic()
    try:
      try:
        result = subprocess.run(['docker', 'start', '--attach', container_name], capture_output=True, text=True,
                                timeout=TASK_TIMEOUT_S, check=False)
      except subprocess.TimeoutExpired as timeout:
        raise TaskFailed(f'{name} ran past {TASK_TIMEOUT_S} s') from timeout
      seconds = time.monotonic() - started
      log = result.stdout + result.stderr
      if result.returncode != 0:
        raise TaskFailed(f'{name} exited {result.returncode}:\n{log[-6000:]}')
      executor_output = self._executor_output(container_name)
    finally:
      subprocess.run(['docker', 'rm', '--force', container_name], capture_output=True, check=False)
    outputs = {}
    for key, passed in executor_input['outputs']['artifacts'].items():
      recorded = executor_output.get('artifacts', {}).get(key, {}).get('artifacts')
      artifact = dict(passed['artifacts'][0])
      if recorded:  # the launcher stores what the executor reported: URI and metadata
        artifact.update({field: value for field, value in recorded[0].items() if field != 'type'})
      outputs[key] = artifact
    return TaskRun(name, result.returncode, seconds, log, executor_input, executor_output, outputs)

  @staticmethod
  def _parameters(task: Dict[str, Any], root_parameters: Dict[str, Any]) -> Dict[str, Any]:
    values = {}
    for key, source in task.get('inputs', {}).get('parameters', {}).items():
      if 'componentInputParameter' in source:
        values[key] = root_parameters[source['componentInputParameter']]
      elif 'runtimeValue' in source:
        values[key] = source['runtimeValue']['constant']
      else:
        raise ValueError(f'parameter {key}: unsupported source {source}')
    return values

  @staticmethod
  def _input_artifacts(task: Dict[str, Any], component: Dict[str, Any], done: Dict[str, TaskRun],
                       typing: InputTyping) -> Dict[str, Any]:
    artifacts = {}
    for key, source in task.get('inputs', {}).get('artifacts', {}).items():
      producer = source['taskOutputArtifact']
      artifact = dict(done[producer['producerTask']].outputs[producer['outputArtifactKey']])
      artifact.pop('type')
      passed_type = input_type(typing, component['inputDefinitions']['artifacts'][key]['artifactType'])
      artifacts[key] = {'artifacts': [artifact if passed_type is None else {**artifact, 'type': passed_type}]}
    return artifacts

  def _output_artifacts(self, run_id: str, task_name: str, component: Dict[str, Any],
                        publish_logs: bool) -> Dict[str, Any]:
    definitions = dict(component.get('outputDefinitions', {}).get('artifacts', {}))
    if publish_logs:
      definitions[EXECUTOR_LOGS] = {'artifactType': {'schemaTitle': 'system.Artifact'}}
    artifacts = {}
    for key, definition in definitions.items():
      uri = f'{self.pipeline_root}/{run_id}/{task_name}/{key}'
      _make_writable_folder(os.path.dirname(uri))  # the launcher prepares each output's parent folder
      artifacts[key] = {'artifacts': [{
          'name': f'{run_id}/{task_name}/{key}',
          'type': definition['artifactType'],
          'uri': uri,
          'metadata': {},
      }]}
    return artifacts

  @staticmethod
  def _limits(container: Dict[str, Any]) -> List[str]:
    """The pod's CPU and memory limits, the CPU capped at this machine's cores."""
    resources = container.get('resources', {})
    limits = []
    if 'cpuLimit' in resources:
      limits += ['--cpus', f'{min(float(resources["cpuLimit"]), os.cpu_count()):g}']
    if 'memoryLimit' in resources:
      limits += ['--memory', f'{int(float(resources["memoryLimit"]) * 1e9)}b']
    return limits

  @staticmethod
  def _executor_output(container_name: str) -> Dict[str, Any]:
    """What the launcher reads after the executor exits; an executor may write none."""
    copied = subprocess.run(['docker', 'cp', f'{container_name}:{OUTPUT_FILE}', '-'],
                            capture_output=True, check=False)
    if copied.returncode != 0:
      return {}
    with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
      member = archive.getmembers()[0]
      return json.loads(archive.extractfile(member).read())


def _make_writable_folder(path: str) -> None:
  """Creates `path` so that the image's user (not this process's) can write in it."""
  missing = []
  while not os.path.isdir(path):
    missing.append(path)
    path = os.path.dirname(path)
  for folder in reversed(missing):
    os.mkdir(folder)
    os.chmod(folder, 0o777)
