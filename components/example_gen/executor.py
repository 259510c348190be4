"""A FileBasedExampleGen executor that turns a CSV of image paths and labels into tf.Examples with Beam."""
import json
import os
from typing import Any, Dict, List, Tuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format
from google.protobuf import struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

from components import features
from components.example_gen import image_csv

LABELS_KEY = 'labels'


def make_custom_config(labels: List[str]) -> example_gen_pb2.CustomConfig:
  """The executor's settings, packed the way FileBasedExampleGen carries them (a Struct in an Any)."""
  settings = struct_pb2.Struct()
  settings.update({LABELS_KEY: list(labels)})
  custom_config = example_gen_pb2.CustomConfig()
  custom_config.custom_config.Pack(settings)
  return custom_config


def make_input_config(csv_path: str) -> Tuple[str, example_gen_pb2.Input]:
  """(input_base, input_config) that point FileBasedExampleGen at one CSV file."""
  return os.path.dirname(csv_path), example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name='all', pattern=os.path.basename(csv_path))])


def make_output_config(train_buckets: int, eval_buckets: int, test_buckets: int) -> example_gen_pb2.Output:
  """train/eval/test by a hash of the image path: an image keeps its split from run to run."""
  return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
      splits=[example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=train_buckets),
              example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=eval_buckets),
              example_gen_pb2.SplitConfig.Split(name='test', hash_buckets=test_buckets)],
      partition_feature_name=features.PATH))


def parse_custom_config(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
  custom_config = example_gen_pb2.CustomConfig()
  json_format.Parse(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], custom_config)
  settings = struct_pb2.Struct()
  if not custom_config.custom_config.Unpack(settings):
    raise ValueError('ExampleGen custom_config must hold a google.protobuf.Struct; '
                     'build it with components.example_gen.executor.make_custom_config')
  return json.loads(json_format.MessageToJson(settings))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def ImageCsvToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                      split_pattern: str) -> beam.pvalue.PCollection:
  """Reads `<input_base>/<split_pattern>` (the CSV) and emits one tf.Example per row."""
  csv_path = image_csv.resolve_image_path(exec_properties[standard_component_specs.INPUT_BASE_KEY] + '/',
                                          split_pattern)
  labels = parse_custom_config(exec_properties)[LABELS_KEY]
  return (pipeline
          | 'ReadCsvRows' >> beam.Create(list(image_csv.read_rows(csv_path)))
          | 'ReadImages' >> beam.Map(image_csv.row_to_example, labels=labels))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return ImageCsvToExample
