"""`visionflow explain`: integrated-gradients heatmaps of image files by the newest pushed model, as PNG overlays."""
import dataclasses
import os
from typing import Iterable, Iterator, Optional, Set

import numpy as np
import tensorflow as tf

from components.evaluator import explanations
from components import image_limits
from components import images
from components import paths as file_paths
from components import pixel_model

OVERLAY_SUFFIX = '_explained.png'


@dataclasses.dataclass
class ExplainedFile:
  path: str
  explanation: Optional[explanations.Explanation] = None
  error: Optional[str] = None


def overlay_name(path: str, taken: Set[str]) -> str:
  """`<stem>_explained.png`, numbered when another input had the same stem; added to `taken`.

  The suffix keeps an overlay from replacing its image when the output folder is the image's own.
  """
  stem = os.path.splitext(os.path.basename(path))[0]
  name, number = stem + OVERLAY_SUFFIX, 1
  while name in taken:
    number += 1
    name = f'{stem}_{number}{OVERLAY_SUFFIX}'
  taken.add(name)
  return name


def _read_pixels(classifier: pixel_model.PixelClassifier, path: str, limits: image_limits.ImageLimits) -> np.ndarray:
  """The file as the model sees it; RowRejected with ExampleGen's reason when the model cannot take it."""
  data = images.read_model_input(path, limits)
  try:
    return classifier.pixels(data)
  except tf.errors.InvalidArgumentError as error:
    image_format = images.image_header(data).image_format
    raise images.RowRejected(images.decode_failure(image_format, error)) from None


def explain_files(model_dir: str, paths: Iterable[str], output_dir: str,
                  limits: image_limits.ImageLimits = image_limits.ImageLimits()) -> Iterator[ExplainedFile]:
  """One ExplainedFile per path, in input order, its overlay written into output_dir; a file the model cannot
  take carries the reason instead; each names its file printably (paths.printable). ValueError when model_dir
  is not a model this pipeline trained."""
  classifier = pixel_model.load(model_dir)
  limits = dataclasses.replace(limits, image_size=classifier.image_size)
  taken: Set[str] = set()
  for path in paths:
    try:
      pixels = _read_pixels(classifier, path, limits)
    except images.RowRejected as rejected:
      yield ExplainedFile(file_paths.printable(path), error=str(rejected))
      continue
    yield ExplainedFile(file_paths.printable(path), explanations.explain(
        classifier, pixels, os.path.join(output_dir, overlay_name(path, taken)), path))
