"""The classifier: every backbone builds over the labels, pretrained ones start frozen and fine-tune their top."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from components import features
from components.trainer import model as model_lib
from components.trainer.settings import TuningSettings

LABELS = [str(index) for index in range(5)]


SETTINGS = TuningSettings(labels=tuple(LABELS), image_size=32, backbone='small_cnn', weights=None,
                          augment_crop=False, augment_flip=False, augment_colour=False, batch_size=32,
                          tuner='random', tuner_trials=2, tuner_epochs=8, patience=5, random_seed=0)


def _config(**changes):
  return dataclasses.replace(SETTINGS, **changes)


@pytest.mark.parametrize('backbone', model_lib.BACKBONES)
def test_every_backbone_builds_a_classifier_over_the_labels(backbone):
  hp = model_lib.hyperparameter_space(backbone)
  model = model_lib.build_model(hp, _config(backbone=backbone))
  probabilities = model({features.PIXELS: tf.random.uniform((2, 32, 32, 3))})
  assert probabilities.shape == (2, len(LABELS))
  np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, atol=1e-5)
  assert ('fine_tune' in hp.values) == (backbone != 'small_cnn')


def test_a_pretrained_backbone_starts_frozen_and_fine_tuning_unfreezes_its_top(tmp_path, monkeypatch):
  monkeypatch.setenv('VISIONFLOW_WEIGHTS_CACHE', str(tmp_path))
  hp = model_lib.hyperparameter_space('efficientnet_lite0')
  model = model_lib.build_model(hp, _config(backbone='efficientnet_lite0', weights='imagenet', image_size=64))
  backbone = model.get_layer('efficientnet_lite0')
  assert not backbone.trainable
  frozen_trainable = len(model.trainable_weights)
  assert frozen_trainable == 4  # the two dense layers of the head

  model_lib.fine_tune_model(model, layers=10, learning_rate=1e-4)
  network = next(layer for layer in backbone.layers if isinstance(layer, tf.keras.Model))
  trainable = [layer for layer in network.layers if layer.trainable and layer.weights]
  assert trainable and all(layer in network.layers[-10:] for layer in trainable)
  assert not any(isinstance(layer, tf.keras.layers.BatchNormalization) for layer in trainable)
  assert len(model.trainable_weights) > frozen_trainable


def test_weights_from_a_local_file_for_air_gapped_clusters(tmp_path):
  source = tf.keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3),
                                             pooling='avg')
  path = str(tmp_path / 'mobilenet_v2_notop.h5')
  source.save_weights(path)
  hp = model_lib.hyperparameter_space('mobilenet_v2')
  backbone = model_lib.build_backbone('mobilenet_v2', 32, path, hp)
  loaded = next(layer for layer in backbone.layers if isinstance(layer, tf.keras.Model))
  for expected, actual in zip(source.get_weights(), loaded.get_weights()):
    np.testing.assert_array_equal(expected, actual)


def test_small_cnn_refuses_pretrained_weights():
  with pytest.raises(ValueError, match='trains from scratch'):
    model_lib.build_backbone('small_cnn', 32, 'imagenet', model_lib.hyperparameter_space())


def test_augmentation_changes_images_only_in_training():
  layers = model_lib.augmentation(crop=True, flip=True, colour=True)
  images = tf.random.uniform((8, 32, 32, 3), seed=1)
  np.testing.assert_allclose(layers(images, training=False).numpy(), images.numpy(), atol=1e-6)
  assert not np.allclose(layers(images, training=True).numpy(), images.numpy(), atol=1e-3)
  assert [layer.__class__.__name__ for layer in model_lib.augmentation(False, True, False).layers] == [
      'RandomFlip']


def test_the_small_cnn_averages_a_larger_input_down_before_augmenting_it():
  """One transformed size serves both candidates: the small CNN averages each 3x3 block of a 96 px input."""
  settings = _config(image_size=96, small_cnn_size=32, augment_crop=True)
  model = model_lib.build_model(model_lib.hyperparameter_space('small_cnn'), settings)
  assert [layer.name for layer in model.layers[1:3]] == ['downsize', 'augmentation']
  assert model.get_layer('small_cnn').input_shape == (None, 32, 32, 3)
  pixels = tf.random.uniform((1, 96, 96, 3))
  averaged = model.get_layer('downsize')(pixels)
  np.testing.assert_allclose(averaged[0, 0, 0], tf.reduce_mean(pixels[0, :3, :3], axis=(0, 1)), atol=1e-6)
  # The pretrained candidate, chosen by the Tuner's BACKBONE, sees the whole 96 px image and its weights.
  hp = model_lib.hyperparameter_space('small_cnn', compared_backbones=('small_cnn', 'efficientnet_lite0'))
  hp.values[model_lib.BACKBONE] = 'efficientnet_lite0'
  pretrained = model_lib.build_model(hp, settings)
  assert 'downsize' not in [layer.name for layer in pretrained.layers]
  assert pretrained.get_layer('efficientnet_lite0').input_shape == (None, 96, 96, 3)
  assert not pretrained.get_layer('efficientnet_lite0').trainable


def test_the_compared_backbones_each_keep_their_own_hyperparameters():
  hp = model_lib.hyperparameter_space('efficientnet_lite0', augment=True,
                                      compared_backbones=('efficientnet_lite0', 'small_cnn'))
  assert hp.values == dict(model_lib.hyperparameter_space('efficientnet_lite0').values, augment=True,
                           backbone='efficientnet_lite0')
  conditional = {spec.name: [condition.values for condition in spec.conditions] for spec in hp.space}
  assert conditional['filters'] == [['small_cnn']] and conditional['fine_tune'] == [['efficientnet_lite0']]
  assert conditional['learning_rate'] == []
