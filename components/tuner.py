"""TFX Tuner entry point: a KerasTuner search (random, Bayesian or Hyperband) over the classifier's space."""
import math

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from components import model as model_lib
from components import training

TUNERS = ('random', 'bayesian', 'hyperband')


def make_tuner(config: dict, directory: str) -> keras_tuner.Tuner:
  """The tuner named by config['tuner']; trials train for at most config['tuner_epochs'] epochs."""
  common = dict(hypermodel=lambda hp: model_lib.build_model(hp, config),
                hyperparameters=model_lib.hyperparameter_space(config['backbone']),
                objective=keras_tuner.Objective('val_accuracy', 'max'), directory=directory,
                project_name='visionflow_tuning', seed=config['random_seed'])
  if config['tuner'] == 'random':
    return keras_tuner.RandomSearch(max_trials=config['tuner_trials'], **common)
  if config['tuner'] == 'bayesian':
    return keras_tuner.BayesianOptimization(max_trials=config['tuner_trials'], **common)
  if config['tuner'] == 'hyperband':
    return keras_tuner.Hyperband(max_epochs=config['tuner_epochs'], factor=3, **common)
  raise ValueError(f'unknown tuner {config["tuner"]!r}; choose one of {TUNERS}')


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
  """custom_config: the model settings plus tuner, tuner_trials, tuner_epochs."""
  config = fn_args.custom_config
  spec = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_feature_spec()
  batch_size = config['batch_size']
  return TunerFnResult(
      tuner=make_tuner(config, fn_args.working_dir),
      fit_kwargs={
          'x': training.make_dataset(fn_args.train_files, spec, batch_size, training=True,
                                     seed=config['random_seed']),
          'steps_per_epoch': max(1, math.ceil(training.count_records(fn_args.train_files) / batch_size)),
          'validation_data': training.make_dataset(fn_args.eval_files, spec, batch_size, training=False),
          'epochs': config['tuner_epochs'],
          # A trial that stops improving ends early, leaving the budget to the others.
          'callbacks': [tf.keras.callbacks.EarlyStopping(monitor='val_accuracy', mode='max', patience=2)],
          'verbose': 0,
      })
