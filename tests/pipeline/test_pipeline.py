"""The DAG as wired for every runner, and what TFX's Kubeflow v2 compiler makes of it."""
import pytest
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipeline import local_runner
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.pipeline import read_class_labels

COMPONENT_IDS = ['FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'Transform', 'Tuner',
                 'Trainer', 'Evaluator', 'Pusher']


@pytest.fixture(scope='module')
def config(small_digits, tmp_path_factory):
  csv_path, labels_path = small_digits
  return local_runner.resolve_data(PipelineConfig(
      data_csv=csv_path, labels_file=labels_path, output_dir=str(tmp_path_factory.mktemp('out')),
      serving_dir='gs://bucket/serving'))


def test_evaluator_and_pusher_read_and_write_the_configured_serving_dir(config):
  pipeline = create_pipeline(config, read_class_labels(config))
  assert [component.id for component in pipeline.components] == COMPONENT_IDS
  nodes = {component.id: component for component in pipeline.components}
  for node_id in ('Evaluator', 'Pusher'):
    assert nodes[node_id].exec_properties['serving_dir'] == 'gs://bucket/serving'
    assert nodes[node_id].exec_properties['model_name'] == 'image_classifier'
  assert {channel.producer_component_id for channel in nodes['Pusher'].inputs.values()} == {
      'Trainer', 'Evaluator', 'FileBasedExampleGen'}


def test_the_kubeflow_v2_spec_has_every_component_and_no_resolver(config):
  """Self-hosted Kubeflow Pipelines v2 cannot run TFX Resolver nodes; the baseline comes from serving_dir."""
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image='visionflow:test'))
  job = runner.run(create_pipeline(config, read_class_labels(config)), write_out=False)
  spec = job['pipelineSpec']
  tasks = spec['root']['dag']['tasks']
  assert sorted(tasks) == sorted(COMPONENT_IDS)
  executors = spec['deploymentSpec']['executors']
  assert all('resolver' not in name.lower() and 'resolver' not in executor
             for name, executor in executors.items())
  assert all('importer' not in executor for executor in executors.values())
  assert tasks['Pusher']['dependentTasks'] == sorted(['Evaluator', 'FileBasedExampleGen', 'Trainer'])
  evaluator_args = executors[tasks['Evaluator']['taskInfo']['name'] + '_executor']['container']['args']
  assert any('components.evaluator.Executor' in argument for argument in evaluator_args)
