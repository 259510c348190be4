"""The model's defaults from the data: each rule, the config's values winning, and the record Transform writes."""
import pytest

from components import model_choice
from components.model_choice import ImageStatistics
from components.model_choice import ModelRequest


def statistics(images, colour, shorter_sides):
  """Statistics of `images` images, `colour` of them in colour, with the given shorter sides (cycled)."""
  sides = [shorter_sides[index % len(shorter_sides)] for index in range(images)]
  return ImageStatistics.from_counts(images, colour, {
      str(size): sum(side >= size for side in sides) for size in model_choice.IMAGE_SIZES})


@pytest.mark.parametrize('stats, expected', [
    # The embedded digits: grey 32 px scans; the small CNN first, averaging the pretrained size down to 32 px.
    (statistics(100, 0, [32]), ('small_cnn', None, 96, 32, False)),
    # Colour photos: the pretrained backbone first, at their typical size, augmented.
    (statistics(100, 90, [150, 170, 200]), ('efficientnet_lite0', 'imagenet', 160, 160, True)),
    (statistics(100, 100, [1500, 3000]), ('efficientnet_lite0', 'imagenet', 224, 224, True)),
    # Colour thumbnails: the small CNN first; augmented; upscaled to the pretrained backbone's smallest size.
    (statistics(100, 100, [40, 50, 60]), ('small_cnn', None, 96, 32, True)),
    # Large grey scans (digits upscaled, X-rays): the small CNN first, not flipped.
    (statistics(100, 10, [500]), ('small_cnn', None, 224, 32, False)),
    # Tiny images: the smallest size, whose resize upsamples them.
    (statistics(100, 0, [8]), ('small_cnn', None, 96, 32, False)),
])
def test_the_data_chooses_every_value_the_config_leaves_open(stats, expected):
  choice = model_choice.choose(ModelRequest(), stats)
  assert (choice.backbone, choice.weights, choice.image_size, choice.model_size, choice.augment_flip) == expected
  assert choice.augment_crop == choice.augment_colour == choice.augment_flip
  assert choice.chosen_from_data == model_choice.OPEN_VALUES
  # Both candidates are compared by the Tuner, the rules' pick first.
  assert choice.candidates[0] == choice.backbone and set(choice.candidates) == set(model_choice.CANDIDATES)
  assert choice.small_cnn_size == model_choice.SMALL_CNN_MAX_SIZE


def test_the_tuners_pick_of_the_candidates_brings_its_weights_and_size():
  choice = model_choice.choose(ModelRequest(), statistics(100, 0, [72]))
  assert 'small_cnn (from scratch) at 32 px (averaged from 96)' in choice.describe()
  pretrained = choice.with_backbone('efficientnet_lite0')
  assert (pretrained.weights, pretrained.model_size) == ('imagenet', 96)
  assert pretrained.describe().startswith('efficientnet_lite0 (imagenet weights) at 96 px, augmentation off')
  with pytest.raises(ValueError, match="'mobilenet_v2' is not one of the candidates"):
    choice.with_backbone('mobilenet_v2')


def test_the_median_shorter_side_is_the_largest_size_most_images_reach():
  assert statistics(4, 4, [100, 100, 300, 300]).median_shorter_side == 96  # the lower median
  assert statistics(4, 4, [100, 130, 300, 300]).median_shorter_side == 128
  assert statistics(3, 1, [20, 20, 300]).median_shorter_side == 0
  assert statistics(3, 1, [20, 20, 300]).photos is False
  assert statistics(0, 0, [1]).median_shorter_side == 0


def test_the_config_wins_and_only_open_values_are_chosen():
  photos = statistics(100, 100, [200])
  choice = model_choice.choose(ModelRequest(image_size=40, augment_flip=False), photos)
  assert (choice.backbone, choice.image_size, choice.augment_flip, choice.augment_crop) == (
      'efficientnet_lite0', 40, False, True)
  assert choice.chosen_from_data == ('backbone', 'augment_crop', 'augment_colour')
  assert 'backbone, augment_crop, augment_colour chosen from the data (100 of 100 in colour' in choice.describe()
  # Both candidates at the config's size: the small CNN does not average it down.
  assert (choice.candidates, choice.small_cnn_size) == (('efficientnet_lite0', 'small_cnn'), 40)
  # No weights means no pretrained backbone, and nothing to compare; the small CNN at its own size.
  scratch = model_choice.choose(ModelRequest(weights='none'), photos)
  assert (scratch.backbone, scratch.candidates, scratch.image_size) == ('small_cnn', ('small_cnn',), 32)
  # A named backbone is not compared; a pretrained one named for small images still gets 96 px.
  named = model_choice.choose(ModelRequest(backbone='mobilenet_v2'), statistics(10, 0, [32]))
  assert (named.image_size, named.weights, named.augment_flip, named.candidates) == (
      96, 'imagenet', False, ('mobilenet_v2',))
  fixed = model_choice.choose(ModelRequest(32, 'small_cnn', None, False, False, False), photos)
  assert fixed.chosen_from_data == () and fixed.describe().endswith('; all set by the config')


def test_the_choice_round_trips_through_the_transform_graph_folder(tmp_path):
  choice = model_choice.choose(ModelRequest(image_size=64), statistics(10, 10, [300]))
  model_choice.write(choice, str(tmp_path))
  assert model_choice.read(str(tmp_path)) == choice
  assert choice.describe() == (
      'efficientnet_lite0 (imagenet weights) at 64 px, augmentation crop+flip+colour; backbone, augment_crop, '
      'augment_flip, augment_colour chosen from the data (10 of 10 in colour, most at least 224 px on the '
      'shorter side)')
