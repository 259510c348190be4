"""The Keras image classifier, its hyperparameter space and its input pipeline over Transform's output."""
from typing import List, Optional

import keras_tuner
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import DataAccessor
from tfx_bsl.public import tfxio
import tensorflow_transform as tft

from components import features


def hyperparameter_space() -> keras_tuner.HyperParameters:
  """The space the Tuner searches; its first values are the defaults when no Tuner runs."""
  hp = keras_tuner.HyperParameters()
  hp.Choice('learning_rate', [3e-3, 1e-3])
  hp.Choice('filters', [32, 16])
  hp.Choice('dense_units', [128, 64])
  hp.Choice('dropout', [0.3, 0.1])
  return hp


def build_model(hp: keras_tuner.HyperParameters, image_size: int, num_classes: int) -> tf.keras.Model:
  """A small CNN trained from scratch: three conv blocks, global pooling, a dense head with softmax.

  No BatchNorm: on a few hundred steps its moving statistics lag, and evaluation accuracy swings widely
  from epoch to epoch while training accuracy climbs.
  """
  filters = hp.get('filters')
  pixels = tf.keras.Input(shape=(image_size, image_size, 3), name=features.PIXELS)
  x = pixels
  for multiplier in (1, 2, 4):
    x = tf.keras.layers.Conv2D(filters * multiplier, 3, padding='same', activation='relu')(x)
    x = tf.keras.layers.MaxPooling2D()(x)
  x = tf.keras.layers.GlobalAveragePooling2D()(x)
  x = tf.keras.layers.Dropout(hp.get('dropout'))(x)
  x = tf.keras.layers.Dense(hp.get('dense_units'), activation='relu')(x)
  probabilities = tf.keras.layers.Dense(num_classes, activation='softmax', name=features.PROBABILITIES)(x)
  model = tf.keras.Model(inputs={features.PIXELS: pixels}, outputs=probabilities)
  model.compile(optimizer=tf.keras.optimizers.Adam(hp.get('learning_rate')),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(),
                metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name='accuracy')])
  return model


def input_fn(file_pattern: List[str], data_accessor: DataAccessor,
             tf_transform_output: tft.TFTransformOutput, batch_size: int,
             num_epochs: Optional[int] = 1, shuffle: bool = True) -> tf.data.Dataset:
  """Batches of ({pixels}, label_index) from Transform's materialised examples."""
  return data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=features.LABEL_INDEX,
                                     num_epochs=num_epochs, shuffle=shuffle),
      tf_transform_output.transformed_metadata.schema).prefetch(tf.data.AUTOTUNE)
