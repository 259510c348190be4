"""TFX Tuner entry point: a KerasTuner random search over the classifier's hyperparameter space."""
import keras_tuner
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from components import model as model_lib


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
  """custom_config: labels, image_size, batch_size, tuner_trials, tuner_epochs, random_seed."""
  config = fn_args.custom_config
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  tuner = keras_tuner.RandomSearch(
      lambda hp: model_lib.build_model(hp, config['image_size'], len(config['labels'])),
      hyperparameters=model_lib.hyperparameter_space(),
      objective=keras_tuner.Objective('val_accuracy', 'max'),
      max_trials=config['tuner_trials'],
      directory=fn_args.working_dir,
      project_name='visionflow_tuning',
      seed=config['random_seed'])
  return TunerFnResult(
      tuner=tuner,
      fit_kwargs={
          'x': model_lib.input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output,
                                  config['batch_size']),
          'validation_data': model_lib.input_fn(fn_args.eval_files, fn_args.data_accessor,
                                                tf_transform_output, config['batch_size'], shuffle=False),
          'epochs': config['tuner_epochs'],
          'verbose': 0,
      })
