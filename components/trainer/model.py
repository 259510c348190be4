"""The Keras image classifier: a selectable backbone, augmentation layers, a dense head, and its
hyperparameter space.

Backbones take float pixels in [0, 1] (Transform's output) and scale them as each network expects.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import keras_tuner
import tensorflow as tf

from components import features
from components.trainer.settings import AUGMENT
from components.trainer.settings import BACKBONE
from components.trainer.settings import BACKBONES
from components.trainer.settings import hyperparameter_specs
from components.trainer.settings import TuningSettings


FEATURES = 'backbone_features'  # the head's input, when it trains alone on a frozen backbone's features


class WeightsUnavailableError(RuntimeError):
  """Pretrained weights could not be loaded; the message says how to provide them."""


def hyperparameter_space(backbone: str = 'small_cnn', augment: Optional[bool] = None,
                         compared_backbones: Sequence[str] = ()) -> keras_tuner.HyperParameters:
  """The space of settings.hyperparameter_specs, as KerasTuner searches it. With `augment` (the data's default),
  also whether to augment (AUGMENT); with `compared_backbones` (`backbone` among them, its default), also which
  backbone (BACKBONE), each one's own hyperparameters active only with it: for the Tuner to compare what the
  config leaves open."""
  hp = keras_tuner.HyperParameters()
  backbones = tuple(compared_backbones) or (backbone,)
  specs = {name: hyperparameter_specs(name) for name in backbones}
  shared = set.intersection(*(set(values) for values in specs.values()))
  if len(backbones) > 1:
    hp.Choice(BACKBONE, list(backbones), default=backbone)
  for spec in specs[backbones[0]]:
    if spec in shared:
      _declare(hp, spec)
  for name in backbones:
    for spec in specs[name]:
      if spec not in shared:
        with hp.conditional_scope(BACKBONE, [name]):
          _declare(hp, spec)
  if augment is not None:
    hp.Boolean(AUGMENT, default=augment)
  return hp


def _declare(hp: keras_tuner.HyperParameters, spec) -> None:
  if spec.kind == 'float':
    hp.Float(spec.name, spec.low, spec.high, step=spec.step, sampling=spec.sampling, default=spec.default)
  elif spec.kind == 'choice':
    hp.Choice(spec.name, list(spec.values), default=spec.default)
  else:
    hp.Boolean(spec.name, default=spec.default)


def model_settings(hp: keras_tuner.HyperParameters, settings: TuningSettings) -> TuningSettings:
  """`settings` with the backbone `hp` holds, where the Tuner compared backbones (BACKBONE)."""
  return settings.with_backbone(hp.get(BACKBONE)) if BACKBONE in hp.values else settings


def augmentations(hp: keras_tuner.HyperParameters, settings: TuningSettings) -> Tuple[bool, bool, bool]:
  """(crop, flip, colour): all three as the Tuner chose (AUGMENT), where it chose; else the settings'."""
  if AUGMENT in hp.values:
    return (bool(hp.get(AUGMENT)),) * 3
  return settings.augment_crop, settings.augment_flip, settings.augment_colour


def fixed_hyperparameters(backbone: str, values: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
  """The backbone's space with the config's fixed `values`, as HyperParameters.get_config(); None without any.

  A value for another backbone's hyperparameter (a config whose backbone the data chose) is left out.
  """
  if not values:
    return None
  hp = hyperparameter_space(backbone)
  hp.values.update({name: value for name, value in values.items() if name in hp.values})
  return hp.get_config()


def build_backbone(name: str, image_size: int, weights: Optional[str],
                   hp: keras_tuner.HyperParameters) -> tf.keras.Model:
  """Pixels [0, 1] -> a feature vector. `weights`: 'imagenet', None, or a local weights file."""
  pixels = tf.keras.Input(shape=(image_size, image_size, 3))
  if name == 'small_cnn':
    if weights:
      raise ValueError('the small_cnn backbone trains from scratch: use --weights none')
    x = pixels
    # Batch normalisation after every convolution: without it, a Trainer on grey symbols stayed at a loss of
    # ln(classes) for all its epochs where a Tuner trial on the same data had learned. Its averages move at
    # momentum 0.9 rather than Keras's 0.99, since small sets make few steps an epoch; even so the eval accuracy
    # can stay at chance for the first epochs, which the recipe allows for (training.EvalPlateau).
    for multiplier in (1, 2, 4):
      x = tf.keras.layers.Conv2D(hp.get('filters') * multiplier, 3, padding='same', use_bias=False)(x)
      x = tf.keras.layers.ReLU()(tf.keras.layers.BatchNormalization(momentum=0.9)(x))
      x = tf.keras.layers.MaxPooling2D()(x)
    return tf.keras.Model(pixels, tf.keras.layers.GlobalAveragePooling2D()(x), name='small_cnn')
  if name == 'efficientnet_lite0':
    from components.trainer.backbones import efficientnet_lite0
    network = efficientnet_lite0.build_efficientnet_lite0(
        input_shape=(image_size, image_size, 3), include_top=False, weights=weights, pooling='avg')
    return tf.keras.Model(pixels, network(pixels), name='efficientnet_lite0')
  applications = {
      'mobilenet_v2': (tf.keras.applications.MobileNetV2, lambda x: x * 2.0 - 1.0),
      'efficientnet_b0': (tf.keras.applications.EfficientNetB0, lambda x: x * 255.0),
  }
  if name not in applications:
    raise ValueError(f'unknown backbone {name!r}; choose one of {BACKBONES}')
  application, scale = applications[name]
  try:
    network = application(include_top=False, weights=weights, input_shape=(image_size, image_size, 3),
                          pooling='avg')
  except Exception as error:  # Keras raises plain Exception for a failed download
    if weights == 'imagenet':
      raise WeightsUnavailableError(
          f'could not fetch the ImageNet weights of {name} ({error}). On a machine with internet, run '
          f'`python -c "import tensorflow as tf; tf.keras.applications.{application.__name__}(include_top=False, '
          f'pooling=\'avg\')"` and pass the file it saves under ~/.keras/models/ with --weights PATH '
          f'(or use --backbone efficientnet_lite0, whose weights ship with a Python package).') from error
    raise
  return tf.keras.Model(pixels, network(scale(pixels)), name=name)


def augmentation(crop: bool, flip: bool, colour: bool) -> tf.keras.Sequential:
  """Random crop, horizontal flip, contrast and brightness, on batches, active only in training."""
  layers = []
  if crop:  # a random crop of 80-100% of the image, resized back; RandomCrop would resize at inference
    layers.append(tf.keras.layers.RandomZoom((-0.2, 0.0)))
  if flip:
    layers.append(tf.keras.layers.RandomFlip('horizontal'))
  if colour:
    layers += [tf.keras.layers.RandomContrast(0.2), tf.keras.layers.RandomBrightness(0.2, value_range=(0, 1))]
  return tf.keras.Sequential(layers, name='augmentation')


def build_model(hp: keras_tuner.HyperParameters, settings: TuningSettings, steps_per_execution: int = 1,
                augment: bool = True) -> tf.keras.Model:
  """The classifier for Transform's `pixels`; with `augment` False, without the settings' augmentation.

  A pretrained backbone starts frozen (transfer learning); `fine_tune_model` unfreezes its top layers.
  """
  settings = model_settings(hp, settings)
  image_size = settings.image_size
  pixels = tf.keras.Input(shape=(image_size, image_size, 3), name=features.PIXELS)
  x, size = pixels, image_size
  if settings.backbone == 'small_cnn' and settings.small_cnn_size and settings.small_cnn_size < image_size:
    # The small CNN's size (model_choice.SMALL_CNN_MAX_SIZE), before augmentation, which then works on fewer
    # pixels: an average over each block of pixels, an antialiased resize that TFLite runs as a builtin.
    size = settings.small_cnn_size
    x = tf.keras.layers.AveragePooling2D(image_size // size, name='downsize')(x)
  x = augmentation(*(augment and on for on in augmentations(hp, settings)))(x)
  backbone = build_backbone(settings.backbone, size, settings.weights, hp)
  backbone.trainable = not settings.weights
  x = backbone(x, training=False) if settings.weights else backbone(x)
  model = tf.keras.Model(inputs={features.PIXELS: pixels}, outputs=_head(x, hp, len(settings.labels)))
  compile_model(model, hp.get('learning_rate'), steps_per_execution)
  return model


def build_head(hp: keras_tuner.HyperParameters, settings: TuningSettings, feature_size: int,
               steps_per_execution: int = 1) -> tf.keras.Model:
  """build_model's layers above a frozen backbone, alone: its features in, probabilities out. While the backbone
  is frozen, this trains on features computed once (components/trainer/frozen_features.py)."""
  backbone_features = tf.keras.Input(shape=(feature_size,), name=FEATURES)
  head = tf.keras.Model(backbone_features, _head(backbone_features, hp, len(settings.labels)))
  compile_model(head, hp.get('learning_rate'), steps_per_execution)
  return head


def _head(x: tf.Tensor, hp: keras_tuner.HyperParameters, classes: int) -> tf.Tensor:
  # Named, so that a model built again in the same process (inference_model, build_head) finds each layer's twin.
  x = tf.keras.layers.Dropout(hp.get('dropout'), name='head_dropout')(x)
  regularizer = tf.keras.regularizers.l2(hp.get('l2'))
  x = tf.keras.layers.Dense(hp.get('dense_units'), activation='relu', kernel_regularizer=regularizer,
                            name='head_dense')(x)
  return tf.keras.layers.Dense(classes, activation='softmax', kernel_regularizer=regularizer,
                               name=features.PROBABILITIES)(x)


def layer_weights(trained: tf.keras.Model) -> Dict[str, List]:
  """Each layer's weights by layer name, as NumPy arrays. Under MultiWorkerMirrored every worker must call this:
  reading batch normalisation's averages (synchronised on read) is a collective."""
  return {layer.name: layer.get_weights() for layer in trained.layers if layer.weights}


def set_layer_weights(target: tf.keras.Model, weights: Dict[str, List]) -> None:
  """Gives each of target's layers named in `weights` (layer_weights of a model built alike) those weights: the
  head's layers between build_model and build_head, every layer for inference_model."""
  for layer in target.layers:
    if layer.weights and layer.name in weights:
      layer.set_weights(weights[layer.name])


def inference_model(weights: Dict[str, List], hp: keras_tuner.HyperParameters,
                    settings: TuningSettings) -> tf.keras.Model:
  """The trained classifier as it is exported: the same layers with `weights` (layer_weights of the trained
  model), without augmentation, built outside any distribution strategy.

  A model trained under MultiWorkerMirrored (or Mirrored, or a TPU) holds distributed variables, and its random
  augmentation layers' state is one: tf_keras cannot save the functions that read it ("ConcreteFunction that
  uses distributed variables in certain way cannot be saved"). Serving applies no augmentation anyway. The
  layer structure stays the training model's (an empty augmentation block), so that warm start loads either.
  """
  if tf.distribute.has_strategy():
    raise RuntimeError('inference_model must be called outside the training strategy\'s scope')
  exported = build_model(hp, settings, augment=False)
  set_layer_weights(exported, weights)
  return exported


def fine_tune_model(model: tf.keras.Model, layers: int, learning_rate: float,
                    steps_per_execution: int = 1) -> None:
  """Unfreezes the backbone's top `layers` layers (BatchNorm stays frozen) and recompiles."""
  backbone = next(layer for layer in model.layers if layer.name in BACKBONES)
  network = next((layer for layer in backbone.layers if isinstance(layer, tf.keras.Model)), backbone)
  backbone.trainable = True
  for layer in network.layers[:-layers]:
    layer.trainable = False
  for layer in network.layers:
    if isinstance(layer, tf.keras.layers.BatchNormalization):
      layer.trainable = False
  compile_model(model, learning_rate, steps_per_execution)


def compile_model(model: tf.keras.Model, learning_rate: float, steps_per_execution: int = 1) -> None:
  model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(),
                metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name='accuracy')],
                steps_per_execution=steps_per_execution)
