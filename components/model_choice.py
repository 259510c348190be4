"""The model settings a config leaves open, chosen from the images ExampleGen read.

A config that names the image size, the backbone or an augmentation keeps it; each value left unset is chosen
from ExampleGen's image statistics, so that the defaults fit the data rather than the embedded digits:
  - the backbone: where the config leaves it open, the Tuner compares both CANDIDATES on the eval split, at
    their default hyperparameters (components/trainer/tuner_fn.py), and the Trainer trains the one that scored
    higher. Rules about the data only pick which one goes first, and the one a run without a Tuner trains:
    photos (at least half of the images in colour, judged from their pixels by ExampleGen, since many sets
    store grey images as RGB) that are large enough (most of them at least PRETRAINED_MIN_SIDE pixels on
    their shorter side) the pretrained PRETRAINED_BACKBONE, anything else the small CNN trained from scratch.
    By the rules alone, grey textures stored as RGB got the small CNN at 0.85 test accuracy where frozen
    ImageNet features reached 0.98, and 32 px colour thumbnails 0.76 against 0.99;
  - the image size is the shorter side that most images (more than half) reach, on the grid IMAGE_SIZES,
    within what the backbone uses well. Where the pretrained backbone is a candidate, Transform resizes to its
    size, and the small CNN averages each block of pixels down to SMALL_CNN_MAX_SIZE inside the model (every
    pretrained size on the grid is a multiple of it), so that one transformed set serves both;
  - augmentation (crop, flip, colour) is on for photos and off for grey images: a flipped digit or letter is
    another symbol, and crops of a small scan cost more epochs than they earn. This is the default that the
    Tuner's first trials run; then it runs the backbone that scored higher the other way, and the Trainer keeps
    what scored higher on the eval split (components/trainer/tuner_fn.py).

Transform makes the choice, as the first step that needs it (its resize), and writes it next to the transform
graph, where the Tuner and the Trainer read it; the Trainer records it on its model. ExampleGen counts the
images on this module's IMAGE_SIZES.
"""
import dataclasses
import json
import os
from typing import Dict, Mapping, Optional, Tuple

# The image sizes the choice picks from; ExampleGen counts the images whose shorter side reaches each.
IMAGE_SIZES = (32, 48, 64, 96, 128, 160, 192, 224)
# The small CNN's three conv-and-pool stages fit 32 px: on the digits at 72 px it reached 0.878 test accuracy at
# 64 px against 0.989 at 32 (12 epochs), at four times the cost. Larger images that are not photos stay at 32.
SMALL_CNN_MAX_SIZE = 32
# The smallest size the pretrained backbone is given (smaller images are upscaled to it), and the shorter side
# from which photos try it first.
PRETRAINED_MIN_SIDE = 96
PRETRAINED_MAX_SIZE = 224  # the resolution the pretrained backbone was trained at
PRETRAINED_BACKBONE = 'efficientnet_lite0'  # its ImageNet weights ship with a Python package: no download
SMALL_CNN = 'small_cnn'
# What the Tuner compares where the config leaves the backbone open (and does not ask for training from scratch).
CANDIDATES = (SMALL_CNN, PRETRAINED_BACKBONE)
CHOICE_FILE = 'model_choice.json'
# What the data may choose: the ModelRequest values that the config may leave unset (weights follow the backbone).
OPEN_VALUES = ('image_size', 'backbone', 'augment_crop', 'augment_flip', 'augment_colour')
AUGMENTATIONS = ('augment_crop', 'augment_flip', 'augment_colour')


@dataclasses.dataclass(frozen=True)
class ImageStatistics:
  """What ExampleGen counted of the images it accepted."""
  images: int
  colour_images: int
  # For each of IMAGE_SIZES, how many images have a shorter side of at least that many pixels.
  shorter_side_at_least: Tuple[Tuple[int, int], ...]

  @classmethod
  def from_counts(cls, images: int, colour_images: int, shorter_side_at_least: Mapping) -> 'ImageStatistics':
    """From ExampleGen's properties, whose JSON mapping has the sizes as strings."""
    counts = {int(size): int(count) for size, count in shorter_side_at_least.items()}
    return cls(images, colour_images, tuple((size, counts.get(size, 0)) for size in IMAGE_SIZES))

  @property
  def photos(self) -> bool:
    return self.images > 0 and 2 * self.colour_images >= self.images

  @property
  def median_shorter_side(self) -> int:
    """The largest of IMAGE_SIZES that more than half of the images reach on their shorter side; else 0."""
    return max((size for size, count in self.shorter_side_at_least if 2 * count > self.images), default=0)

  def describe(self) -> str:
    colour = f'{self.colour_images:,} of {self.images:,} in colour'
    side = self.median_shorter_side
    return f'{colour}, most at least {side} px on the shorter side' if side else (
        f'{colour}, most under {IMAGE_SIZES[0]} px on the shorter side')


@dataclasses.dataclass(frozen=True)
class ModelRequest:
  """What the config asks for; None leaves the value to the data. weights: 'imagenet', 'none', a local file,
  or None for the backbone's default (ImageNet for a pretrained backbone)."""
  image_size: Optional[int] = None
  backbone: Optional[str] = None
  weights: Optional[str] = None
  augment_crop: Optional[bool] = None
  augment_flip: Optional[bool] = None
  augment_colour: Optional[bool] = None

  def to_json(self) -> Dict:
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ModelChoice:
  """The model's input size, backbone and augmentation, every value decided."""
  image_size: int
  backbone: str
  weights: Optional[str]  # 'imagenet', a local weights file, or None to train from scratch
  augment_crop: bool
  augment_flip: bool
  augment_colour: bool
  chosen_from_data: Tuple[str, ...]  # the names of the values the config left open
  statistics: str                    # ImageStatistics.describe() of the data they were chosen from
  # The backbones the Tuner compares, `backbone` (the one a run without a Tuner trains) first; one: no choice.
  candidates: Tuple[str, ...] = ()
  # The size the small CNN works at: image_size, or SMALL_CNN_MAX_SIZE averaged down from it inside the model.
  small_cnn_size: int = 0

  @property
  def model_size(self) -> int:
    """The size the backbone sees."""
    return self.small_cnn_size if self.backbone == SMALL_CNN and self.small_cnn_size else self.image_size

  def with_backbone(self, backbone: str) -> 'ModelChoice':
    """This choice with another of its candidates, as the Tuner chose it."""
    if backbone not in self.candidates:
      raise ValueError(f'{backbone!r} is not one of the candidates {self.candidates}')
    return dataclasses.replace(self, backbone=backbone, weights=default_weights(backbone))

  def describe(self) -> str:
    """One line, as the run prints it: the model, and what in the data chose it."""
    augmentations = [name for name, on in (('crop', self.augment_crop), ('flip', self.augment_flip),
                                           ('colour', self.augment_colour)) if on]
    weights = f' ({self.weights} weights)' if self.weights else ' (from scratch)'
    pooled = f' (averaged from {self.image_size})' if self.model_size != self.image_size else ''
    model = (f'{self.backbone}{weights} at {self.model_size} px{pooled}, augmentation '
             f'{"+".join(augmentations) if augmentations else "off"}')
    if not self.chosen_from_data:
      return f'{model}; all set by the config'
    chosen = 'chosen' if len(self.chosen_from_data) == len(OPEN_VALUES) else (
        f'{", ".join(self.chosen_from_data)} chosen')
    return f'{model}; {chosen} from the data ({self.statistics})'

  def to_json(self) -> Dict:
    return dict(dataclasses.asdict(self), chosen_from_data=list(self.chosen_from_data),
                candidates=list(self.candidates))

  @classmethod
  def from_json(cls, values: Mapping) -> 'ModelChoice':
    return cls(**dict(values, chosen_from_data=tuple(values['chosen_from_data']),
                      candidates=tuple(values['candidates'])))


def default_weights(backbone: str) -> Optional[str]:
  """A pretrained backbone's ImageNet weights; None (from scratch) for the small CNN."""
  return None if backbone == SMALL_CNN else 'imagenet'


def choose(request: ModelRequest, statistics: ImageStatistics) -> ModelChoice:
  """Every value of `request` that is None, chosen from `statistics` by the rules in the module docstring."""
  side = statistics.median_shorter_side
  backbone = request.backbone
  candidates = (backbone,) if backbone else CANDIDATES if request.weights != 'none' else (SMALL_CNN,)
  if backbone is None:
    pretrained = statistics.photos and side >= PRETRAINED_MIN_SIDE and PRETRAINED_BACKBONE in candidates
    backbone = PRETRAINED_BACKBONE if pretrained else SMALL_CNN
    candidates = (backbone,) + tuple(other for other in candidates if other != backbone)
  image_size = request.image_size
  small_cnn_size = image_size
  if image_size is None:
    if candidates == (SMALL_CNN,):
      image_size = small_cnn_size = min(max(side, IMAGE_SIZES[0]), SMALL_CNN_MAX_SIZE)
    else:
      image_size = min(max(side, PRETRAINED_MIN_SIDE), PRETRAINED_MAX_SIZE)
      small_cnn_size = SMALL_CNN_MAX_SIZE
  weights = request.weights
  if weights is None:
    weights = default_weights(backbone)
  augment = {name: statistics.photos if getattr(request, name) is None else getattr(request, name)
             for name in AUGMENTATIONS}
  open_values = tuple(name for name in OPEN_VALUES if getattr(request, name) is None)
  return ModelChoice(image_size=image_size, backbone=backbone, weights=None if weights == 'none' else weights,
                     chosen_from_data=open_values, statistics=statistics.describe(), candidates=candidates,
                     small_cnn_size=small_cnn_size, **augment)


def write(choice: ModelChoice, folder: str, open_file=open) -> None:
  """Writes the choice into `folder` (the transform graph's); `open_file`: tf.io.gfile.GFile for remote ones."""
  with open_file(os.path.join(folder, CHOICE_FILE), 'w') as handle:
    handle.write(json.dumps(choice.to_json(), indent=2, sort_keys=True))


def read(folder: str, open_file=open) -> ModelChoice:
  """The choice Transform wrote into `folder`."""
  with open_file(os.path.join(folder, CHOICE_FILE)) as handle:
    return ModelChoice.from_json(json.loads(handle.read()))
