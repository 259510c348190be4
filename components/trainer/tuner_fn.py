"""TFX Tuner entry point: a KerasTuner search (random, Bayesian or Hyperband) over the classifier's space."""
import math
from typing import Optional

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from components import compat
from components import model_choice
from components.trainer import frozen_features
from components.trainer import model as model_lib
from components.trainer.settings import TuningSettings
from components.trainer.settings import TUNERS
from components.trainer import training


class _DefaultsFirst:
  """The first trial runs the space's defaults, so tuning replaces them only with values that did better
  within the same budget; random first trials alone can pick a poor corner of the space by chance. Where the
  space holds augmentation (AUGMENT), the second trial runs the defaults with it turned the other way, so that
  the budget's first two trials compare augmentation on and off on the eval split."""

  def populate_space(self, trial_id):
    defaults = self.hyperparameters.values
    if not self.trials:
      return {'status': keras_tuner.engine.trial.TrialStatus.RUNNING, 'values': dict(defaults)}
    if len(self.trials) == 1 and model_lib.AUGMENT in defaults:
      return {'status': keras_tuner.engine.trial.TrialStatus.RUNNING,
              'values': dict(defaults, **{model_lib.AUGMENT: not defaults[model_lib.AUGMENT]})}
    return super().populate_space(trial_id)


class _DefaultsFirstRandomSearchOracle(_DefaultsFirst, keras_tuner.oracles.RandomSearchOracle):
  pass


class _DefaultsFirstBayesianOracle(_DefaultsFirst, keras_tuner.oracles.BayesianOptimizationOracle):
  pass


class _FeaturesTuner(keras_tuner.Tuner):
  """A tuner whose trials train the head on a frozen backbone's cached features: the augmented views for a
  trial with augmentation, the plain ones for a trial without."""

  def __init__(self, features: frozen_features.FeatureSets, settings: TuningSettings, **kwargs):
    super().__init__(**kwargs)
    self._features = features
    self._settings = settings

  def run_trial(self, trial, *args, **kwargs):
    augmented = any(model_lib.augmentations(trial.hyperparameters, self._settings))
    train, validation, steps_per_epoch = self._features.datasets(self._settings.batch_size,
                                                                 self._settings.random_seed, augmented)
    return super().run_trial(trial, *args, **dict(kwargs, x=train, validation_data=validation,
                                                  steps_per_epoch=steps_per_epoch))


def make_tuner(settings: TuningSettings, directory: str, features: Optional[frozen_features.FeatureSets] = None,
               compare_augmentation: bool = False) -> keras_tuner.Tuner:
  """The tuner settings.tuner names; trials train for at most settings.tuner_epochs epochs. With `features`,
  the trials train the head alone, on a frozen backbone's cached features. With `compare_augmentation`, the
  space also holds augmentation as a whole, its default the settings'."""
  common = dict(objective=keras_tuner.Objective('val_accuracy', 'max'), seed=settings.random_seed,
                hyperparameters=model_lib.hyperparameter_space(
                    settings.backbone, settings.augmented if compare_augmentation else None))
  if settings.tuner == 'random':
    oracle = _DefaultsFirstRandomSearchOracle(max_trials=settings.tuner_trials, **common)
  elif settings.tuner == 'bayesian':
    oracle = _DefaultsFirstBayesianOracle(max_trials=settings.tuner_trials, **common)
  elif settings.tuner == 'hyperband':
    oracle = keras_tuner.oracles.HyperbandOracle(max_epochs=settings.tuner_epochs, factor=3, **common)
  else:
    raise ValueError(f'unknown tuner {settings.tuner!r}; choose one of {TUNERS}')
  common = dict(oracle=oracle, directory=directory, project_name='visionflow_tuning')
  if features:
    return _FeaturesTuner(features, settings, hypermodel=lambda hp: model_lib.build_head(hp, settings, features.size),
                          **common)
  return keras_tuner.Tuner(hypermodel=lambda hp: model_lib.build_model(hp, settings), **common)


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
  """custom_config: TuningSettings, with tuner_trials folded in by the Tuner's executor, and the values it leaves
  open taken from the model Transform chose. Augmentation that the config leaves open is compared, on and off
  (the space's AUGMENT). Over a frozen pretrained backbone, the trials train the head on features computed once
  (components/trainer/frozen_features.py)."""
  choice = model_choice.read(fn_args.transform_graph_path, tf.io.gfile.GFile)
  settings = TuningSettings.from_custom_config(fn_args.custom_config).with_choice(choice)
  compare_augmentation = set(model_choice.AUGMENTATIONS) <= set(choice.chosen_from_data)
  compat.skip_autograph_for_tf_keras()
  spec = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_feature_spec()
  batch_size = settings.batch_size
  features = None
  if frozen_features.uses_cached_features(settings.weights, 'one_device'):  # the trials run in this process
    # A model whose augmentation layers are all on, for the augmented views; the plain ones bypass them.
    backbone_model = model_lib.build_model(model_lib.hyperparameter_space(settings.backbone, augment=True), settings)
    features = training.cached_features(backbone_model, settings, fn_args.train_files, fn_args.eval_files, spec,
                                        batch_size, plain=compare_augmentation or not settings.augmented,
                                        augmented=compare_augmentation or settings.augmented)
  train = training.make_dataset(fn_args.train_files, spec, batch_size, training=True, seed=settings.random_seed)
  return TunerFnResult(
      tuner=make_tuner(settings, fn_args.working_dir, features, compare_augmentation),
      fit_kwargs={
          # Trials on cached features replace these with the features' datasets.
          'x': train,
          'steps_per_epoch': max(1, math.ceil(training.count_records(fn_args.train_files) / batch_size)),
          'validation_data': training.make_dataset(fn_args.eval_files, spec, batch_size, training=False),
          'epochs': settings.tuner_epochs,
          # The Trainer's recipe, so that the winning trial reproduces; a trial that stops improving or is not
          # learning ends early, leaving the budget to the others.
          'callbacks': training.recipe_callbacks(len(settings.labels), settings.patience),
          'verbose': 0,
      })
