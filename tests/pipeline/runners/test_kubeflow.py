"""`visionflow compile`: the Kubeflow Pipelines v2 spec, loaded back with the kfp SDK."""
import os

import pytest
import yaml
from kfp import components

from components import code_fingerprint
from pipeline import cli
from pipeline.config import PipelineConfig
from pipeline.runners import kubeflow

COMPONENT_IDS = {'FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'DataReport',
                 'Transform', 'Tuner', 'Trainer', 'Evaluator', 'Pusher'}
DEPENDENCIES = {
    'FileBasedExampleGen': [], 'StatisticsGen': ['FileBasedExampleGen'], 'SchemaGen': ['StatisticsGen'],
    'ExampleValidator': ['SchemaGen', 'StatisticsGen'], 'Transform': ['FileBasedExampleGen', 'SchemaGen'],
    'DataReport': ['ExampleValidator', 'FileBasedExampleGen', 'StatisticsGen'],
    'Tuner': ['Transform'], 'Trainer': ['SchemaGen', 'Transform', 'Tuner'],
    'Evaluator': ['FileBasedExampleGen', 'Trainer'], 'Pusher': ['Evaluator', 'FileBasedExampleGen', 'Trainer'],
}
EXECUTOR_ENTRY_POINT = ['python', '-m', 'pipeline.runners.kubeflow_entrypoint']


@pytest.fixture(scope='module')
def compiled(small_digits, tmp_path_factory):
  csv_path, labels_path = small_digits
  output = tmp_path_factory.mktemp('compiled') / 'pipeline.yaml'
  code = cli.main(['compile', '--output', str(output), '--data-csv', csv_path, '--labels-file', labels_path,
                   '--output-dir', 'gs://bucket/visionflow', '--image', 'registry.example.com/visionflow:1.2',
                   '--gpus', '2', '--min-accuracy', '0.9',
                   '--training-node-selector', 'cloud.google.com/gke-accelerator=nvidia-tesla-t4',
                   '--training-tolerations', 'nvidia.com/gpu=present:NoSchedule,dedicated:NoExecute'])
  assert code == 0
  return components.load_component_from_file(str(output)), output.read_text(), os.path.dirname(csv_path)


def _executor(spec, task_id):
  label = spec.components[spec.root.dag.tasks[task_id].component_ref.name].executor_label
  return spec.deployment_spec['executors'][label]['container']


def test_every_component_with_its_dependencies(compiled):
  component = compiled[0]
  tasks = component.pipeline_spec.root.dag.tasks
  assert set(tasks) == COMPONENT_IDS
  assert {task_id: sorted(task.dependent_tasks) for task_id, task in tasks.items()} == DEPENDENCIES


def test_every_task_runs_the_tfx_entry_point_in_the_image_with_code_named_not_uploaded(compiled):
  component, text = compiled[:2]
  spec = component.pipeline_spec
  for task_id in COMPONENT_IDS:
    container = _executor(spec, task_id)
    assert container['image'] == 'registry.example.com/visionflow:1.2'
    assert list(container['command']) == EXECUTOR_ENTRY_POINT
  assert 'components.evaluator.component.Executor' in _executor(spec, 'Evaluator')['args']
  assert 'components.trainer.run_fn.run_fn' in text
  assert 'module_file' not in text and '.whl' not in text  # component code is in the image, not uploaded


def test_reports_are_html_and_markdown_artifacts_that_the_kubeflow_ui_renders(compiled):
  spec = compiled[0].pipeline_spec
  for task_id in ('DataReport', 'Evaluator'):
    outputs = spec.components[spec.root.dag.tasks[task_id].component_ref.name].output_definitions.artifacts
    titles = {key: yaml.safe_load(outputs[key].artifact_type.instance_schema)['title']
              for key in ('html_report', 'markdown_report')}
    assert titles == {'html_report': 'system.HTML', 'markdown_report': 'system.Markdown'}


def test_trainer_and_tuner_get_gpus_and_every_step_cpu_and_memory(compiled):
  spec = compiled[0].pipeline_spec
  for task_id in ('Trainer', 'Tuner'):
    resources = _executor(spec, task_id)['resources']
    assert resources['accelerator']['resourceType'] == 'nvidia.com/gpu'
    assert resources['accelerator']['resourceCount'] == '2'
    assert (resources['resourceCpuLimit'], resources['resourceMemoryLimit']) == ('8', '32Gi')
  # FileBasedExampleGen included: TFX's compiler drops its platform config (tensorflow/tfx#6146).
  for task_id in COMPONENT_IDS - {'Trainer', 'Tuner'}:
    resources = _executor(spec, task_id)['resources']
    assert (resources['resourceCpuLimit'], resources['resourceMemoryLimit']) == ('2', '8Gi')
    assert 'accelerator' not in resources


def test_runtime_parameters_with_their_defaults(compiled):
  component = compiled[0]
  data_root = compiled[2]
  assert {name: (spec.type, spec.default) for name, spec in component.component_spec.inputs.items()} == {
      'data_root': ('String', data_root), 'range_config': ('String', ''),
      'epochs': ('Integer', PipelineConfig.epochs), 'tuner_trials': ('Integer', PipelineConfig.tuner_trials),
      'serving_dir': ('String', 'gs://bucket/visionflow/serving'), 'min_accuracy': ('Float', 0.9),
      'min_slice_accuracy': ('Float', 0.5), 'max_accuracy_drop': ('Float', 0.0)}
  tasks = component.pipeline_spec.root.dag.tasks
  for task_id, name, parameter in (
      ('FileBasedExampleGen', 'input_base', 'data_root'), ('FileBasedExampleGen', 'range_config', 'range_config'),
      ('Trainer', 'epochs', 'epochs'),
      ('Tuner', 'tuner_trials', 'tuner_trials'), ('Evaluator', 'min_accuracy', 'min_accuracy'),
      ('Pusher', 'serving_dir', 'serving_dir'), ('Evaluator', 'serving_dir', 'serving_dir')):
    assert tasks[task_id].inputs.parameters[name].component_input_parameter == parameter, (task_id, name)


def test_no_resolver_task(compiled):
  """Self-hosted Kubeflow Pipelines v2 cannot run TFX Resolver nodes; the baseline comes from serving_dir."""
  component, text = compiled[:2]
  assert 'resolver' not in text.lower()
  executors = component.pipeline_spec.deployment_spec['executors']
  assert all('importer' not in executor for executor in executors.values())


def test_trainer_and_tuner_are_placed_on_the_gpu_pool_by_the_platform_spec(compiled):
  component = compiled[0]
  spec = component.pipeline_spec
  executors = component.component_spec.platform_spec.platforms['kubernetes'].deployment_spec.executors
  labels = {spec.components[spec.root.dag.tasks[task_id].component_ref.name].executor_label
            for task_id in ('Trainer', 'Tuner')}
  assert set(executors) == labels
  for label in labels:
    placement = executors[label]
    assert dict(placement['nodeSelector']['labels']) == {'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4'}
    assert [dict(toleration) for toleration in placement['tolerations']] == [
        {'key': 'nvidia.com/gpu', 'operator': 'Equal', 'value': 'present', 'effect': 'NoSchedule'},
        {'key': 'dedicated', 'operator': 'Exists', 'effect': 'NoExecute'}]


def test_a_malformed_toleration_is_refused(small_digits, tmp_path, capsys):
  csv_path, labels_path = small_digits
  code = cli.main(['compile', '--output', str(tmp_path / 'p.yaml'), '--data-csv', csv_path, '--labels-file',
                   labels_path, '--output-dir', str(tmp_path), '--training-tolerations', 'nvidia.com/gpu'])
  assert code == 2
  assert "training toleration 'nvidia.com/gpu': expected key[=value]:NoSchedule" in capsys.readouterr().err


def test_a_local_pipeline_root_is_warned_about(small_digits, tmp_path, capsys):
  csv_path, labels_path = small_digits
  code = cli.main(['compile', '--output', str(tmp_path / 'p.yaml'), '--data-csv', csv_path, '--labels-file',
                   labels_path, '--output-dir', str(tmp_path / 'out')])
  assert code == 0
  assert f'the pipeline root {tmp_path}/out/pipeline_root is a local path' in capsys.readouterr().err


def test_without_tuner_trials_there_is_no_tuner_and_no_tuner_trials_parameter(small_digits, tmp_path):
  csv_path, labels_path = small_digits
  output = tmp_path / 'p.yaml'
  code = cli.main(['compile', '--output', str(output), '--data-csv', csv_path, '--labels-file', labels_path,
                   '--output-dir', 'gs://bucket/visionflow', '--tuner-trials', '0'])
  assert code == 0
  spec = next(yaml.safe_load_all(output.read_text()))
  assert 'Tuner' not in spec['root']['dag']['tasks']
  assert 'tuner_trials' not in spec['root']['inputDefinitions']['parameters']
  assert spec['root']['inputDefinitions']['parameters']['epochs']['defaultValue'] == PipelineConfig.epochs


def test_compiling_for_a_remote_output_dir_without_data_writes_no_sample(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  code = cli.main(['compile', '--output', str(tmp_path / 'pipeline.yaml'), '--output-dir', 'gs://bucket/vf'])
  assert code == 2
  assert 'no data given, and the embedded sample is written only to a local output folder, not gs://bucket/vf' in (
      capsys.readouterr().err)
  assert os.listdir(tmp_path) == []


def test_evaluate_only_compiles_the_continuous_evaluation_of_production(small_digits, tmp_path):
  csv_path, labels_path = small_digits
  output = tmp_path / 'monitoring.yaml'
  assert cli.main(['compile', '--evaluate-only', '--output', str(output), '--data-csv', csv_path,
                   '--labels-file', labels_path, '--output-dir', 'gs://bucket/visionflow',
                   '--image', 'registry.example.com/visionflow:1.2', '--alert-min-accuracy', '0.97']) == 0
  spec = components.load_component_from_file(str(output)).pipeline_spec
  assert spec.pipeline_info.name == 'visionflow-monitoring'
  tasks = spec.root.dag.tasks
  assert {task_id: sorted(task.dependent_tasks) for task_id, task in tasks.items()} == {
      'FileBasedExampleGen': [], 'ProductionMonitor': ['FileBasedExampleGen']}
  monitor = _executor(spec, 'ProductionMonitor')
  assert monitor['image'] == 'registry.example.com/visionflow:1.2'
  assert list(monitor['command']) == EXECUTOR_ENTRY_POINT
  assert 'components.monitor.component.Executor' in monitor['args']
  text = output.read_text()
  assert 'gs://bucket/visionflow/pipeline_root/monitoring/history.jsonl' in text
  assert 'gs://bucket/visionflow/serving' in text and '0.97' in text


def test_the_spec_carries_the_code_fingerprint_in_examplegens_settings(compiled):
  """Kubeflow's cache key covers the task's inputs: a new fingerprint re-runs ExampleGen and all after it."""
  text = compiled[1]
  assert 'code_fingerprint' in text and code_fingerprint.fingerprint() in text


DIGEST = 'sha256:' + 'ab' * 32


def test_an_image_is_pinned_to_its_registry_digest_or_the_tag_is_warned_about():
  image = 'registry.example.com/team/visionflow:1.2'
  known = {image: ['other.example.com/visionflow@sha256:' + 'cd' * 32,
                   f'registry.example.com/team/visionflow@{DIGEST}']}
  assert kubeflow.pinned_image(image, lambda name: known.get(name, [])) == (
      f'registry.example.com/team/visionflow@{DIGEST}', None)
  by_digest = f'registry.example.com/team/visionflow@{DIGEST}'
  assert kubeflow.pinned_image(by_digest, lambda name: []) == (by_digest, None)
  kept, warning = kubeflow.pinned_image('localhost:5000/visionflow:dev', lambda name: [])
  assert kept == 'localhost:5000/visionflow:dev'
  assert warning.startswith('warning: the image localhost:5000/visionflow:dev is a tag, and no registry digest')


def test_compile_warns_when_the_image_is_a_tag_no_engine_here_can_resolve(small_digits, tmp_path, capsys):
  csv_path, labels_path = small_digits
  assert cli.main(['compile', '--output', str(tmp_path / 'p.yaml'), '--data-csv', csv_path, '--labels-file',
                   labels_path, '--output-dir', 'gs://bucket/v', '--image', 'registry.example.com/visionflow:9.9']) == 0
  assert "warning: the image registry.example.com/visionflow:9.9 is a tag" in capsys.readouterr().err
  pinned = f'registry.example.com/visionflow@{DIGEST}'
  assert cli.main(['compile', '--output', str(tmp_path / 'q.yaml'), '--data-csv', csv_path, '--labels-file',
                   labels_path, '--output-dir', 'gs://bucket/v', '--image', pinned]) == 0
  assert 'is a tag' not in capsys.readouterr().err
  assert pinned in (tmp_path / 'q.yaml').read_text()


def test_score_span_runs_after_the_pusher_and_never_from_kubeflows_cache(small_digits, tmp_path):
  csv_path, labels_path = small_digits
  output = tmp_path / 'p.yaml'
  code = cli.main(['compile', '--output', str(output), '--data-csv', csv_path, '--labels-file', labels_path,
                   '--output-dir', 'gs://bucket/visionflow', '--score-span', 'gs://bucket/unlabelled/*.jpg'])
  assert code == 0
  tasks = next(yaml.safe_load_all(output.read_text()))['root']['dag']['tasks']
  assert tasks['ScoreSpan']['dependentTasks'] == ['Pusher']
  assert tasks['ScoreSpan']['cachingOptions'] == {'enableCache': False}
  assert tasks['Pusher']['cachingOptions'] == {'enableCache': True}
