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
from components.trainer import frozen_features
from components.trainer import model as model_lib
from components.trainer import run_fn
from components.trainer import training
from components.trainer.outcome import TrainingOutcome
from pipeline import pipeline as pipeline_lib

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
  # The digits at the pretrained candidate's size, which the small CNN averages down inside the model.
  size = job.settings.image_size
  assert (size, job.settings.small_cnn_size) == (96, 32)
  assert pixels.shape == (32, size, size, 3) and pixels.dtype == tf.float32 and labels.shape == (32,)
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


@pytest.mark.parametrize('augment', [False, True], ids=['plain', 'augmented'])
def test_a_frozen_pretrained_backbone_computes_its_features_once_and_its_head_trains_on_them(
    transformed, tmp_path, info_logs, augment):
  _, labels, _, csv_path = transformed
  job = _job(transformed, str(tmp_path), epochs=4, strategy='one_device', backbone='efficientnet_lite0',
             weights='imagenet', **(AUGMENTED if augment else {}))
  training.train_and_export(job, 'one_device')
  train_count = training.count_records(job.train_files)
  views = frozen_features.AUGMENTED_VIEWS if augment else 1
  assert (f"the frozen efficientnet_lite0's features of {views * train_count} training views and "
          f'{training.count_records(job.eval_files)} eval images computed once') in info_logs.text
  assert 'Trainer epoch 4/4' in info_logs.text
  assert _serve_one_image(job, csv_path)[features.CLASS_NAME].numpy()[0].decode() in labels
  # The exported classifier, backbone and head, scores the eval images as the head did on their features.
  with open(training.outcome_path(job.serving_model_dir)) as handle:
    outcome = TrainingOutcome.from_json(handle.read())
  assert outcome.best_eval_accuracy > training.above_chance(len(labels))
  exported = tf.saved_model.load(job.serving_model_dir)
  spec = tft.TFTransformOutput(job.transform_output).transformed_feature_spec()
  right = total = 0
  for batch, indices in training.make_dataset(job.eval_files, spec, 32, training=False):
    predicted = tf.argmax(exported({features.PIXELS: batch[features.PIXELS]}, training=False), axis=1)
    right += int(tf.reduce_sum(tf.cast(predicted == indices, tf.int32)))
    total += int(indices.shape[0])
  assert np.isclose(right / total, outcome.best_eval_accuracy, atol=1e-6)


def test_training_stops_when_the_eval_accuracy_stops_improving_and_records_why(transformed, tmp_path):
  job = _job(transformed, str(tmp_path), epochs=200, patience=2, strategy='one_device')
  training.train_and_export(job, 'one_device')
  with open(training.outcome_path(job.serving_model_dir)) as handle:
    outcome = TrainingOutcome.from_json(handle.read())
  assert outcome.epochs_trained < 200 and outcome.epochs_trained >= outcome.best_epoch + 2
  assert outcome.stop_reason == 'no better eval accuracy or loss for 2 epochs'
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


FALLING_LOSS_AT_CHANCE = [{'loss': 2.30 - 0.1 * epoch, 'val_accuracy': 0.15} for epoch in range(10)]


@pytest.mark.parametrize('logs, stopped, stalled, at_chance', [
    # ln(10) and chance: stopped after the third epoch
    ([{'loss': 2.30, 'val_accuracy': 0.10}] * 3, True, True, True),
    # the training loss falls while batch normalisation holds the eval accuracy at chance; later it rises
    (FALLING_LOSS_AT_CHANCE[:3] + [{'loss': 1.5, 'val_accuracy': 0.6}], False, False, False),
    # ten epochs learned the training images and nothing that carries over to the eval ones
    (FALLING_LOSS_AT_CHANCE, False, True, True),
    # four such epochs are too few to judge: the outcome says so, the model is kept
    (FALLING_LOSS_AT_CHANCE[:4], False, False, True),
    ([{'loss': 2.30, 'val_accuracy': 0.10}] * 2 + [{'loss': 2.30, 'val_accuracy': 0.25}], False, False, False),
])
def test_learning_is_judged_on_the_training_loss_and_the_eval_accuracy(logs, stopped, stalled, at_chance):
  check = training.LearningCheck(classes=10)
  check.set_model(tf.keras.Sequential())
  for epoch, values in enumerate(logs):
    check.on_epoch_end(epoch, values)
  assert check.model.stop_training == stopped
  check.on_train_end()
  assert (check.stalled, check.at_chance) == (stalled, at_chance)


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
