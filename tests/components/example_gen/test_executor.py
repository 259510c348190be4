"""The image ExampleGen executor on messy folders: every row ends in a split or in rejects.csv."""
import csv
import glob
import os
import random
import shutil

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.testing import util as beam_testing
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.example_gen import executor
from components.example_gen import image_rows
from components import input_files
from components import features
from components import names
from tests.components import image_files

SPLITS = ('train', 'eval', 'test')


def _run_example_gen(csv_path, output_dir, range_config=None, buckets=(8, 1, 1), **settings):
  """Calls the executor as an orchestrator that runs no driver would (self-hosted Kubeflow Pipelines)."""
  if 'labels' not in settings:
    settings['labels'] = tuple(image_rows.read_labels(os.path.join(os.path.dirname(csv_path), 'labels.txt')))
  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  input_base, input_config = executor.make_input_config(csv_path)
  exec_properties = {
      'input_base': input_base,
      'input_config': proto_utils.proto_to_json(input_config),
      'output_config': proto_utils.proto_to_json(executor.make_output_config(*buckets)),
      'custom_config': proto_utils.proto_to_json(executor.make_custom_config(executor.Settings(**settings))),
      'output_data_format': example_gen_pb2.FORMAT_TF_EXAMPLE,
      'output_file_format': example_gen_pb2.FORMAT_TFRECORDS_GZIP,
      'range_config': range_config,
  }
  executor.Executor().Do({}, {'examples': [examples]}, exec_properties)
  return examples


def _examples_by_split(output_dir):
  result = {}
  for split in SPLITS:
    files = glob.glob(os.path.join(output_dir, f'Split-{split}', '*'))
    assert files, f'no output files for split {split}'
    result[split] = [tf.train.Example.FromString(record.numpy()).features.feature
                     for record in tf.data.TFRecordDataset(files)]
  return result


def _split_of_paths(output_dir):
  return {feature[features.PATH].bytes_list.value[0].decode(): split
          for split, examples in _examples_by_split(output_dir).items() for feature in examples}


def _rejects(output_dir):
  with open(os.path.join(output_dir, names.REJECTS_FILE), newline='') as handle:
    return list(csv.DictReader(handle))


def _copy_digits(small_digits, target, count):
  """The first `count` digit rows and their images, copied under `target`; returns the CSV lines."""
  csv_path, labels_path = small_digits
  os.makedirs(target, exist_ok=True)
  shutil.copy(labels_path, os.path.join(target, 'labels.txt'))
  lines = []
  with open(csv_path, newline='') as handle:
    for path, label in list(csv.reader(handle))[:count]:
      os.makedirs(os.path.join(target, os.path.dirname(path)), exist_ok=True)
      shutil.copy(os.path.join(os.path.dirname(csv_path), path), os.path.join(target, path))
      lines.append(f'{path},{label}')
  return lines


def test_split_follows_the_image_not_the_row_order(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'data', 120)
  (tmp_path / 'data' / 'first.csv').write_text('\n'.join(lines) + '\n')
  random.Random(1).shuffle(lines)
  (tmp_path / 'data' / 'shuffled.csv').write_text('\n'.join(lines) + '\n')

  first = _split_of_paths(_run_example_gen(str(tmp_path / 'data' / 'first.csv'), str(tmp_path / 'a')).uri)
  second = _split_of_paths(_run_example_gen(str(tmp_path / 'data' / 'shuffled.csv'), str(tmp_path / 'b')).uri)

  assert len(first) == 120 and first == second
  counts = {split: list(first.values()).count(split) for split in SPLITS}
  assert counts['train'] > counts['eval'] > 0 and counts['train'] > counts['test'] > 0


@pytest.fixture
def messy_folder(small_digits, tmp_path):
  """40 good digit scans plus one row of every kind of trouble users' folders have."""
  data = tmp_path / 'data'
  lines = _copy_digits(small_digits, data, 40)
  first_path, first_label = lines[0].split(',')
  (data / 'zero' / 'with, comma.jpg').write_bytes((data / first_path).read_bytes())
  (data / 'zero' / 'copy of first.jpg').write_bytes((data / first_path).read_bytes())
  (data / 'zero' / 'empty.jpg').write_bytes(b'')
  (data / 'zero' / 'truncated.jpg').write_bytes(image_files.truncated_jpeg())
  (data / 'zero' / 'corrupt.jpg').write_bytes(image_files.corrupt_jpeg())
  (data / 'zero' / 'folder.jpg').mkdir()
  (data / 'zero' / 'bomb.png').write_bytes(image_files.png_header_only(100_000, 100_000))
  (data / 'zero' / 'large.png').write_bytes(image_files.png_header_only(12_000, 6_000))
  for image_format in ('PNG', 'GIF', 'BMP'):
    (data / 'zero' / f'ok.{image_format.lower()}').write_bytes(image_files.encoded(image_format))
  trouble = [
      ('', None),                                       # blank line
      (lines[0], 'duplicate of row 1 (same image path)'),
      ('"zero/with, comma.jpg",zero', None),             # quoted comma: accepted
      (f'zero/copy of first.jpg,{first_label}', None),   # same bytes as row 1 under another path
      ('zero/missing.jpg,zero', 'image file not found'),
      ('zero/folder.jpg,zero', 'image file unreadable'),
      ('zero/empty.jpg,zero', 'empty file (0 bytes)'),
      ('zero/truncated.jpg,zero', 'corrupt or truncated jpeg data'),
      ('zero/corrupt.jpg,zero', 'not a readable image: no known image header'),
      ('zero/bomb.png,zero', 'image too large'),
      ('zero/large.png,zero', 'image too large: 12000x6000'),
      (f'{lines[1].split(",")[0]}x,dandelion', "label 'dandelion' is not in the labels file"),
      ('zero/ok.png,zero', None),
      ('zero/ok.gif,zero', None),
      ('zero/ok.bmp,zero', None),
      ('zero/ok.bmp', 'expected 2 or 3 columns'),
      ('zero/nul\x00byte.jpg,zero', 'image path unusable: the path holds a NUL byte'),
  ]
  text = '\ufeff' + '\n'.join(lines + [line for line, _ in trouble]) + '\n'
  (data / 'all_data.csv').write_text(text, encoding='utf-8')
  expected_rejects = {len(lines) + index + 1: reason for index, (_, reason) in enumerate(trouble) if reason}
  return data / 'all_data.csv', len(lines), expected_rejects


def test_every_row_ends_in_one_split_or_in_rejects(messy_folder, tmp_path):
  csv_path, good_rows, expected_rejects = messy_folder
  examples = _run_example_gen(str(csv_path), str(tmp_path / 'out'), max_reject_fraction=1.0)

  rejects = _rejects(examples.uri)
  assert [int(row['row']) for row in rejects] == sorted(expected_rejects)
  for row in rejects:
    assert row['reason'].startswith(expected_rejects[int(row['row'])]), row
    assert '{{' not in row['reason'] and '[Op:' not in row['reason'], row  # the decoder's words, not TensorFlow's
  assert rejects[-1]['path'] == 'zero/nul\\x00byte.jpg'  # printable in the report
  by_split = _split_of_paths(examples.uri)
  accepted_trouble = {'zero/with, comma.jpg', 'zero/copy of first.jpg', 'zero/ok.png', 'zero/ok.gif',
                      'zero/ok.bmp'}
  assert len(by_split) == good_rows + len(accepted_trouble)
  assert accepted_trouble <= set(by_split)
  first_path = next(iter(by_split))  # row 1's path; its byte-identical copy must share its split
  assert by_split['zero/copy of first.jpg'] == by_split[first_path]

  formats = {feature[features.PATH].bytes_list.value[0].decode(): feature[features.FORMAT].bytes_list.value[0]
             for split in _examples_by_split(examples.uri).values() for feature in split}
  assert (formats['zero/ok.png'], formats['zero/ok.gif'], formats['zero/ok.bmp']) == (b'png', b'gif', b'bmp')

  properties = examples.mlmd_artifact.custom_properties
  assert properties['accepted_rows'].int_value == len(by_split)
  assert properties['rejected_rows'].int_value == len(expected_rejects)
  assert sum(properties[f'accepted_rows_{split}'].int_value for split in SPLITS) == len(by_split)
  assert properties['rejects_uri'].string_value == os.path.join(examples.uri, 'rejects.csv')


def test_too_many_rejects_fail_the_run_naming_counts_and_the_report(messy_folder, tmp_path):
  csv_path, good_rows, expected_rejects = messy_folder
  total = good_rows + 5 + len(expected_rejects)
  with pytest.raises(executor.RejectedRowsError) as raised:
    _run_example_gen(str(csv_path), str(tmp_path / 'out'), max_reject_fraction=0.05)
  message = str(raised.value)
  assert f'accepted {good_rows + 5}, rejected {len(expected_rejects)} of {total} rows' in message
  assert 'max_reject_fraction=0.05' in message
  # TFX deletes a failed execution's outputs: the report is kept beside them, where the message says.
  assert os.path.join(str(tmp_path / 'out-refused'), 'rejects.csv') in message
  assert len(_rejects(str(tmp_path / 'out-refused'))) == len(expected_rejects)


def test_no_valid_row_fails_the_run(tmp_path):
  (tmp_path / 'labels.txt').write_text('red\n')
  (tmp_path / 'all.csv').write_text('a.jpg,red\nb.jpg,red\n')
  with pytest.raises(executor.RejectedRowsError, match='no valid row: accepted 0, rejected 2'):
    _run_example_gen(str(tmp_path / 'all.csv'), str(tmp_path / 'out'), max_reject_fraction=1.0)


def test_split_column_is_honoured_and_extra_columns_become_features(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'data', 12)
  splits = ['train', 'validation', 'test'] * 4
  rows = [f'{line},{split},site_{index % 2}' for index, (line, split) in enumerate(zip(lines, splits))]
  (tmp_path / 'data' / 'all.csv').write_text('image_path,label,split,site\n' + '\n'.join(rows) + '\n')
  examples = _run_example_gen(str(tmp_path / 'data' / 'all.csv'), str(tmp_path / 'out'), csv_header=True)
  by_split = _examples_by_split(examples.uri)
  for split, expected in (('train', 'train'), ('eval', 'validation'), ('test', 'test')):
    paths = {feature[features.PATH].bytes_list.value[0].decode() for feature in by_split[split]}
    assert paths == {line.split(',')[0] for line, name in zip(lines, splits) if name == expected}
  sites = {feature['site'].bytes_list.value[0] for examples in by_split.values() for feature in examples}
  assert sites == {b'site_0', b'site_1'}


def test_one_image_named_in_two_splits_fails_the_run(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'data', 3)
  path, label = lines[0].split(',')
  shutil.copy(tmp_path / 'data' / path, tmp_path / 'data' / 'copy.jpg')
  text = f'{lines[0]},train\n{lines[1]},train\n{lines[2]},test\ncopy.jpg,{label},test\n'
  (tmp_path / 'data' / 'all.csv').write_text(text)
  with pytest.raises(executor.RejectedRowsError, match='same image bytes appear on rows that name different'):
    _run_example_gen(str(tmp_path / 'data' / 'all.csv'), str(tmp_path / 'out'))
  with open(tmp_path / 'out-refused' / names.SPLIT_CONFLICTS_FILE, newline='') as handle:
    conflicts = list(csv.reader(handle))
  assert conflicts == [['row', 'split', 'same image bytes as'], ['1', 'train', 'row 4 (test)'],
                       ['4', 'test', 'row 1 (train)']]


def test_shards_are_cut_by_bytes_uncompressed_and_read_back_by_tfx_readers(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'data', 120)
  (tmp_path / 'data' / 'all.csv').write_text('\n'.join(lines) + '\n')
  examples = _run_example_gen(str(tmp_path / 'data' / 'all.csv'), str(tmp_path / 'out'), shard_bytes=20_000)
  train_files = sorted(glob.glob(os.path.join(examples.uri, 'Split-train', '*')))
  assert len(train_files) >= 3 and not any(path.endswith('.gz') for path in train_files)
  sizes = [sum(len(record.numpy()) for record in tf.data.TFRecordDataset(path)) for path in train_files]
  assert sorted(sizes)[1] >= 20_000  # all but the last file of the bundle reach the shard size
  # Beam's TFRecord source, which StatisticsGen, Transform and the Evaluator read through, picks the
  # compression from the file name: it must read every record back.
  with beam.Pipeline() as pipeline:
    counted = (pipeline | beam.io.ReadFromTFRecord(os.path.join(examples.uri, 'Split-train', '*'))
               | beam.combiners.Count.Globally())
    beam_testing.assert_that(counted, beam_testing.equal_to(
        [examples.get_int_custom_property(names.accepted_rows_in('train'))]))
  assert not os.path.exists(os.path.join(examples.uri, '.incomplete'))


def test_a_folder_of_class_sub_folders_needs_no_csv(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'data', 30)
  os.remove(tmp_path / 'data' / 'labels.txt')
  (tmp_path / 'data' / 'zero' / 'notes.txt').write_text('not an image')
  labels = image_rows.folder_classes(str(tmp_path / 'data'))
  assert labels == sorted({line.split(',')[1] for line in lines})

  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / 'out')
  input_base, input_config = executor.make_folder_input_config(str(tmp_path / 'data'))
  executor.Executor().Do({}, {'examples': [examples]}, {
      'input_base': input_base,
      'input_config': proto_utils.proto_to_json(input_config),
      'output_config': proto_utils.proto_to_json(executor.make_output_config(8, 1, 1)),
      'custom_config': proto_utils.proto_to_json(executor.make_custom_config(executor.Settings(
          labels=tuple(labels), layout='folder', max_reject_fraction=0.1))),
  })

  by_split = _split_of_paths(examples.uri)
  assert set(by_split) == {line.split(',')[0] for line in lines}
  [reject] = _rejects(examples.uri)
  with open(os.path.join(examples.uri, names.DERIVED_CSV_FILE)) as handle:
    derived = handle.read().splitlines()
  assert derived[int(reject['row']) - 1] == 'zero/notes.txt,zero'
  assert reject['reason'] == 'not a readable image: no known image header'


def test_csv_and_images_on_a_non_local_file_system(small_digits, tmp_path):
  """gs:// works the same way: every read goes through TensorFlow's file systems (here its ram://)."""
  csv_path, labels_path = small_digits
  remote = f'ram://visionflow-test-{os.getpid()}/flowers'
  with open(csv_path, newline='') as handle:
    rows = list(csv.reader(handle))[:40]
  for relative, _ in rows:
    tf.io.gfile.makedirs(f'{remote}/{os.path.dirname(relative)}')
    tf.io.gfile.copy(os.path.join(os.path.dirname(csv_path), relative), f'{remote}/{relative}')
  with tf.io.gfile.GFile(f'{remote}/all.csv', 'w') as handle:
    handle.write(''.join(f'{relative},{label}\n' for relative, label in rows))

  examples = _run_example_gen(f'{remote}/all.csv', str(tmp_path / 'out'),
                              labels=tuple(image_rows.read_labels(labels_path)))
  assert set(_split_of_paths(examples.uri)) == {relative for relative, _ in rows}
  assert examples.get_int_custom_property('rejected_rows') == 0


def test_a_split_left_empty_fails_in_example_gen_naming_it_and_the_counts(small_digits, tmp_path):
  """Rows that are rejected or duplicated can leave a split with nothing: Transform and the Trainer would
  fail far later on a missing feature, so ExampleGen refuses the data, keeping the rejects report."""
  lines = _copy_digits(small_digits, tmp_path / 'data', 6)
  rows = [f'{line},train' for line in lines[:4]] + [f'{lines[4]},test', f'{lines[4]},test', 'gone.jpg,zero,eval']
  (tmp_path / 'data' / 'all.csv').write_text('\n'.join(rows) + '\n')
  with pytest.raises(executor.RejectedRowsError) as error:
    _run_example_gen(str(tmp_path / 'data' / 'all.csv'), str(tmp_path / 'out'), max_reject_fraction=0.5)
  refused_rejects = os.path.join(str(tmp_path / 'out-refused'), 'rejects.csv')
  assert str(error.value) == (
      f'{tmp_path / "data" / "all.csv"}: split eval would be empty: accepted 5 rows (train 4, eval 0, test 1), '
      f'rejected 2; every split needs examples (add rows, or name splits in a split column). '
      f'Reasons per row: {refused_rejects}')
  assert [row['reason'] for row in _rejects(str(tmp_path / 'out-refused'))] == [
      'duplicate of row 5 (same image path)', 'image file not found']


def test_a_csv_that_is_not_utf8_stops_example_gen_before_any_row(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'data', 3)
  (tmp_path / 'data' / 'all.csv').write_bytes(('\n'.join(lines) + '\nna\xefve.jpg,zero\n').encode('latin-1'))
  with pytest.raises(input_files.InputFileError, match=r'all\.csv: line 4, byte \d+: byte 0xef is not UTF-8'):
    _run_example_gen(str(tmp_path / 'data' / 'all.csv'), str(tmp_path / 'out'))
  assert not glob.glob(str(tmp_path / 'out' / 'Split-*' / '*'))


def test_the_accepted_images_colour_and_sizes_are_counted_for_the_models_defaults(tmp_path):
  """Transform chooses the model's defaults from these counts; a rejected image must not sway them."""
  from PIL import Image
  data = tmp_path / 'data'
  data.mkdir()
  files = {'a.jpg': image_files.photo_jpeg(size=(150, 100)), 'b.jpg': image_files.photo_jpeg(size=(160, 110)),
           'c.jpg': image_files.photo_jpeg(size=(170, 120)),
           'grey.jpg': image_files.photo_jpeg(size=(40, 40), mode='L'),
           'grey_rgb.jpg': image_files.grey_stored_as_rgb('JPEG'),
           'grey_rgb.png': image_files.grey_stored_as_rgb('PNG'),
           'big.png': image_files.encoded('PNG', size=(300, 230)), 'cut.jpg': image_files.truncated_jpeg()}
  for name, content in files.items():
    (data / name).write_bytes(content)
  assert Image.open(data / 'big.png').mode == Image.open(data / 'grey_rgb.jpg').mode == 'RGB'
  splits = ['train', 'eval', 'test', 'train', 'train', 'train', 'train', 'train']
  (data / 'all_data.csv').write_text(''.join(f'{name},red,{split}\n' for name, split in zip(files, splits)))
  (data / 'labels.txt').write_text('red\n')
  examples = _run_example_gen(str(data / 'all_data.csv'), str(tmp_path / 'out'), max_reject_fraction=0.5)
  assert examples.get_int_custom_property(names.ACCEPTED_ROWS) == 7
  # colour from the pixels: not grey.jpg, nor the grey images stored as RGB, nor the rejected cut.jpg
  assert examples.get_int_custom_property(names.COLOUR_IMAGES) == 4
  assert examples.get_json_value_custom_property(names.SHORTER_SIDE_AT_LEAST) == {
      '32': 7, '48': 4, '64': 4, '96': 4, '128': 1, '160': 1, '192': 1, '224': 1}
