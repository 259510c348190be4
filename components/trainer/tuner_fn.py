"""TFX Tuner entry point: a KerasTuner search (random, Bayesian or Hyperband) over the classifier's space."""
import math

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from components import compat
from components import model_choice
from components.trainer import model as model_lib
from components.trainer.settings import TuningSettings
from components.trainer.settings import TUNERS
from components.trainer import training


class _DefaultsFirst:
  """The first trial runs the space's defaults, so tuning replaces them only with values that did better
  within the same budget; random first trials alone can pick a poor corner of the space by chance."""

  def populate_space(self, trial_id):
    if not self.trials:
      return {'status': keras_tuner.engine.trial.TrialStatus.RUNNING, 'values': self.hyperparameters.values}
    return super().populate_space(trial_id)


class _DefaultsFirstRandomSearchOracle(_DefaultsFirst, keras_tuner.oracles.RandomSearchOracle):
  pass


class _DefaultsFirstBayesianOracle(_DefaultsFirst, keras_tuner.oracles.BayesianOptimizationOracle):
  pass


def make_tuner(settings: TuningSettings, directory: str) -> keras_tuner.Tuner:
  """The tuner settings.tuner names; trials train for at most settings.tuner_epochs epochs."""
  common = dict(objective=keras_tuner.Objective('val_accuracy', 'max'),
                hyperparameters=model_lib.hyperparameter_space(settings.backbone), seed=settings.random_seed)
  if settings.tuner == 'random':
    oracle = _DefaultsFirstRandomSearchOracle(max_trials=settings.tuner_trials, **common)
  elif settings.tuner == 'bayesian':
    oracle = _DefaultsFirstBayesianOracle(max_trials=settings.tuner_trials, **common)
  elif settings.tuner == 'hyperband':
    oracle = keras_tuner.oracles.HyperbandOracle(max_epochs=settings.tuner_epochs, factor=3, **common)
  else:
    raise ValueError(f'unknown tuner {settings.tuner!r}; choose one of {TUNERS}')
  return keras_tuner.Tuner(oracle=oracle, hypermodel=lambda hp: model_lib.build_model(hp, settings),
                           directory=directory, project_name='visionflow_tuning')


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
  """custom_config: TuningSettings, with tuner_trials folded in by the Tuner's executor, and the values it leaves
  open taken from the model Transform chose."""
  settings = TuningSettings.from_custom_config(fn_args.custom_config).with_choice(
      model_choice.read(fn_args.transform_graph_path, tf.io.gfile.GFile))
  compat.skip_autograph_for_tf_keras()
  spec = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_feature_spec()
  batch_size = settings.batch_size
  return TunerFnResult(
      tuner=make_tuner(settings, fn_args.working_dir),
      fit_kwargs={
          'x': training.make_dataset(fn_args.train_files, spec, batch_size, training=True,
                                     seed=settings.random_seed),
          'steps_per_epoch': max(1, math.ceil(training.count_records(fn_args.train_files) / batch_size)),
          'validation_data': training.make_dataset(fn_args.eval_files, spec, batch_size, training=False),
          'epochs': settings.tuner_epochs,
          # The Trainer's recipe, so that the winning trial reproduces; a trial that stops improving or is not
          # learning ends early, leaving the budget to the others.
          'callbacks': training.recipe_callbacks(len(settings.labels), settings.patience),
          'verbose': 0,
      })
