"""Training under a tf.distribute strategy: the input pipeline, the fit with checkpoints, and the export.

`TrainingJob` is everything a training process needs, as JSON, so the same `train_and_export` runs inside
the TFX Trainer (one device, Mirrored, TPU) and in each worker process of a multi-worker cluster.
"""
import dataclasses
import hashlib
import json
import math
import os
import tempfile
from typing import Dict, List, Optional, Sequence

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from components import compat
from components import disk_space
from components import features
from components.trainer import model as model_lib
from components.trainer.settings import TrainingSettings
from components.trainer import strategy as strategy_lib
from components.trainer import warm_start

# Keras steps run per call on a TPU: each call from the host has a fixed cost that one step would not repay.
TPU_STEPS_PER_EXECUTION = 32


@dataclasses.dataclass
class TrainingJob:
  train_files: List[str]
  eval_files: List[str]
  transform_output: str
  serving_model_dir: str
  model_run_dir: str   # TensorBoard logs, kept with the ModelRun artifact
  backup_dir: str      # BackupAndRestore state: the same for a re-run of the same inputs, so it resumes
  settings: TrainingSettings
  hyperparameters: Optional[Dict] = None  # keras_tuner.HyperParameters config; None: the defaults
  warm_start_from: Optional[str] = None   # a production model folder whose weights the training starts from

  def save(self, path: str) -> None:
    with tf.io.gfile.GFile(path, 'w') as handle:
      json.dump(dict(dataclasses.asdict(self), settings=self.settings.to_custom_config()), handle)

  @classmethod
  def load(cls, path: str) -> 'TrainingJob':
    with tf.io.gfile.GFile(path) as handle:
      values = json.load(handle)
    return cls(**dict(values, settings=TrainingSettings.from_custom_config(values['settings'])))

  def hp(self) -> keras_tuner.HyperParameters:
    if self.hyperparameters:
      return keras_tuner.HyperParameters.from_config(self.hyperparameters)
    return model_lib.hyperparameter_space(self.settings.backbone)


def backup_dir_for(trainer_dir: str, train_files: Sequence[str], settings: TrainingSettings,
                   hyperparameters: Optional[Dict]) -> str:
  """A checkpoint folder keyed by what the training depends on, so re-running the same Trainer resumes."""
  key = json.dumps([sorted(train_files), settings.to_custom_config(), hyperparameters], sort_keys=True,
                   default=str)
  return os.path.join(trainer_dir, 'backup', hashlib.sha256(key.encode()).hexdigest()[:16])


def make_dataset(file_patterns: Sequence[str], feature_spec: Dict, batch_size: int, training: bool,
                 num_workers: int = 1, seed: int = 0) -> tf.data.Dataset:
  """(features, label_index) batches from Transform's GZIP TFRecords.

  Parallel interleaved reads, shuffling and repetition for training, parsing after batching (one
  vectorised parse per batch), prefetch. Shards by file across workers when there are enough files.
  """
  files = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
  if not files:
    raise FileNotFoundError(f'no transformed examples match {list(file_patterns)}')
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if training:
    dataset = dataset.shuffle(len(files), seed=seed)
  dataset = dataset.interleave(lambda path: tf.data.TFRecordDataset(path, compression_type='GZIP'),
                               cycle_length=min(len(files), 8), num_parallel_calls=tf.data.AUTOTUNE,
                               deterministic=not training)
  if training:
    dataset = dataset.shuffle(4 * batch_size, seed=seed).repeat()
  dataset = dataset.batch(batch_size, drop_remainder=training).map(
      lambda records: _split_label(tf.io.parse_example(records, feature_spec)),
      num_parallel_calls=tf.data.AUTOTUNE)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.FILE if len(files) >= num_workers
      else tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _split_label(parsed):
  label = tf.reshape(parsed.pop(features.LABEL_INDEX), [-1])
  return {features.PIXELS: parsed[features.PIXELS]}, label


def count_records(file_patterns: Sequence[str]) -> int:
  files = [path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)]
  return int(tf.data.TFRecordDataset(files, compression_type='GZIP').reduce(
      tf.constant(0, tf.int64), lambda count, _: count + 1))


class EpochLogger(tf.keras.callbacks.Callback):
  """One log line per epoch, so a long Trainer step shows how far along it is."""

  def __init__(self, epochs: int, phase: str = ''):
    super().__init__()
    self._epochs = epochs
    self._phase = phase

  def on_epoch_end(self, epoch, logs=None):
    shown = ', '.join(f'{name} {value:.4f}' for name, value in sorted((logs or {}).items()))
    logging.info('Trainer epoch %d/%d%s: %s', epoch + 1, self._epochs, self._phase, shown)


def train_and_export(job: TrainingJob, strategy_name: str) -> None:
  """Trains under `strategy_name` and exports the SavedModel (the chief only) to job.serving_model_dir."""
  settings = job.settings
  compat.skip_autograph_for_tf_keras()
  tf.keras.utils.set_random_seed(settings.random_seed)
  strategy = strategy_lib.make_strategy(strategy_name, settings.tpu_address)
  replicas = strategy.num_replicas_in_sync
  num_workers = strategy_lib.num_cluster_workers()
  global_batch = settings.batch_size * replicas
  steps_per_epoch = max(1, math.ceil(count_records(job.train_files) / global_batch))
  logging.info('Trainer: strategy %s, %d replicas, global batch %d, %d steps per epoch', strategy_name,
               replicas, global_batch, steps_per_epoch)
  tf_transform_output = tft.TFTransformOutput(job.transform_output)
  spec = tf_transform_output.transformed_feature_spec()
  train = make_dataset(job.train_files, spec, global_batch, True, num_workers, settings.random_seed)
  validation = make_dataset(job.eval_files, spec, global_batch, False, num_workers)

  hp = job.hp()
  steps_per_execution = TPU_STEPS_PER_EXECUTION if strategy_name == 'tpu' else 1
  with strategy.scope():
    model = model_lib.build_model(hp, settings, steps_per_execution)
    if job.warm_start_from:
      model.load_weights(os.path.join(job.warm_start_from, warm_start.WEIGHTS_PREFIX))
      logging.info('Trainer starts from the weights of %s', job.warm_start_from)
  # Checkpoints, TensorBoard logs and the export are the Trainer's writes: a full disk says so in one line.
  with disk_space.reporting_disk_full(job.backup_dir, checkpoint_bytes(model),
                                      'a checkpoint (the weights and the optimizer state)'):
    _fit_and_export(job, model, strategy, hp, steps_per_execution, train, validation, steps_per_epoch,
                    tf_transform_output)


def checkpoint_bytes(model: tf.keras.Model) -> int:
  """About one checkpoint's size: the weights, plus Adam's two moments of each trainable weight."""
  return (sum(weight.numpy().nbytes for weight in model.weights)
          + 2 * sum(weight.numpy().nbytes for weight in model.trainable_weights))


def _fit_and_export(job: TrainingJob, model: tf.keras.Model, strategy, hp: keras_tuner.HyperParameters,
                    steps_per_execution: int, train: tf.data.Dataset, validation: tf.data.Dataset,
                    steps_per_epoch: int, tf_transform_output: tft.TFTransformOutput) -> None:
  """Fits (then fine-tunes, if asked) and exports: every write the Trainer makes."""
  settings = job.settings
  chief = strategy_lib.is_chief()
  log_dir = job.model_run_dir if chief else tempfile.mkdtemp(prefix='tensorboard_worker_')
  callbacks = [
      EpochLogger(settings.epochs),
      tf.keras.callbacks.BackupAndRestore(os.path.join(job.backup_dir, 'frozen')),
      # The exported weights are those of the epoch with the best eval-split accuracy.
      tf.keras.callbacks.EarlyStopping(monitor='val_accuracy', mode='max', patience=settings.epochs,
                                       restore_best_weights=True),
      tf.keras.callbacks.TensorBoard(log_dir=log_dir),
  ]
  model.fit(train, validation_data=validation, epochs=settings.epochs, steps_per_epoch=steps_per_epoch,
            callbacks=callbacks, verbose=0)
  if settings.weights and hp.get('fine_tune') and settings.fine_tune_epochs:
    with strategy.scope():
      model_lib.fine_tune_model(model, settings.fine_tune_layers, hp.get('learning_rate') / 10,
                                steps_per_execution)
    model.fit(train, validation_data=validation, epochs=settings.fine_tune_epochs,
              steps_per_epoch=steps_per_epoch, verbose=0,
              callbacks=[EpochLogger(settings.fine_tune_epochs, ' (fine-tuning)'),
                         tf.keras.callbacks.BackupAndRestore(os.path.join(job.backup_dir, 'fine_tune')),
                         tf.keras.callbacks.TensorBoard(log_dir=os.path.join(log_dir, 'fine_tune'))])
  # Every worker takes part in saving (it is a collective); only the chief's copy is kept.
  export_dir = job.serving_model_dir if chief else tempfile.mkdtemp(prefix='export_worker_')
  model.save(export_dir, save_format='tf',
             signatures=serving_signatures(model, tf_transform_output, settings.labels))
  logging.info('Trainer exported the model to %s', export_dir)
  if not chief:
    tf.io.gfile.rmtree(export_dir)
    return
  record_path = os.path.join(export_dir, warm_start.RECORD_FILE)
  tf.io.gfile.makedirs(os.path.dirname(record_path))
  with tf.io.gfile.GFile(record_path, 'w') as handle:
    handle.write(training_record(settings, hp, job.train_files).to_json())


def training_record(settings: TrainingSettings, hp: keras_tuner.HyperParameters,
                    train_files: Sequence[str]) -> warm_start.TrainingRecord:
  """What a later run compares with this one to decide whether it may start from these weights."""
  return warm_start.TrainingRecord(labels=tuple(settings.labels), backbone=settings.backbone,
                                   image_size=settings.image_size, hyperparameters=dict(hp.values),
                                   train_examples=count_records(train_files))


def serving_signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput,
                       labels: Sequence[str]):
  """serving_default takes raw image bytes; the tf.Example signatures are what TFMA calls.

  All three run the same Transform graph, so serving sees exactly the preprocessing of training. They hold no
  Python control flow over tensors, so AutoGraph, which took about 1.3 s to rewrite them and TFT's layer, is off.
  """
  model.tft_layer = tf_transform_output.transform_features_layer()
  class_names = tf.constant(list(labels))
  raw_feature_spec = tf_transform_output.raw_feature_spec()
  unlabelled_spec = {name: spec for name, spec in raw_feature_spec.items() if name != features.LABEL}

  def predict(raw_features):
    transformed = model.tft_layer(raw_features)
    return model({features.PIXELS: transformed[features.PIXELS]})

  @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT)])
  def serve_image_bytes(image_bytes):
    probabilities = predict({features.IMAGE: tf.reshape(image_bytes, [-1, 1])})
    class_index = tf.argmax(probabilities, axis=1)
    return {features.PROBABILITIES: probabilities,
            features.CLASS_INDEX: class_index,
            features.CLASS_NAME: tf.gather(class_names, class_index)}

  @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serve_tf_examples(serialized_examples):
    return {features.PROBABILITIES: predict(tf.io.parse_example(serialized_examples, unlabelled_spec))}

  @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(serialized_examples):
    return model.tft_layer(tf.io.parse_example(serialized_examples, raw_feature_spec))

  return {
      'serving_default': serve_image_bytes.get_concrete_function(),
      features.TF_EXAMPLE_SIGNATURE: serve_tf_examples.get_concrete_function(),
      features.TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
  }
