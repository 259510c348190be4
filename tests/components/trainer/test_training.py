"""Training on real Transform output: the input pipeline, every strategy with augmentation, the recipe's stop and
learning check, and resuming after a kill."""
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

from components import disk_space
from components import features
from components import model_choice
from components.trainer import model as model_lib
from components.trainer import run_fn
from components.trainer import training
from components.trainer.outcome import TrainingOutcome
from pipeline import pipeline as pipeline_lib
from pipeline import sample_data
from tests import transformed_data

@pytest.fixture(scope='module')
def transformed(tmp_path_factory):
  """Runs the pipeline up to Transform on 200 digit scans; returns (config, labels, root, csv_path)."""
  root = tmp_path_factory.mktemp('transformed')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'data'), limit=200)
  config = transformed_data.run_data_half(csv_path, labels_path, str(root))
  return config, pipeline_lib.read_class_labels(config), config.pipeline_root, csv_path


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


def _serve_one_image(job, csv_path):
  """The exported model's serving_default on one real JPEG of the set."""
  model = tf.saved_model.load(job.serving_model_dir)
  sevens = os.path.join(os.path.dirname(csv_path), 'seven')
  with open(os.path.join(sevens, sorted(os.listdir(sevens))[0]), 'rb') as handle:
    return model.signatures['serving_default'](image_bytes=tf.constant([handle.read()]))


AUGMENTED = dict(augment_crop=True, augment_flip=True, augment_colour=True)


def test_two_local_workers_train_one_model_with_augmentation_and_the_chief_exports_it(transformed, tmp_path):
  _, labels, _, csv_path = transformed
  job = _job(transformed, str(tmp_path), epochs=2, strategy='multi_worker', num_workers=2, **AUGMENTED)
  run_fn.run_local_workers(job, 2)

  for index in (0, 1):
    with open(os.path.join(job.model_run_dir, f'worker-{index}.log')) as log:
      text = log.read()
    assert 'strategy multi_worker, 2 replicas, global batch 64' in text
    assert 'Trainer epoch 2/2' in text
  served = _serve_one_image(job, csv_path)
  assert served[features.CLASS_NAME].numpy()[0].decode() in labels
  assert np.isclose(served[features.PROBABILITIES].numpy().sum(), 1.0, atol=1e-4)
  assert glob.glob(os.path.join(job.model_run_dir, 'events.out.tfevents.*')) or \
      glob.glob(os.path.join(job.model_run_dir, '*', 'events.out.tfevents.*'))  # TensorBoard logs kept
  with open(training.outcome_path(job.serving_model_dir)) as handle:
    assert TrainingOutcome.from_json(handle.read()).epochs_trained == 2


@pytest.mark.parametrize('strategy', ['one_device', 'mirrored'])
def test_every_in_process_strategy_exports_an_augmented_model_without_its_augmentation(transformed, tmp_path,
                                                                                      strategy):
  _, labels, _, csv_path = transformed
  job = _job(transformed, str(tmp_path), epochs=1, strategy=strategy, **AUGMENTED)
  training.train_and_export(job, strategy)
  assert _serve_one_image(job, csv_path)[features.CLASS_NAME].numpy()[0].decode() in labels
  with open(os.path.join(job.serving_model_dir, 'keras_metadata.pb'), 'rb') as handle:
    layers = handle.read()
  assert b'"augmentation"' in layers and b'RandomZoom' not in layers  # serving applies no random transformation


def test_training_stops_when_the_eval_accuracy_stops_improving_and_records_why(transformed, tmp_path):
  job = _job(transformed, str(tmp_path), epochs=200, patience=2, strategy='one_device')
  training.train_and_export(job, 'one_device')
  with open(training.outcome_path(job.serving_model_dir)) as handle:
    outcome = TrainingOutcome.from_json(handle.read())
  assert outcome.epochs_trained < 200 and outcome.epochs_trained >= outcome.best_epoch + 2
  assert outcome.stop_reason == 'eval accuracy did not improve for 2 epochs'
  assert outcome.best_eval_accuracy > 0.5


def test_a_model_that_does_not_learn_is_retried_once_then_fails_in_one_line(transformed, tmp_path, caplog):
  job = _job(transformed, str(tmp_path), epochs=20, strategy='one_device')
  hp = model_lib.hyperparameter_space('small_cnn')
  hp.values['learning_rate'] = 1e30  # Adam diverges at once, also at a tenth: the weights overflow to NaN
  job.hyperparameters = hp.get_config()
  with pytest.raises(training.TrainingDidNotLearnError) as error:
    training.train_and_export(job, 'one_device')
  message = str(error.value)
  assert message.startswith('the model did not learn: training loss ') and '\n' not in message, message
  assert 'after 3 epochs, at learning rates 1e+30 and 1e+29;' in message, message
  assert 'trying again from a new start at learning rate 1e+29' in caplog.text
  assert not os.path.exists(job.serving_model_dir)  # nothing exported


@pytest.mark.parametrize('logs, stopped, stalled', [
    ([{'loss': 2.30, 'val_accuracy': 0.10}] * 3, True, True),  # ln(10) and chance: stopped after the third epoch
    # the training loss falls while batch normalisation holds the eval accuracy at chance; later it rises
    ([{'loss': 2.30, 'val_accuracy': 0.10}, {'loss': 2.0, 'val_accuracy': 0.10}, {'loss': 1.8, 'val_accuracy': 0.1},
      {'loss': 1.5, 'val_accuracy': 0.6}], False, False),
    ([{'loss': 2.30, 'val_accuracy': 0.10}, {'loss': 2.0, 'val_accuracy': 0.10}, {'loss': 1.8, 'val_accuracy': 0.1},
      {'loss': 1.5, 'val_accuracy': 0.15}], False, True),  # learned the training images, not the eval ones
    ([{'loss': 2.30, 'val_accuracy': 0.10}] * 2 + [{'loss': 2.30, 'val_accuracy': 0.25}], False, False),
])
def test_learning_is_judged_on_the_training_loss_and_the_eval_accuracy(logs, stopped, stalled):
  check = training.LearningCheck(classes=10)
  check.set_model(tf.keras.Sequential())
  for epoch, values in enumerate(logs):
    check.on_epoch_end(epoch, values)
  assert check.model.stop_training == stopped
  check.on_train_end()
  assert check.stalled == stalled


def test_patience_counts_from_the_first_epoch_above_chance_and_the_learning_rate_falls_on_a_plateau():
  model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss='mse')
  plateau = training.EvalPlateau(patience=4, classes=10)
  plateau.set_model(model)
  plateau.on_train_begin()
  accuracies = [0.1] * 6 + [0.5, 0.6, 0.6, 0.6, 0.6, 0.6]
  for epoch, accuracy in enumerate(accuracies):
    plateau.on_epoch_end(epoch, {'val_accuracy': accuracy})
    if model.stop_training:
      break
  assert epoch == 11 and plateau.best_epoch == 7  # six epochs at chance did not use up the patience of 4
  # at the second epoch without a better one the rate fell; at the fourth training stopped instead
  assert np.isclose(float(model.optimizer.learning_rate.numpy()), 1e-3 * training.LEARNING_RATE_FACTOR)


def test_a_killed_training_resumes_from_its_last_epoch(transformed, tmp_path):
  job = _job(transformed, str(tmp_path), epochs=40, patience=40, strategy='one_device')
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
