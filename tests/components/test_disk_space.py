"""A full disk found in the error a step failed with, as the runners see it: raised by TensorFlow, by Python,
and by Beam, which re-raises a DoFn's error as a RuntimeError that keeps only its text. The writes are real,
onto a 256 KiB tmpfs."""
import os
import re

import apache_beam as beam
import pytest
import tensorflow as tf

from components import disk_space

PAYLOAD = b'x' * (1024 * 1024)  # four times the small disk


def _write_with_tensorflow(path):
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(PAYLOAD)


def _write_with_python(path):
  with open(path, 'wb') as handle:
    handle.write(PAYLOAD)


def _error_of(write, path, in_beam):
  """The error a write onto the full disk raises, directly or from inside a Beam pipeline."""
  try:
    if in_beam:
      with beam.Pipeline() as pipeline:
        _ = pipeline | beam.Create([path]) | beam.Map(write)
    else:
      write(path)
  except Exception as error:
    return error
  pytest.fail(f'writing {len(PAYLOAD)} bytes to {path} did not fail')


@pytest.mark.parametrize('in_beam', [False, True], ids=['direct', 'in-beam'])
def test_tensorflows_full_disk_names_the_step_the_file_and_the_free_space(small_disk, in_beam):
  path = os.path.join(small_disk, 'data.tfrecord')
  error = _error_of(_write_with_tensorflow, path, in_beam)
  found = disk_space.step_disk_full(error, 'Transform', small_disk)
  assert isinstance(found, disk_space.DiskFullError)
  assert re.fullmatch(rf'Transform: no space left on the device writing {re.escape(path)}, 0\.\d MB free there; '
                      r'free some space or write elsewhere, and run again', str(found)), str(found)


@pytest.mark.parametrize('in_beam', [False, True], ids=['direct', 'in-beam'])
def test_pythons_full_disk_names_the_step_and_the_free_space(small_disk, in_beam):
  path = os.path.join(small_disk, 'data.bin')
  error = _error_of(_write_with_python, path, in_beam)
  found = disk_space.step_disk_full(error, 'Evaluator', small_disk)
  assert isinstance(found, disk_space.DiskFullError)
  # Python's write() names no file; the step's folder is named instead.
  assert re.fullmatch(rf'Evaluator: no space left on the device under {re.escape(small_disk)}, 0\.\d MB free '
                      r'there; free some space or write elsewhere, and run again', str(found)), str(found)


def test_a_steps_own_disk_full_error_gets_the_steps_name(small_disk):
  with pytest.raises(disk_space.DiskFullError) as raised:
    with disk_space.reporting_disk_full(small_disk, len(PAYLOAD), 'the model'):
      _write_with_python(os.path.join(small_disk, 'model.bin'))
  found = disk_space.step_disk_full(raised.value, 'Pusher', small_disk)
  assert str(found) == f'Pusher: {raised.value}'


@pytest.mark.parametrize('error', [
    tf.errors.ResourceExhaustedError(None, None, 'OOM when allocating tensor with shape[1000000]'),
    PermissionError(13, 'Permission denied', '/root/x'),
    RuntimeError("OSError: [Errno 2] No such file or directory: '/x' [while running 'Write']"),
], ids=['out-of-memory', 'permission', 'beam-not-found'])
def test_other_failures_are_not_a_full_disk(error):
  assert disk_space.step_disk_full(error, 'Trainer', '/tmp') is None
