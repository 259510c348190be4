"""Spans: data arriving over time, read through TFX's FileBasedExampleGen driver on LocalDagRunner."""
import csv
import os
import shutil

from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.example_gen import executor
from components.example_gen import image_rows
from pipeline.inspect import runs as runs_lib
from tests.components.example_gen.test_executor import _copy_digits
from tests.components.example_gen.test_executor import _run_example_gen as _run_example_gen_directly
from tests.components.example_gen.test_executor import _split_of_paths


def _run_example_gen(csv_pattern, work_dir, num_spans=1, buckets=(8, 1, 1)):
  """Runs ExampleGen alone, as the pipeline wires it; returns the newest Examples artifact."""
  input_base, input_config = executor.make_input_config(csv_pattern)
  labels = image_rows.folder_classes(os.path.join(work_dir, 'digits'))
  example_gen = FileBasedExampleGen(
      input_base=input_base, input_config=input_config,
      output_config=executor.make_output_config(*buckets),
      custom_config=executor.make_custom_config(executor.Settings(
          labels=tuple(labels), input_pattern=input_config.splits[0].pattern, num_spans=num_spans)),
      custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor))
  metadata_path = os.path.join(work_dir, 'metadata.sqlite')
  LocalDagRunner().run(tfx_pipeline.Pipeline(
      pipeline_name='spans', pipeline_root=os.path.join(work_dir, 'root'), components=[example_gen],
      metadata_connection_config=runs_lib.sqlite_connection_config(metadata_path), enable_cache=False))
  return max(runs_lib.open_store(metadata_path).get_artifacts_by_type('Examples'), key=lambda a: a.id)


def _span_folder(small_digits, root, name, lines):
  """A span folder with its own CSV over the given digit rows, images copied in."""
  folder = os.path.join(root, name)
  for line in lines:
    path = line.split(',')[0]
    os.makedirs(os.path.join(folder, os.path.dirname(path)), exist_ok=True)
    shutil.copy(os.path.join(root, 'digits', path), os.path.join(folder, path))
  with open(os.path.join(folder, 'all.csv'), 'w') as handle:
    handle.write('\n'.join(lines) + '\n')


def _paths(artifact):
  return _split_of_paths(artifact.uri)


def test_the_newest_span_is_read_and_old_images_keep_their_split(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'digits', 100)
  pattern = str(tmp_path / 'span-{SPAN}' / 'all.csv')
  _span_folder(small_digits, str(tmp_path), 'span-1', lines[:60])
  first = _run_example_gen(pattern, str(tmp_path))
  _span_folder(small_digits, str(tmp_path), 'span-2', lines)  # the old images plus 40 new ones
  second = _run_example_gen(pattern, str(tmp_path))

  assert first.properties['span'].int_value == 1 and second.properties['span'].int_value == 2
  first_splits, second_splits = _paths(first), _paths(second)
  assert len(first_splits) == 60 and len(second_splits) == 100
  assert {path: second_splits[path] for path in first_splits} == first_splits


def test_the_last_n_spans_are_read_together(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'digits', 90)
  pattern = str(tmp_path / 'span-{SPAN}' / 'all.csv')
  for span, chunk in enumerate((lines[:30], lines[30:60], lines[60:]), start=1):
    _span_folder(small_digits, str(tmp_path), f'span-{span}', chunk)
  with open(tmp_path / 'span-2' / 'all.csv', 'a') as handle:
    handle.write('zero/missing.jpg,zero\n')
  newest_two = _run_example_gen(pattern, str(tmp_path), num_spans=2)
  assert set(_paths(newest_two)) == {line.split(',')[0] for line in lines[30:]}
  with open(newest_two.custom_properties['rejects_uri'].string_value, newline='') as handle:
    [reject] = list(csv.DictReader(handle))
  assert (reject['row'], reject['csv']) == ('31', str(tmp_path / 'span-2' / 'all.csv'))


def test_dated_folders_read_the_newest_day(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'digits', 40)
  _span_folder(small_digits, str(tmp_path), '2026-11-20', lines[:25])
  _span_folder(small_digits, str(tmp_path), '2026-11-22', lines[25:])
  artifact = _run_example_gen(str(tmp_path / '{YYYY}-{MM}-{DD}' / 'all.csv'), str(tmp_path), buckets=(1, 1, 1))
  assert set(_paths(artifact)) == {line.split(',')[0] for line in lines[25:]}


def test_without_the_driver_the_executor_reads_the_newest_span(small_digits, tmp_path):
  """Self-hosted Kubeflow Pipelines does not run TFX's driver: the executor gets the pattern unresolved."""
  lines = _copy_digits(small_digits, tmp_path / 'digits', 50)
  _span_folder(small_digits, str(tmp_path), 'span-1', lines[:20])
  _span_folder(small_digits, str(tmp_path), 'span-2', lines)
  shutil.copy(tmp_path / 'digits' / 'labels.txt', tmp_path / 'span-2' / 'labels.txt')
  labels = image_rows.folder_classes(str(tmp_path / 'digits'))
  examples = _run_example_gen_directly(str(tmp_path / 'span-{SPAN}' / 'all.csv'), str(tmp_path / 'out'),
                                       labels=tuple(labels))
  assert examples.span == 2
  assert len(_split_of_paths(examples.uri)) == 50


def test_without_the_driver_a_range_config_pins_an_older_span(small_digits, tmp_path):
  lines = _copy_digits(small_digits, tmp_path / 'digits', 50)
  _span_folder(small_digits, str(tmp_path), 'span-1', lines[:20])
  _span_folder(small_digits, str(tmp_path), 'span-2', lines)
  labels = image_rows.folder_classes(str(tmp_path / 'digits'))
  examples = _run_example_gen_directly(
      str(tmp_path / 'span-{SPAN}' / 'all.csv'), str(tmp_path / 'out'), labels=tuple(labels),
      range_config='{"static_range": {"start_span_number": 1, "end_span_number": 1}}', buckets=(1, 1, 1))
  assert examples.span == 1
  assert len(_split_of_paths(examples.uri)) == 20
