"""TFX Trainer entry point: trains the classifier and exports a SavedModel with its serving signatures."""
from typing import Sequence

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import FnArgs

from components import features
from components import model as model_lib


class _EpochLogger(tf.keras.callbacks.Callback):
  """One log line per epoch, so a long Trainer step shows how far along it is."""

  def __init__(self, epochs: int):
    super().__init__()
    self._epochs = epochs

  def on_epoch_end(self, epoch, logs=None):
    shown = ', '.join(f'{name} {value:.4f}' for name, value in sorted((logs or {}).items()))
    logging.info('Trainer epoch %d/%d: %s', epoch + 1, self._epochs, shown)


def _serving_signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput,
                        labels: Sequence[str]):
  """serving_default takes raw image bytes; the tf.Example signatures are what TFMA calls.

  All three run the same Transform graph, so serving sees exactly the preprocessing of training.
  """
  model.tft_layer = tf_transform_output.transform_features_layer()
  class_names = tf.constant(list(labels))
  raw_feature_spec = tf_transform_output.raw_feature_spec()
  unlabelled_spec = {name: spec for name, spec in raw_feature_spec.items() if name != features.LABEL}

  def predict(raw_features):
    transformed = model.tft_layer(raw_features)
    return model({features.PIXELS: transformed[features.PIXELS]})

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT)])
  def serve_image_bytes(image_bytes):
    probabilities = predict({features.IMAGE: tf.reshape(image_bytes, [-1, 1])})
    class_index = tf.argmax(probabilities, axis=1)
    return {features.PROBABILITIES: probabilities,
            features.CLASS_INDEX: class_index,
            features.CLASS_NAME: tf.gather(class_names, class_index)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serve_tf_examples(serialized_examples):
    return {features.PROBABILITIES: predict(tf.io.parse_example(serialized_examples, unlabelled_spec))}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(serialized_examples):
    return model.tft_layer(tf.io.parse_example(serialized_examples, raw_feature_spec))

  return {
      'serving_default': serve_image_bytes.get_concrete_function(),
      features.TF_EXAMPLE_SIGNATURE: serve_tf_examples.get_concrete_function(),
      features.TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
  }


def run_fn(fn_args: FnArgs) -> None:
  """Trains on Transform's train split, validates on eval, exports to fn_args.serving_model_dir.

  custom_config: labels, image_size, batch_size, epochs, random_seed. Hyperparameters come from the Tuner when it ran.
  """
  config = fn_args.custom_config
  labels = config['labels']
  tf.keras.utils.set_random_seed(config['random_seed'])
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  hp = (keras_tuner.HyperParameters.from_config(fn_args.hyperparameters)
        if fn_args.hyperparameters else model_lib.hyperparameter_space())
  logging.info('Trainer hyperparameters: %s', hp.values)

  train_dataset = model_lib.input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output,
                                     config['batch_size'])
  eval_dataset = model_lib.input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
                                    config['batch_size'], shuffle=False)
  model = model_lib.build_model(hp, config['image_size'], len(labels))
  model.fit(train_dataset, validation_data=eval_dataset, epochs=config['epochs'], verbose=0,
            callbacks=[_EpochLogger(config['epochs']),
                       # Exports the weights of the epoch with the best eval-split accuracy.
                       tf.keras.callbacks.EarlyStopping(monitor='val_accuracy', mode='max',
                                                        patience=config['epochs'],
                                                        restore_best_weights=True),
                       tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])
  model.save(fn_args.serving_model_dir, save_format='tf',
             signatures=_serving_signatures(model, tf_transform_output, labels))
  logging.info('Trainer exported the model to %s', fn_args.serving_model_dir)
