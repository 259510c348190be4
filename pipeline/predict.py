"""Batch prediction with the newest pushed model, through its serving_default signature."""
import dataclasses
import os
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import tensorflow as tf

from components import image_limits
from components import images
from components import features
from components import paths as file_paths
from components import serving_dir


@dataclasses.dataclass
class Prediction:
  path: str
  class_name: Optional[str] = None
  probability: Optional[float] = None
  error: Optional[str] = None


def newest_model_version(serving_model_dir: str) -> str:
  """The newest pushed version under `<serving_dir>/<model_name>/`: what TF Serving serves too."""
  version_dir = serving_dir.newest_version_dir(serving_model_dir)
  if version_dir is None:
    raise FileNotFoundError(f'no pushed model version under {serving_model_dir}: run the pipeline first')
  return version_dir


def expand_inputs(paths: Iterable[str]) -> Iterator[str]:
  """Files as given; folders walked (sorted) for image files."""
  for path in paths:
    if os.path.isdir(path):
      for folder, subfolders, names in os.walk(path):
        subfolders.sort()
        for name in sorted(names):
          if name.lower().endswith(images.IMAGE_EXTENSIONS):
            yield os.path.join(folder, name)
    else:
      yield path


def model_image_size(loaded) -> Optional[int]:
  """The square the model's Transform graph resizes images to, from its transform_features signature."""
  signature = loaded.signatures.get(features.TRANSFORM_SIGNATURE)
  pixels = signature.structured_outputs.get(features.PIXELS) if signature is not None else None
  return int(pixels.shape[1]) if pixels is not None and pixels.shape.rank == 4 else None


class Predictor:
  """Loads a SavedModel once; predicts batches of images, isolating the ones that fail.

  Each file is checked as ExampleGen checks it before it reaches the model: a usable path, a regular file
  within `limits.max_bytes`, a supported format, and a shape the model's resize can take (its image size is
  read from the model). A file that fails gets the same reason ExampleGen would give. Each Prediction names
  its file printably (paths.printable), so a file name that is not UTF-8 can be shown.
  """

  def __init__(self, model_dir: str, limits: image_limits.ImageLimits = image_limits.ImageLimits()):
    self.model_dir = model_dir
    loaded = tf.saved_model.load(model_dir)
    self._serve = loaded.signatures['serving_default']
    self.limits = dataclasses.replace(limits, image_size=model_image_size(loaded))

  def predict_bytes(self, images: Sequence[bytes]):
    outputs = self._serve(**{features.SERVING_INPUT: tf.constant(list(images))})
    names = [name.decode('utf-8') for name in outputs[features.CLASS_NAME].numpy()]
    probabilities = tf.reduce_max(outputs[features.PROBABILITIES], axis=1).numpy()
    return list(zip(names, probabilities.tolist()))

  def predict_files(self, paths: Iterable[str], batch_size: int = 64) -> Iterator[Prediction]:
    """One Prediction per path, in input order; files that cannot be classified carry the reason."""
    batch: List[Tuple[Prediction, Optional[bytes]]] = []
    for path in paths:
      try:
        batch.append((Prediction(file_paths.printable(path)), images.read_model_input(path, self.limits)))
      except images.RowRejected as rejected:
        batch.append((Prediction(file_paths.printable(path), error=str(rejected)), None))
      if len(batch) == batch_size:
        yield from self._predict_batch(batch)
        batch = []
    if batch:
      yield from self._predict_batch(batch)

  def _predict_batch(self, batch: List[Tuple[Prediction, Optional[bytes]]]) -> List[Prediction]:
    readable = [(prediction, data) for prediction, data in batch if data is not None]
    if readable:
      try:
        results = self.predict_bytes([data for _, data in readable])
      except tf.errors.InvalidArgumentError as error:
        if len(readable) == 1:
          prediction, data = readable[0]
          prediction.error = images.decode_failure(images.image_header(data).image_format, error)
        else:  # one bad image fails the whole batch: retry one by one to find it
          for item in readable:
            self._predict_batch([item])
      else:
        for (prediction, _), (class_name, probability) in zip(readable, results):
          prediction.class_name, prediction.probability = class_name, probability
    return [prediction for prediction, _ in batch]
