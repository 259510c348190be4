import glob
import os
import random

import tensorflow as tf
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import features
from components.example_gen import executor
from components.example_gen import image_csv


def _run_example_gen(csv_path, labels, output_dir):
  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  input_base, input_config = executor.make_input_config(csv_path)
  exec_properties = {
      'input_base': input_base,
      'input_config': proto_utils.proto_to_json(input_config),
      'output_config': proto_utils.proto_to_json(executor.make_output_config(8, 1, 1)),
      'custom_config': proto_utils.proto_to_json(executor.make_custom_config(labels)),
      'output_data_format': example_gen_pb2.FORMAT_TF_EXAMPLE,
      'output_file_format': example_gen_pb2.FORMAT_TFRECORDS_GZIP,
  }
  executor.Executor().Do({}, {'examples': [examples]}, exec_properties)
  return _paths_by_split(output_dir)


def _paths_by_split(output_dir):
  result = {}
  for split in ('train', 'eval', 'test'):
    files = glob.glob(os.path.join(output_dir, f'Split-{split}', '*.gz'))
    assert files, f'no output files for split {split}'
    for record in tf.data.TFRecordDataset(files, compression_type='GZIP'):
      example = tf.train.Example.FromString(record.numpy())
      result[example.features.feature[features.PATH].bytes_list.value[0].decode()] = split
  return result


def test_every_row_lands_in_one_split_and_the_split_follows_the_path(small_digits, tmp_path):
  csv_path, labels_path = small_digits
  labels = image_csv.read_labels(labels_path)
  with open(csv_path) as handle:
    lines = handle.read().splitlines()
  first = _run_example_gen(csv_path, labels, str(tmp_path / 'first'))

  # The same rows in another order, from another CSV in the same folder.
  random.Random(1).shuffle(lines)
  shuffled_csv = os.path.join(os.path.dirname(csv_path), 'shuffled.csv')
  with open(shuffled_csv, 'w') as handle:
    handle.write('\n'.join(lines) + '\n')
  second = _run_example_gen(shuffled_csv, labels, str(tmp_path / 'second'))

  assert len(first) == len(lines) == 120
  assert first == second
  counts = {split: list(first.values()).count(split) for split in ('train', 'eval', 'test')}
  assert counts['train'] > counts['eval'] > 0 and counts['train'] > counts['test'] > 0
