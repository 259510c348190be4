"""The DAG as wired for every runner."""
import json

import pytest

from components import executor_settings
from components.transform import component as transform_component
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.pipeline import read_class_labels
from pipeline.runners import local as local_runner

COMPONENT_IDS = ['FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'Transform',
                 'DataReport', 'Tuner', 'Trainer', 'Evaluator', 'Pusher']


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
    assert json.loads(nodes[node_id].exec_properties['settings'])['model_name'] == 'image_classifier'
  assert {channel.producer_component_id for channel in nodes['Pusher'].inputs.values()} == {
      'Trainer', 'Evaluator', 'FileBasedExampleGen'}


def test_training_placement_reaches_the_trainer_for_its_tfjob(config):
  placed = config.replace(training_node_selector={'pool': 'gpu'},
                          training_tolerations=('nvidia.com/gpu:NoSchedule',))
  pipeline = create_pipeline(placed, read_class_labels(placed))
  trainer = next(component for component in pipeline.components if component.id == 'Trainer')
  custom_config = json.loads(trainer.exec_properties['custom_config'])
  assert custom_config['node_selector'] == {'pool': 'gpu'}
  assert custom_config['tolerations'] == ['nvidia.com/gpu:NoSchedule']


def test_transform_leaves_the_statistics_to_statistics_gen(config):
  pipeline = create_pipeline(config, read_class_labels(config))
  transform = next(component for component in pipeline.components if component.id == 'Transform')
  assert transform.exec_properties['disable_statistics'] == 1
  assert {'transform_graph', 'transformed_examples'} <= set(transform.outputs)
  assert not {name for name in transform.outputs if name.endswith('_stats')}


def test_transform_reads_back_the_labels_and_the_configured_model_request(config):
  placed = config.replace(image_size=64, backbone='small_cnn')
  pipeline = create_pipeline(placed, read_class_labels(placed))
  transform = next(component for component in pipeline.components if component.id == 'Transform')
  settings = executor_settings.from_json_dict(
      transform_component.TransformSettings, json.loads(transform.exec_properties['custom_config']))
  assert settings.labels == tuple(read_class_labels(placed))
  assert (settings.model_request.image_size, settings.model_request.backbone) == (64, 'small_cnn')
  assert settings.model_request.augment_flip is None  # left to the data


def test_score_span_is_keyed_by_its_images_fingerprint(config, tmp_path):
  """New images at the same path change ScoreSpan's execution properties, so TFX's cache does not reuse it."""
  from components.batch_inference import scoring
  (tmp_path / 'a.jpg').write_bytes(b'x')
  spanned = config.replace(score_span=str(tmp_path))
  before = scoring.source_fingerprint(str(tmp_path))
  (tmp_path / 'b.jpg').write_bytes(b'y')
  assert scoring.source_fingerprint(str(tmp_path)) != before
  pipeline = create_pipeline(spanned, read_class_labels(spanned), images_fingerprint=before)
  score_span = pipeline.components[-1]
  assert score_span.id == 'ScoreSpan' and score_span.exec_properties['images_fingerprint'] == before
  assert {channel.producer_component_id for channel in score_span.inputs.values()} == {'Pusher'}
