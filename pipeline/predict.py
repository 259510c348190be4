"""Batch prediction with the newest pushed model, through its serving_default signature."""
import dataclasses
import os
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import tensorflow as tf

from components import features
from components import serving

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.gif', '.bmp')


@dataclasses.dataclass
class Prediction:
  path: str
  class_name: Optional[str] = None
  probability: Optional[float] = None
  error: Optional[str] = None


def newest_model_version(serving_model_dir: str) -> str:
  """The newest pushed version under `<serving_dir>/<model_name>/`: what TF Serving serves too."""
  version_dir = serving.newest_version_dir(serving_model_dir)
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
          if name.lower().endswith(IMAGE_EXTENSIONS):
            yield os.path.join(folder, name)
    else:
      yield path


class Predictor:
  """Loads a SavedModel once; predicts batches of images, isolating the ones that fail."""

  def __init__(self, model_dir: str):
    self.model_dir = model_dir
    self._serve = tf.saved_model.load(model_dir).signatures['serving_default']

  def predict_bytes(self, images: Sequence[bytes]):
    outputs = self._serve(**{features.SERVING_INPUT: tf.constant(list(images))})
    names = [name.decode('utf-8') for name in outputs[features.CLASS_NAME].numpy()]
    probabilities = tf.reduce_max(outputs[features.PROBABILITIES], axis=1).numpy()
    return list(zip(names, probabilities.tolist()))

  def predict_files(self, paths: Iterable[str], batch_size: int = 64) -> Iterator[Prediction]:
    """One Prediction per path, in input order; unreadable or undecodable files carry an error."""
    batch: List[Tuple[Prediction, Optional[bytes]]] = []
    for path in paths:
      try:
        with open(path, 'rb') as handle:
          batch.append((Prediction(path), handle.read()))
      except OSError as error:
        batch.append((Prediction(path, error=f'unreadable: {error.strerror or error}'), None))
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
      except tf.errors.InvalidArgumentError:
        if len(readable) == 1:
          readable[0][0].error = 'not a decodable image'
        else:  # one bad image fails the whole batch: retry one by one to find it
          for item in readable:
            self._predict_batch([item])
      else:
        for (prediction, _), (class_name, probability) in zip(readable, results):
          prediction.class_name, prediction.probability = class_name, probability
    return [prediction for prediction, _ in batch]
