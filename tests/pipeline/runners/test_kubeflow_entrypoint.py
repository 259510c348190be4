"""The Kubeflow entrypoint on what self-hosted Kubeflow Pipelines v2 passes: inputs typed four ways, an output
of KFP's own, folder markers on a gs:// output (in a Cloud Storage emulator), and a crash at interpreter
shutdown. Each step runs TFX's real parsing and a small executor that records what TFX built."""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from tfx.dsl.components.base import base_executor
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import compat
from pipeline.runners import kubeflow_entrypoint
from tests.containers.kfp_harness import EXECUTOR_LOGS, InputTyping, input_type

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RECORD = 'record'
FILLER_BYTES = 1024 * 1024  # four times conftest's small disk
BUCKET = 'visionflow'
INPUT_TYPES = {'examples': standard_artifacts.Examples, 'model': standard_artifacts.Model}
# The entrypoint as the image runs it, in a process whose interpreter shutdown aborts as a destructor crash does.
CRASHING_AT_SHUTDOWN = ('import atexit, os, runpy; atexit.register(os.abort); '
                        "runpy.run_module('pipeline.runners.kubeflow_entrypoint', run_name='__main__')")


class RecordingExecutor(base_executor.BaseExecutor):
  """Writes what TFX parsed (each artifact's class and properties) to its `record` output.

  On a gs:// output it writes through the Cloud Storage client, with a zero-byte object for each folder as
  TensorFlow's GCS file system does.
  """

  def Do(self, input_dict, output_dict, exec_properties):
    if exec_properties.get('fail'):
      raise RuntimeError('the executor failed')
    if exec_properties.get('fill'):
      uri = artifact_utils.get_single_uri(output_dict[RECORD])
      with open(os.path.join(uri, 'filler'), 'wb') as handle:
        handle.write(b'x' * FILLER_BYTES)
    record = {key: {'class': type(artifact).__name__,
                    'properties': {name: getattr(artifact, name) for name in artifact.PROPERTIES or {}}}
              for key, artifacts in {**input_dict, **output_dict}.items() for artifact in artifacts}
    uri = artifact_utils.get_single_uri(output_dict[RECORD])
    if uri.startswith('gs://'):
      _write_as_tensorflow_does_on_gcs(uri, {'Format-Serving/record.json': json.dumps(record),
                                             'Format-Serving/variables/data': 'weights',
                                             'Format-Serving/assets/': None})
    else:
      os.makedirs(uri, exist_ok=True)
      with open(os.path.join(uri, 'record.json'), 'w') as handle:
        json.dump(record, handle)


def _write_as_tensorflow_does_on_gcs(uri, files):
  """Each file, after a zero-byte `folder/` object for every folder on its path from the bucket's top (None: an
  empty folder)."""
  from google.cloud import storage
  bucket_name, _, prefix = uri[len('gs://'):].partition('/')
  bucket = storage.Client().bucket(bucket_name)
  for relative, content in files.items():
    parts = f'{prefix}/{relative}'.rstrip('/').split('/')
    for depth in range(1, len(parts) + (content is None)):
      bucket.blob('/'.join(parts[:depth]) + '/').upload_from_string(b'')
    if content is not None:
      bucket.blob('/'.join(parts)).upload_from_string(content)


def _schema(artifact_class):
  """The instance schema TFX's compiler writes for the class."""
  return compiler_utils.get_artifact_schema(artifact_class).decode()


def _executor_input(tmp_path, typing, output_uri=None, publish_logs=False, fail=False, fill=False):
  inputs = {}
  for key, artifact_class in INPUT_TYPES.items():
    artifact = {'name': f'{len(inputs) + 11}', 'uri': str(tmp_path / key),
                'metadata': {'split_names': '["train", "eval"]', 'span': 3} if key == 'examples' else {}}
    passed_type = input_type(typing, {'instanceSchema': _schema(artifact_class)})
    inputs[key] = {'artifacts': [artifact if passed_type is None else {**artifact, 'type': passed_type}]}
  outputs = {RECORD: {'artifacts': [{
      'name': RECORD, 'uri': output_uri or str(tmp_path / RECORD),
      'type': {'instanceSchema': _schema(standard_artifacts.ExampleStatistics)}}]}}
  if publish_logs:
    outputs[EXECUTOR_LOGS] = {'artifacts': [{'name': EXECUTOR_LOGS, 'uri': str(tmp_path / EXECUTOR_LOGS),
                                             'type': {'schemaTitle': 'system.Artifact'}}]}
  parameters = {name: 1 for name, wanted in (('fail', fail), ('fill', fill)) if wanted}
  return {'inputs': {'artifacts': inputs, 'parameterValues': parameters},
          'outputs': {'artifacts': outputs, 'outputFile': str(tmp_path / 'executor_output.json')}}


def _arguments(tmp_path, typing, **options):
  inputs_spec = {'artifacts': {key: {'artifactType': {'instanceSchema': _schema(cls)}}
                               for key, cls in INPUT_TYPES.items()}}
  return argparse.Namespace(executor_class_path=f'{__name__}.{RecordingExecutor.__name__}',
                            json_serialized_invocation_args=json.dumps(_executor_input(tmp_path, typing, **options)),
                            json_serialized_inputs_spec_args=json.dumps(inputs_spec))


def _flags(arguments):
  return ['--executor_class_path', arguments.executor_class_path,
          '--json_serialized_invocation_args', arguments.json_serialized_invocation_args,
          '--json_serialized_inputs_spec_args', arguments.json_serialized_inputs_spec_args]


@pytest.mark.parametrize('typing, error', [
    pytest.param(typing, error, id=typing.value) for typing, error in (
        (InputTyping.EMPTY_SCHEMA, AttributeError), (InputTyping.UNTYPED, UnboundLocalError),
        (InputTyping.KFP_TITLE, ImportError))])
def test_tfx_alone_cannot_parse_inputs_as_self_hosted_kubeflow_types_them(tmp_path, typing, error):
  """The breakage the entrypoint works around: when this fails, TFX has fixed it and the workaround can go."""
  with pytest.raises(error):
    kubeflow_v2_run_executor._run_executor(_arguments(tmp_path, typing), [])


@pytest.mark.parametrize('typing', list(InputTyping), ids=lambda typing: typing.value)
def test_inputs_are_parsed_as_the_compiled_types_however_the_backend_types_them(tmp_path, typing):
  kubeflow_entrypoint.run(_arguments(tmp_path, typing, publish_logs=True), [])
  record = json.loads((tmp_path / RECORD / 'record.json').read_text())
  assert record['examples'] == {'class': 'Examples',
                                'properties': {'split_names': '["train", "eval"]', 'span': 3, 'version': 0}}
  assert record['model']['class'] == 'Model'
  assert record[EXECUTOR_LOGS]['class'] == 'KfpArtifact'
  written = json.loads((tmp_path / 'executor_output.json').read_text())
  assert set(written['artifacts']) == {RECORD, EXECUTOR_LOGS}


def test_the_step_exits_zero_once_its_outputs_are_written_though_shutdown_crashes(tmp_path):
  arguments = _arguments(tmp_path, InputTyping.EMPTY_SCHEMA)
  result = subprocess.run([sys.executable, '-c', CRASHING_AT_SHUTDOWN, *_flags(arguments)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads((tmp_path / 'executor_output.json').read_text())['artifacts'][RECORD]
  assert (tmp_path / RECORD / 'record.json').is_file()


def test_a_failing_executor_still_fails_the_step(tmp_path):
  arguments = _arguments(tmp_path, InputTyping.EMPTY_SCHEMA, fail=True)
  result = subprocess.run([sys.executable, '-m', 'pipeline.runners.kubeflow_entrypoint', *_flags(arguments)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 1
  assert 'the executor failed' in result.stderr
  assert not (tmp_path / 'executor_output.json').exists()


def test_a_full_disk_fails_the_step_in_one_line_naming_the_executor_the_folder_and_the_free_space(tmp_path, small_disk):
  output_uri = os.path.join(small_disk, RECORD)
  os.makedirs(output_uri)
  arguments = _arguments(tmp_path, InputTyping.EMPTY_SCHEMA, output_uri=output_uri, fill=True)
  result = subprocess.run([sys.executable, '-m', 'pipeline.runners.kubeflow_entrypoint', *_flags(arguments)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 2, result.stderr[-3000:]
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert result.stderr.splitlines()[-1] == (
      f'{arguments.executor_class_path}: no space left on the device under {output_uri}, 0.0 MB free there; free '
      f'some space or write elsewhere, and run again')
  assert not (tmp_path / 'executor_output.json').exists()


@pytest.fixture
def cloud_storage(tmp_path, monkeypatch):
  """A Cloud Storage emulator on loopback (the client finds it through STORAGE_EMULATOR_HOST), one bucket."""
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
  log = open(tmp_path / 'emulator.log', 'w')
  emulator = subprocess.Popen(
      [os.path.join(os.path.dirname(sys.executable), 'gcp-storage-emulator'), 'start', '--host', '127.0.0.1',
       '--port', str(port), '--in-memory', '--default-bucket', BUCKET], stdout=log, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + 30
    while True:
      try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        break
      except OSError:
        assert emulator.poll() is None and time.monotonic() < deadline, (tmp_path / 'emulator.log').read_text()
        time.sleep(0.2)
    monkeypatch.setenv('STORAGE_EMULATOR_HOST', f'http://127.0.0.1:{port}')
    from google.cloud import storage
    yield storage.Client()
  finally:
    emulator.terminate()
    emulator.wait(timeout=30)
    log.close()


def _objects(client, prefix):
  return {blob.name: blob.size for blob in client.list_blobs(BUCKET, prefix=prefix)}


def test_folder_markers_of_a_gs_output_are_deleted_after_the_executor(tmp_path, cloud_storage):
  output = 'pipeline_root/run-1/Trainer/model'
  other = 'pipeline_root/run-1/Transform/transform_graph'
  _write_as_tensorflow_does_on_gcs(f'gs://{BUCKET}/{other}', {'transform_fn/saved_model.pb': 'graph'})
  kubeflow_entrypoint.run(_arguments(tmp_path, InputTyping.EMPTY_SCHEMA, output_uri=f'gs://{BUCKET}/{output}'), [])
  objects = _objects(cloud_storage, output + '/')
  assert set(objects) == {f'{output}/Format-Serving/record.json', f'{output}/Format-Serving/variables/data',
                          f'{output}/Format-Serving/assets/'}
  assert objects[f'{output}/Format-Serving/assets/'] == 0, 'an empty folder keeps the marker that makes it exist'
  record = cloud_storage.bucket(BUCKET).blob(f'{output}/Format-Serving/record.json').download_as_text()
  assert json.loads(record)['examples']['class'] == 'Examples'
  assert f'{other}/' in _objects(cloud_storage, other), 'only the outputs of this step are touched'


def test_folder_markers_are_found_under_the_output_only(cloud_storage):
  _write_as_tensorflow_does_on_gcs(f'gs://{BUCKET}/root/model', {'a/b.pb': 'x'})
  _write_as_tensorflow_does_on_gcs(f'gs://{BUCKET}/root/model_2', {'c/d.pb': 'y'})
  assert compat.remove_folder_markers(f'gs://{BUCKET}/root/model/') == ['root/model/', 'root/model/a/']
  assert set(_objects(cloud_storage, 'root/')) == {
      'root/', 'root/model/a/b.pb', 'root/model_2/', 'root/model_2/c/', 'root/model_2/c/d.pb'}
