"""Integrated gradients: which pixels made the model choose its class, as a heatmap over the image.

A pixel's attribution is its difference from a black image (the baseline, and the colour Transform pads with,
so padding gets none) times the model's gradient averaged along the straight path from the baseline to the
image. An image's attributions add up to the class probability on it minus that on the baseline
(completeness); each Explanation records both, so a reader sees how close the sum came.

The Evaluator explains a few test images of each class, some the model got right and some it got wrong;
`visionflow explain` (pipeline/explain.py) explains image files.
"""
import dataclasses
import os
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components import features
from components import paths
from components import pixel_model
from components import test_answers

# Steps of the path integral (trapezoid rule, all in one batch). On the default model the attributions then
# sum to within 0.004 of the output difference (0.0013 on average; 64 steps: 0.01), in about 70 ms an image
# on two CPU cores.
STEPS = 128
PER_CLASS = 2          # test images explained per class: this many right and this many wrong
MAX_EXAMPLES = 1000    # test examples to choose them from, the first in the split's order
_BATCH = 64
# A small model's input is enlarged (each pixel a square) to at least this side, so that a person can see it.
DISPLAY_SIDE = 128
_RAISED = np.array([230, 40, 20], np.float32)   # red: pixels that raised the class probability
_LOWERED = np.array([20, 90, 230], np.float32)  # blue: pixels that lowered it
_OPACITY = 0.85  # of the colour over the strongest attributions; the image shows through elsewhere


@dataclasses.dataclass(frozen=True)
class Attribution:
  """Integrated gradients of one image for one class."""
  class_index: int
  probability: float           # of the class, on the image
  baseline_probability: float  # of the class, on the black baseline
  heatmap: np.ndarray          # [S, S]: each pixel's attribution, summed over its channels

  @property
  def total(self) -> float:
    return float(self.heatmap.sum())

  @property
  def output_difference(self) -> float:
    """What `total` approximates: the closer, the better the path integral."""
    return self.probability - self.baseline_probability


@dataclasses.dataclass(frozen=True)
class Explanation:
  """One image's heatmap for the class the model predicted, as the report and `visionflow explain` show it."""
  path: str                  # the image file (for a test example, as ExampleGen's input named it)
  true_label: Optional[str]  # None where it is not known
  predicted_label: str
  probability: float         # the model's probability of predicted_label
  attribution_sum: float
  output_difference: float   # probability minus that on the black baseline: what attribution_sum approximates
  png_path: str              # the overlay

  @property
  def correct(self) -> bool:
    return self.true_label == self.predicted_label


@dataclasses.dataclass(frozen=True)
class ExplainedSample:
  """The Evaluator's explanations of test images, or why there are none."""
  explanations: List[Explanation]
  examples_classified: int  # the test examples they were chosen from
  seconds: float
  error: str = ''
  answers: Optional[test_answers.TestAnswers] = None  # every test example's, when they were classified


@dataclasses.dataclass(frozen=True)
class TestImage:
  path: str
  label: str
  image: bytes  # encoded, as ExampleGen stored it


def integrated_gradients(classifier: pixel_model.PixelClassifier, pixels: np.ndarray,
                         class_index: Optional[int] = None, steps: int = STEPS) -> Attribution:
  """Attributions of pixels [S, S, 3] for class_index (default: the predicted class), in one model call."""
  image = tf.constant(pixels, tf.float32)
  path = tf.linspace(0.0, 1.0, steps + 1)[:, tf.newaxis, tf.newaxis, tf.newaxis] * image[tf.newaxis]
  with tf.GradientTape() as tape:
    tape.watch(path)
    probabilities = classifier.probabilities(path)
    explained = int(tf.argmax(probabilities[-1])) if class_index is None else class_index
    outputs = probabilities[:, explained]
  gradients = tape.gradient(outputs, path).numpy()
  mean_gradient = (gradients[0] / 2 + gradients[1:-1].sum(axis=0) + gradients[-1] / 2) / steps
  outputs = outputs.numpy()
  return Attribution(explained, float(outputs[-1]), float(outputs[0]), (mean_gradient * pixels).sum(axis=-1))


def overlay(pixels: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
  """uint8 RGB: the image in grey, red where pixels raised the probability and blue where they lowered it.

  Colours are scaled to the image's own strongest attributions (their 99th percentile in size), so a picture
  shows where the model looked, not how much; the report gives the sums. Enlarged to DISPLAY_SIDE or more.
  """
  size = np.abs(heatmap)
  strength = np.clip(size / (np.percentile(size, 99) or 1.0), 0.0, 1.0)[..., np.newaxis] * _OPACITY
  colour = np.where(heatmap[..., np.newaxis] >= 0, _RAISED, _LOWERED)
  grey = np.repeat(pixels.mean(axis=-1, keepdims=True) * 255.0, 3, axis=-1)
  blended = grey * (1.0 - strength) + colour * strength
  factor = -(-DISPLAY_SIDE // heatmap.shape[0])
  return np.repeat(np.repeat(blended, factor, axis=0), factor, axis=1).round().astype(np.uint8)


def write_png(image: np.ndarray, path: str) -> None:
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, 'wb') as handle:
    handle.write(tf.io.encode_png(image).numpy())


def explain(classifier: pixel_model.PixelClassifier, pixels: np.ndarray, png_path: str, path: str,
            true_label: Optional[str] = None) -> Explanation:
  """Integrated gradients for the predicted class; writes the overlay to png_path."""
  attribution = integrated_gradients(classifier, pixels)
  write_png(overlay(pixels, attribution.heatmap), png_path)
  return Explanation(path, true_label, classifier.labels[attribution.class_index], attribution.probability,
                     attribution.total, attribution.output_difference, png_path)


def _first_value(feature: tf.train.Feature) -> Optional[str]:
  """A slice feature's value as TFMA names its slice; None where the example has none."""
  kind = feature.WhichOneof('kind')
  values = getattr(feature, kind).value if kind else []
  if not values:
    return None
  return values[0].decode('utf-8') if isinstance(values[0], bytes) else str(values[0])


def classify_test_set(classifier: pixel_model.PixelClassifier, split_uris: Sequence[str],
                      slice_features: Sequence[str]) -> Tuple[List[TestImage], List[str], test_answers.TestAnswers]:
  """Every test example in the split folders' TFRecord files (file-name order), classified in batches: the
  first MAX_EXAMPLES with their predicted labels (to choose explanations from), and every example's answer."""
  kept: List[TestImage] = []
  kept_predictions: List[str] = []
  answers: List[test_answers.Answer] = []
  batch: List[Tuple[TestImage, Tuple[Optional[str], ...]]] = []

  def classify_batch() -> None:
    predicted = classifier.predict(np.stack([classifier.pixels(image.image) for image, _ in batch])).argmax(axis=1)
    for (image, values), index in zip(batch, predicted):
      label = classifier.labels[index]
      answers.append(test_answers.Answer(image.path, label == image.label, values))
      if len(kept) < MAX_EXAMPLES:
        kept.append(image)
        kept_predictions.append(label)
    batch.clear()

  for uri in split_uris:
    for file in sorted(tf.io.gfile.glob(os.path.join(uri, '*'))):
      for record in tf.data.TFRecordDataset(file, compression_type=paths.record_compression(file)):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        batch.append((TestImage(feature[features.PATH].bytes_list.value[0].decode('utf-8'),
                                feature[features.LABEL].bytes_list.value[0].decode('utf-8'),
                                feature[features.IMAGE].bytes_list.value[0]),
                      tuple(_first_value(feature[name]) if name in feature else None for name in slice_features)))
        if len(batch) == _BATCH:
          classify_batch()
  if batch:
    classify_batch()
  return kept, kept_predictions, test_answers.TestAnswers(tuple(slice_features), tuple(answers))


def choose(true_labels: Sequence[str], predicted: Sequence[str], labels: Sequence[str],
           per_class: int = PER_CLASS) -> List[int]:
  """Positions of the first per_class right and the first per_class wrong examples of each class, class by
  class in labels order: the same examples on every run over the same data and model."""
  chosen = []
  for label in labels:
    of_class = [position for position, true in enumerate(true_labels) if true == label]
    chosen += [position for position in of_class if predicted[position] == label][:per_class]
    chosen += [position for position in of_class if predicted[position] != label][:per_class]
  return chosen


def explain_test_images(model_dir: str, split_uris: Sequence[str], output_dir: str,
                        slice_features: Sequence[str] = ()) -> ExplainedSample:
  """Classifies every test example (keeping each one's answer), then explains PER_CLASS right and wrong ones of
  each class, among the first MAX_EXAMPLES, into output_dir."""
  started = time.monotonic()
  classifier = pixel_model.load(model_dir)
  examples, predicted, answers = classify_test_set(classifier, split_uris, slice_features)
  explanations = []
  for position in choose([example.label for example in examples], predicted, classifier.labels):
    example = examples[position]
    explanations.append(explain(classifier, classifier.pixels(example.image),
                                os.path.join(output_dir, f'example_{position:05d}.png'), example.path, example.label))
  return ExplainedSample(explanations, len(examples), time.monotonic() - started, answers=answers)
