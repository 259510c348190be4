"""Training under a tf.distribute strategy: the input pipeline, the fit with checkpoints, and the export.

`TrainingJob` is everything a training process needs, as JSON, so the same `train_and_export` runs inside
the TFX Trainer (one device, Mirrored, TPU) and in each worker process of a multi-worker cluster.
"""
import copy
import dataclasses
import hashlib
import json
import math
import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from components import compat
from components import disk_space
from components import features
from components import names
from components.trainer import frozen_features
from components.trainer import model as model_lib
from components.trainer.outcome import TrainingOutcome
from components.trainer.settings import TrainingSettings
from components.trainer.settings import TuningSettings
from components.trainer import strategy as strategy_lib
from components.trainer import warm_start
from components import training_record as training_record_lib

# Keras steps run per call on a TPU: each call from the host has a fixed cost that one step would not repay.
TPU_STEPS_PER_EXECUTION = 32
# The recipe (recipe_callbacks): the learning rate falls by LEARNING_RATE_FACTOR on a plateau, to at least
# MIN_LEARNING_RATE; a fit is checked for learning (LearningCheck) after LEARNING_CHECK_EPOCHS epochs, against
# LOSS_AT_CHANCE of the chance loss, and at its end if it ran GENERALISATION_CHECK_EPOCHS; one that did not learn
# is tried once more at RETRY_LEARNING_RATE_FACTOR of its learning rate.
LEARNING_RATE_FACTOR = 0.3
MIN_LEARNING_RATE = 1e-5
LEARNING_CHECK_EPOCHS = 3
GENERALISATION_CHECK_EPOCHS = 10
LOSS_AT_CHANCE = 0.95
RETRY_LEARNING_RATE_FACTOR = 0.1
# A warm start fine-tunes production's weights at this fraction of the learning rate.
WARM_START_LEARNING_RATE_FACTOR = 0.1


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
      # A copy: KerasTuner's from_config replaces the conditions in the config it is given with objects, so a
      # second call on the same config fails ("Could not interpret serialized object"; keras-tuner 1.4).
      return keras_tuner.HyperParameters.from_config(copy.deepcopy(self.hyperparameters))
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


class TrainingDidNotLearnError(compat.RecordedFailure):
  """Training stayed at chance, also when retried at a lower learning rate: no model is exported."""

  def __init__(self, message: str):
    super().__init__(message, {})


def above_chance(classes: int) -> float:
  """The eval accuracy that counts as learned: a tenth of the way from chance (1 / classes) to perfect."""
  chance = 1.0 / max(classes, 2)
  return chance + 0.1 * (1 - chance)


class EvalPlateau(tf.keras.callbacks.Callback):
  """Early stopping on the eval split, keeping the best epoch's weights, with a learning-rate schedule.

  An epoch improves when its eval accuracy is the best yet or its eval loss the lowest yet: on a few hundred
  eval images the accuracy alone stalls for epochs while the model still gets better (on the glyphs, judging by
  the accuracy alone cut the learning rate to 2.7e-5 by epoch 17, with the training accuracy still rising).
  After `patience` epochs without improvement training stops; each time half the patience passes without one,
  the learning rate falls by LEARNING_RATE_FACTOR (to at least MIN_LEARNING_RATE). Patience counts only once
  the eval accuracy has left chance: batch normalisation's averages lag the weights of a model that learns
  fast, and held the eval accuracy of 200 digits at chance for 8 epochs while the training accuracy rose to
  0.88. At the end the model gets the weights of its epoch of best eval accuracy (of lowest eval loss among
  equals); best_epoch is that epoch, counted from 0.
  """

  def __init__(self, patience: int, classes: int):
    super().__init__()
    self.patience = patience
    self._above_chance = above_chance(classes)

  def on_train_begin(self, logs=None):
    self.wait = 0
    self.best_epoch = 0
    self._best = (-math.inf, -math.inf)  # (eval accuracy, minus eval loss) of the kept epoch
    self._lowest_loss = math.inf
    self._best_weights = None

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    accuracy, loss = logs.get('val_accuracy', 0.0), logs.get('val_loss', math.inf)
    improved = accuracy > self._best[0] or loss < self._lowest_loss
    self._lowest_loss = min(self._lowest_loss, loss)
    if (accuracy, -loss) > self._best:
      self._best, self.best_epoch, self._best_weights = (accuracy, -loss), epoch, self.model.get_weights()
    if improved or self._best[0] <= self._above_chance:  # better, or not yet above chance: LearningCheck judges
      self.wait = 0
      return
    self.wait += 1
    if self.wait >= self.patience:
      self.model.stop_training = True
    elif self.wait % max(1, self.patience // 2) == 0:
      rate = self.model.optimizer.learning_rate
      rate.assign(max(float(rate.numpy()) * LEARNING_RATE_FACTOR, MIN_LEARNING_RATE))
      logging.info('Trainer: no better eval epoch for %d epochs; learning rate now %g', self.wait,
                   float(rate.numpy()))

  def on_train_end(self, logs=None):
    if self._best_weights is not None:
      self.model.set_weights(self._best_weights)


class LearningCheck(tf.keras.callbacks.Callback):
  """Stops a fit that is not learning, and keeps what the outcome reports: the epochs run, the best eval accuracy.

  Not learning (`stalled`):
  - after LEARNING_CHECK_EPOCHS epochs, no training loss below LOSS_AT_CHANCE of ln(classes), the loss of
    predicting every class alike, and no eval accuracy above_chance: the fit stops there;
  - at the end of a fit of at least GENERALISATION_CHECK_EPOCHS epochs, no eval accuracy above_chance: the
    training images were learned, nothing that carries over. A shorter fit that ends so is not judged (batch
    normalisation held 200 digits at chance for 8 epochs), but `at_chance` says so.
  """

  def __init__(self, classes: int):
    super().__init__()
    self._chance_loss = math.log(max(classes, 2))
    self._above_chance = above_chance(classes)
    self.epochs_run = 0
    self.best_eval_accuracy = 0.0
    self.stalled = False
    self._lowest_loss = math.inf

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    self.epochs_run = epoch + 1
    self._lowest_loss = min(self._lowest_loss, logs.get('loss', math.inf))
    self.best_eval_accuracy = max(self.best_eval_accuracy, logs.get('val_accuracy', 0.0))
    if (self.epochs_run >= LEARNING_CHECK_EPOCHS and self.at_chance
        and self._lowest_loss >= LOSS_AT_CHANCE * self._chance_loss):
      self.stalled = True
      self.model.stop_training = True

  def on_train_end(self, logs=None):
    if self.epochs_run >= GENERALISATION_CHECK_EPOCHS and self.at_chance:
      self.stalled = True

  @property
  def at_chance(self) -> bool:
    return self.best_eval_accuracy <= self._above_chance

  def describe(self) -> str:
    return (f'training loss {self._lowest_loss:.4f} at best (chance: {self._chance_loss:.4f}), eval accuracy '
            f'{self.best_eval_accuracy:.4f} at best (needed: above {self._above_chance:.4f})')


def recipe_callbacks(classes: int, patience: int) -> List[tf.keras.callbacks.Callback]:
  """The training recipe, the same for the Tuner's trials and the Trainer, so that the winning trial reproduces:
  `epochs` is an upper bound; training stops once neither the eval accuracy nor the eval loss has improved for
  `patience` epochs, keeping the best epoch's weights, and the learning rate falls on the way (EvalPlateau); a
  fit that is not learning stops (the LearningCheck, second, says so)."""
  return [EvalPlateau(patience, classes), LearningCheck(classes)]


def train_and_export(job: TrainingJob, strategy_name: str) -> None:
  """Trains under `strategy_name` and exports the SavedModel (the chief only) to job.serving_model_dir.

  Raises TrainingDidNotLearnError when the fit stays at chance, also at a tenth of the learning rate.
  """
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
  steps_per_execution = TPU_STEPS_PER_EXECUTION if strategy_name == 'tpu' else 1
  log_dir = job.model_run_dir if strategy_lib.is_chief() else tempfile.mkdtemp(prefix='tensorboard_worker_')
  hp = job.hp()
  with strategy.scope():
    model = model_lib.build_model(hp, settings, steps_per_execution)
    if job.warm_start_from:
      model.load_weights(os.path.join(job.warm_start_from, warm_start.WEIGHTS_PREFIX))
      # Fine-tuning: at the full rate the first steps undo production's weights (the digits' eval accuracy fell
      # from production's 1.0 to 0.948 after the first epoch, behind a model trained from scratch by epoch 3).
      model.optimizer.learning_rate.assign(hp.get('learning_rate') * WARM_START_LEARNING_RATE_FACTOR)
      logging.info('Trainer starts from the weights of %s at learning rate %g', job.warm_start_from,
                   float(model.optimizer.learning_rate.numpy()))
  frozen = None
  if frozen_features.uses_cached_features(settings.weights, strategy_name):
    augmented = any(model_lib.augmentations(hp, settings))
    frozen = cached_features(model, settings, job.train_files, job.eval_files, spec, global_batch,
                             plain=not augmented, augmented=augmented)
  fit = _Fit(job, strategy, train, validation, steps_per_epoch, log_dir, frozen)
  # Checkpoints, TensorBoard logs and the export are the Trainer's writes: a full disk says so in one line.
  with disk_space.reporting_disk_full(job.backup_dir, checkpoint_bytes(model),
                                      'a checkpoint (the weights and the optimizer state)'):
    model, hp, outcome = fit.run_learning(model, hp, steps_per_execution)
    logging.info('Trainer: %s', outcome.describe())
    if settings.weights and hp.get('fine_tune') and settings.fine_tune_epochs:
      with strategy.scope():
        model_lib.fine_tune_model(model, settings.fine_tune_layers, hp.get('learning_rate') / 10,
                                  steps_per_execution)
      fit.fine_tune(model)
    _export(job, model, hp, outcome, tf_transform_output)


def cached_features(model: tf.keras.Model, settings: TuningSettings, train_files: Sequence[str],
                    eval_files: Sequence[str], spec: Dict, batch_size: int, plain: bool, augmented: bool,
                    computed: Optional[frozen_features.FeatureSets] = None) -> Optional[frozen_features.FeatureSets]:
  """The frozen backbone's features of every train and eval image (frozen_features.compute), besides those
  `computed` before, logged with their cost; None when they would not fit in memory."""
  start = time.perf_counter()
  count = count_records(train_files)
  result = frozen_features.compute(
      model, settings.backbone, make_dataset(train_files, spec, batch_size, training=False), count,
      make_dataset(eval_files, spec, batch_size, training=False), plain, augmented, computed)
  if result is not None:
    views = int(plain) + frozen_features.AUGMENTED_VIEWS * int(augmented)
    logging.info('Trainer: the frozen %s\'s features of %d training views and %d eval images computed once, in '
                 '%.1f s', settings.backbone, views * count, len(result.eval[1]), time.perf_counter() - start)
  return result


def checkpoint_bytes(model: tf.keras.Model) -> int:
  """About one checkpoint's size: the weights, plus Adam's two moments of each trainable weight."""
  return (sum(weight.numpy().nbytes for weight in model.weights)
          + 2 * sum(weight.numpy().nbytes for weight in model.trainable_weights))


@dataclasses.dataclass(frozen=True)
class _Fit:
  """One training process's fits: the same data and logs for each attempt."""
  job: TrainingJob
  strategy: tf.distribute.Strategy
  train: tf.data.Dataset
  validation: tf.data.Dataset
  steps_per_epoch: int
  log_dir: str  # TensorBoard's: the model run folder on the chief, a temporary one on the other workers
  frozen: Optional[frozen_features.FeatureSets]  # a frozen backbone's features, which the head trains on

  def run(self, model: tf.keras.Model, hp: keras_tuner.HyperParameters,
          retry: bool = False) -> Tuple[EvalPlateau, LearningCheck]:
    """Fits by the recipe, resuming from the attempt's last checkpoint; the recipe's callbacks, filled in.

    Over a frozen backbone whose features are cached, the head alone trains on them, and `model` gets its
    weights."""
    settings = self.job.settings
    recipe = recipe_callbacks(len(settings.labels), settings.patience)
    phase = ('retry' if retry else 'frozen') + ('_features' if self.frozen else '')
    callbacks = [EpochLogger(settings.epochs, ' (retry)' if retry else ''),
                 tf.keras.callbacks.BackupAndRestore(os.path.join(self.job.backup_dir, phase)),
                 *recipe,
                 tf.keras.callbacks.TensorBoard(log_dir=os.path.join(self.log_dir, 'retry') if retry
                                                else self.log_dir)]
    if self.frozen is None:
      model.fit(self.train, validation_data=self.validation, epochs=settings.epochs,
                steps_per_epoch=self.steps_per_epoch, verbose=0, callbacks=callbacks)
      return recipe
    train, validation, steps_per_epoch = self.frozen.datasets(
        settings.batch_size * self.strategy.num_replicas_in_sync, settings.random_seed,
        any(model_lib.augmentations(hp, settings)))
    with self.strategy.scope():
      head = model_lib.build_head(hp, settings, self.frozen.size)
    # The head trains in the model's place: its weights (a warm start's) and its learning rate.
    model_lib.set_layer_weights(head, model_lib.layer_weights(model))
    head.optimizer.learning_rate.assign(model.optimizer.learning_rate)
    head.fit(train, validation_data=validation, epochs=settings.epochs, steps_per_epoch=steps_per_epoch,
             verbose=0, callbacks=callbacks)
    model_lib.set_layer_weights(model, model_lib.layer_weights(head))
    return recipe

  def run_learning(self, model: tf.keras.Model, hp: keras_tuner.HyperParameters,
                   steps_per_execution: int) -> Tuple[tf.keras.Model, keras_tuner.HyperParameters, TrainingOutcome]:
    """Fits `model`, and if it does not learn a new one at RETRY_LEARNING_RATE_FACTOR of its learning rate.
    Returns (the model that learned, its hyperparameters, the outcome); raises TrainingDidNotLearnError when
    neither did."""
    settings = self.job.settings
    plateau, check = self.run(model, hp)
    retried_from = None
    if check.stalled:
      retried_from = hp.get('learning_rate')
      hp = keras_tuner.HyperParameters.from_config(hp.get_config())
      hp.values['learning_rate'] = retried_from * RETRY_LEARNING_RATE_FACTOR
      logging.warning('Trainer: not learning (%s); trying again from a new start at learning rate %g',
                      check.describe(), hp.get('learning_rate'))
      with self.strategy.scope():
        model = model_lib.build_model(hp, settings, steps_per_execution)
      plateau, check = self.run(model, hp, retry=True)
      if check.stalled:
        raise TrainingDidNotLearnError(
            f'the model did not learn: {check.describe()} after {check.epochs_run} epochs, at learning rates '
            f'{retried_from:g} and {hp.get("learning_rate"):g}; check that the labels match the images (the '
            f'rejects report and the Data page show what was read)')
    return model, hp, _outcome(plateau, check, settings.epochs, settings.patience, hp, retried_from)

  def fine_tune(self, model: tf.keras.Model) -> None:
    epochs = self.job.settings.fine_tune_epochs
    model.fit(self.train, validation_data=self.validation, epochs=epochs, steps_per_epoch=self.steps_per_epoch,
              verbose=0, callbacks=[
                  EpochLogger(epochs, ' (fine-tuning)'),
                  tf.keras.callbacks.BackupAndRestore(os.path.join(self.job.backup_dir, 'fine_tune')),
                  tf.keras.callbacks.TensorBoard(log_dir=os.path.join(self.log_dir, 'fine_tune'))])


def _outcome(plateau: EvalPlateau, check: LearningCheck, epochs: int, patience: int, hp: keras_tuner.HyperParameters,
             retried_from: Optional[float]) -> TrainingOutcome:
  if check.epochs_run < epochs:
    reason = f'no better eval accuracy or loss for {patience} epochs'
  else:
    reason = f'reached the epochs limit ({epochs}); the eval split may still have been improving'
  if retried_from is not None:
    reason += f' (after a retry: at learning rate {retried_from:g} the model did not learn)'
  if check.at_chance:
    reason += (f'; its eval accuracy is still at chance, after too few epochs to judge '
               f'(fewer than {GENERALISATION_CHECK_EPOCHS})')
  return TrainingOutcome(epochs_trained=check.epochs_run, best_epoch=plateau.best_epoch + 1,
                         best_eval_accuracy=round(float(check.best_eval_accuracy), 6),
                         learning_rate=float(hp.get('learning_rate')), stop_reason=reason,
                         tuned_augmentation=hp.values.get(model_lib.AUGMENT),
                         tuned_backbone=hp.values.get(model_lib.BACKBONE))


def _export(job: TrainingJob, model: tf.keras.Model, hp: keras_tuner.HyperParameters, outcome: TrainingOutcome,
            tf_transform_output: tft.TFTransformOutput) -> None:
  """The chief saves the model without augmentation, its training record, and how training ended."""
  weights = model_lib.layer_weights(model)
  if not strategy_lib.is_chief():
    return
  settings = job.settings
  exported = model_lib.inference_model(weights, hp, settings)
  exported.save(job.serving_model_dir, save_format='tf',
                signatures=serving_signatures(exported, tf_transform_output, settings.labels))
  logging.info('Trainer exported the model to %s', job.serving_model_dir)
  record_path = os.path.join(job.serving_model_dir, training_record_lib.RECORD_FILE)
  tf.io.gfile.makedirs(os.path.dirname(record_path))
  with tf.io.gfile.GFile(record_path, 'w') as handle:
    handle.write(training_record(settings, hp, job.train_files).to_json())
  with tf.io.gfile.GFile(outcome_path(job.serving_model_dir), 'w') as handle:
    handle.write(outcome.to_json())


def outcome_path(serving_model_dir: str) -> str:
  """Where the Trainer leaves its TrainingOutcome for its executor: beside the exported model."""
  return os.path.join(os.path.dirname(serving_model_dir.rstrip('/')), names.TRAINING_OUTCOME_FILE)


def training_record(settings: TrainingSettings, hp: keras_tuner.HyperParameters,
                    train_files: Sequence[str]) -> training_record_lib.TrainingRecord:
  """What a later run compares with this one to decide whether it may start from these weights."""
  return training_record_lib.TrainingRecord(labels=tuple(settings.labels), backbone=settings.backbone,
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
