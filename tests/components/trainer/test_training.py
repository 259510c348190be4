"""Training on real Transform output: the input pipeline, two local workers, and resuming after a kill."""
import dataclasses
import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components import disk_space
from components import features
from components import model_choice
from components.trainer import run_fn
from components.trainer import training
from pipeline import config as config_lib
from pipeline.inspect import runs as runs_lib
from pipeline import pipeline as pipeline_lib
from pipeline import sample_data

@pytest.fixture(scope='module')
def transformed(tmp_path_factory):
  """Runs the pipeline up to Transform on 200 digit scans; returns (config, labels, root, csv_path)."""
  root = tmp_path_factory.mktemp('transformed')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'data'), limit=200)
  config = config_lib.load_config(overrides={'output_dir': str(root / 'out'), 'data_csv': csv_path,
                                             'labels_file': labels_path})
  labels = pipeline_lib.read_class_labels(config)
  os.makedirs(config.output_dir)
  LocalDagRunner().run(tfx_pipeline.Pipeline(
      pipeline_name='upstream', pipeline_root=config.pipeline_root,
      components=pipeline_lib.create_data_components(config, labels),
      metadata_connection_config=runs_lib.sqlite_connection_config(config.metadata_path)))
  return config, labels, config.pipeline_root, csv_path


def _job(transformed, work_dir, **changes):
  config, labels, root, _ = transformed
  [graph] = glob.glob(os.path.join(root, 'Transform', 'transform_graph', '*'))
  settings = dataclasses.replace(
      pipeline_lib.training_settings(config, labels).with_choice(model_choice.read(graph)), **changes)
  [examples] = glob.glob(os.path.join(root, 'Transform', 'transformed_examples', '*'))
  train_files = [os.path.join(examples, 'Split-train', '*')]
  return training.TrainingJob(
      train_files=train_files, eval_files=[os.path.join(examples, 'Split-eval', '*')], transform_output=graph,
      serving_model_dir=os.path.join(work_dir, 'serving'), model_run_dir=os.path.join(work_dir, 'model_run'),
      backup_dir=training.backup_dir_for(work_dir, train_files, settings, None), settings=settings)


def test_input_pipeline_batches_parse_and_repeat(transformed, tmp_path):
  job = _job(transformed, str(tmp_path))
  spec = tft.TFTransformOutput(job.transform_output).transformed_feature_spec()
  count = training.count_records(job.train_files)
  assert 120 < count < 200
  train = training.make_dataset(job.train_files, spec, 32, training=True)
  batches = list(train.take(count // 32 + 2))  # more batches than one pass holds: it repeats
  pixels, labels = batches[0][0][features.PIXELS], batches[0][1]
  assert pixels.shape == (32, 32, 32, 3) and pixels.dtype == tf.float32 and labels.shape == (32,)
  assert 0 <= int(tf.reduce_min(labels)) and int(tf.reduce_max(labels)) < 10
  evaluation = training.make_dataset(job.eval_files, spec, 32, training=False)
  assert sum(int(batch[1].shape[0]) for batch in evaluation) == training.count_records(job.eval_files)


def test_two_local_workers_train_one_model_and_the_chief_exports_it(transformed, tmp_path):
  _, labels, _, csv_path = transformed
  job = _job(transformed, str(tmp_path), epochs=2, strategy='multi_worker', num_workers=2)
  run_fn.run_local_workers(job, 2)

  for index in (0, 1):
    with open(os.path.join(job.model_run_dir, f'worker-{index}.log')) as log:
      text = log.read()
    assert 'strategy multi_worker, 2 replicas, global batch 64' in text
    assert 'Trainer epoch 2/2' in text
  model = tf.saved_model.load(job.serving_model_dir)
  with open(os.path.join(os.path.dirname(csv_path), 'seven', sorted(os.listdir(
      os.path.join(os.path.dirname(csv_path), 'seven')))[0]), 'rb') as handle:
    served = model.signatures['serving_default'](image_bytes=tf.constant([handle.read()]))
  assert served[features.CLASS_NAME].numpy()[0].decode() in labels
  assert np.isclose(served[features.PROBABILITIES].numpy().sum(), 1.0, atol=1e-4)
  assert glob.glob(os.path.join(job.model_run_dir, 'events.out.tfevents.*')) or \
      glob.glob(os.path.join(job.model_run_dir, '*', 'events.out.tfevents.*'))  # TensorBoard logs kept


def test_a_killed_training_resumes_from_its_last_epoch(transformed, tmp_path):
  job = _job(transformed, str(tmp_path), epochs=40, strategy='one_device')
  job_path = str(tmp_path / 'job.json')
  job.save(job_path)
  command = [sys.executable, '-m', 'components.trainer.worker', job_path, 'one_device']

  first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  deadline = time.monotonic() + 300
  while not glob.glob(os.path.join(job.backup_dir, '**', 'checkpoint'), recursive=True):
    assert first.poll() is None and time.monotonic() < deadline, 'no checkpoint before the run ended'
    time.sleep(0.05)
  first.send_signal(signal.SIGKILL)
  killed_log = first.communicate()[0]
  epochs_before = [int(epoch) for epoch in re.findall(r'Trainer epoch (\d+)/40', killed_log)]
  assert epochs_before and max(epochs_before) < 40

  second = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert second.returncode == 0, second.stderr[-3000:]
  epochs_after = [int(epoch) for epoch in re.findall(r'Trainer epoch (\d+)/40', second.stderr)]
  assert epochs_after[0] > 1 and epochs_after[-1] == 40  # started after epoch 1, ran to the end
  assert epochs_after[0] <= max(epochs_before) + 1
  assert os.path.exists(os.path.join(job.serving_model_dir, 'saved_model.pb'))


def test_checkpoints_onto_a_full_disk_fail_in_one_line(transformed, tmp_path, small_disk):
  job = _job(transformed, str(tmp_path), epochs=1)
  job.backup_dir = os.path.join(small_disk, 'backup')
  with pytest.raises(disk_space.DiskFullError) as error:
    training.train_and_export(job, 'one_device')
  message = str(error.value)
  assert message.startswith(f'no space left on the device writing {small_disk}/backup'), message
  assert re.search(r': a checkpoint \(the weights and the optimizer state\) needs about [0-9.]+ MB, 0\.[0-3] MB '
                   r'free there; free some space or write elsewhere$', message), message
  assert '\n' not in message
