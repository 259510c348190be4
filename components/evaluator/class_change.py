"""A candidate whose class list differs from production's: what changed, and the comparison on shared classes.

TFMA compares two models by class position, so a class added, removed or moved breaks its comparison
(production's outputs have no column for a new class, and a moved class would be scored as another). Here
both models classify the test images of the classes they share, each choosing among those classes only (its
highest probability of them), and the images only one of the two got right feed the paired gate of
components/evaluator/gates.py. Whether a changed class list may replace production at all is the
allow_class_change setting: clients that read the probabilities by position would misread the new model.
"""
import dataclasses
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components import accuracy_intervals
from components import features
from components import paths
from components.reports import report_format

SETTING = 'allow_class_change'
_BATCH = 64


@dataclasses.dataclass(frozen=True)
class ClassChange:
  """Production's class list and the candidate's, which differ."""
  production: Tuple[str, ...]
  candidate: Tuple[str, ...]

  @property
  def added(self) -> List[str]:
    return [label for label in self.candidate if label not in self.production]

  @property
  def removed(self) -> List[str]:
    return [label for label in self.production if label not in self.candidate]

  @property
  def shared(self) -> List[str]:
    """In the candidate's order."""
    return [label for label in self.candidate if label in self.production]

  @property
  def reordered(self) -> bool:
    """Whether the shared classes come in another order (their positions in the outputs moved)."""
    return self.shared != [label for label in self.production if label in self.candidate]

  def describe(self) -> str:
    changes = ([f'added {", ".join(self.added)}'] if self.added else []) + (
        [f'removed {", ".join(self.removed)}'] if self.removed else []) + (
        ['reordered the shared classes'] if self.reordered else [])
    return (f'the class list changed from production\'s ({", ".join(self.production)}) to '
            f'({", ".join(self.candidate)}): {"; ".join(changes)}')


def detect(production: Optional[Sequence[str]], candidate: Sequence[str]) -> Optional[ClassChange]:
  """The change, or None when the lists are equal or production's is unknown (a model exported elsewhere)."""
  if production is None or tuple(production) == tuple(candidate):
    return None
  return ClassChange(tuple(production), tuple(candidate))


def blessing_reason(change: ClassChange, allowed: bool) -> str:
  if allowed:
    return f'{change.describe()}; allowed to replace production by {SETTING}'
  return (f'{change.describe()}; a changed class list replaces production only with {SETTING}: true '
          f'(--allow-class-change)')


@dataclasses.dataclass(frozen=True)
class SharedComparison:
  """Counts over the test images of the shared classes, each model restricted to those classes."""
  change: ClassChange
  examples: int = 0
  candidate_correct: int = 0
  production_correct: int = 0
  candidate_only: int = 0
  production_only: int = 0
  other_classes: int = 0  # test images of the candidate's classes that production does not know

  def add(self, other: 'SharedComparison') -> 'SharedComparison':
    return dataclasses.replace(self, **{field.name: getattr(self, field.name) + getattr(other, field.name)
                                        for field in dataclasses.fields(self) if field.name != 'change'})

  @property
  def slice(self) -> str:
    return f'overall, on the {len(self.change.shared)} classes shared with production'

  def paired(self) -> Optional[accuracy_intervals.PairedCounts]:
    """For the paired gate; None when no test image is of a shared class, so there is nothing to compare."""
    if not self.examples:
      return None
    return accuracy_intervals.PairedCounts(self.examples, self.candidate_only, self.production_only, self.slice)

  def table(self) -> report_format.Table:
    def accuracy(correct: int) -> str:
      return report_format.number(correct / self.examples if self.examples else None)

    change = ((self.candidate_correct - self.production_correct) / self.examples) if self.examples else None
    return report_format.Table(
        'Candidate against the model in production, on the shared classes',
        ['shared classes', 'test examples', 'candidate accuracy', 'in production', 'change',
         'right only by the candidate', 'right only by production', 'test examples of other classes'],
        [[', '.join(self.change.shared), report_format.count(self.examples), accuracy(self.candidate_correct),
          accuracy(self.production_correct), 'n/a' if change is None else f'{change:+.4f}',
          report_format.count(self.candidate_only), report_format.count(self.production_only),
          report_format.count(self.other_classes)]],
        note=f'{self.change.describe()[0].upper()}{self.change.describe()[1:]}. Both models are measured on the '
             f'test images of the classes they share, each predicting the most probable of those classes.')


def count(change: ClassChange, true_labels: Sequence[str], candidate_probabilities: np.ndarray,
          production_probabilities: np.ndarray) -> SharedComparison:
  """Counts one batch: probabilities [N, classes] of each model, columns in its own class order."""
  shared = change.shared
  candidate_columns = [change.candidate.index(label) for label in shared]
  production_columns = [change.production.index(label) for label in shared]
  of_shared = np.array([label in shared for label in true_labels], dtype=bool)
  if not shared or not of_shared.any():
    return SharedComparison(change, other_classes=len(true_labels))
  truth = np.array([shared.index(label) for label in np.asarray(true_labels)[of_shared]])
  candidate_right = np.argmax(np.asarray(candidate_probabilities)[of_shared][:, candidate_columns], axis=1) == truth
  production_right = np.argmax(np.asarray(production_probabilities)[of_shared][:, production_columns],
                               axis=1) == truth
  return SharedComparison(
      change, examples=int(of_shared.sum()), candidate_correct=int(candidate_right.sum()),
      production_correct=int(production_right.sum()),
      candidate_only=int(np.sum(candidate_right & ~production_right)),
      production_only=int(np.sum(production_right & ~candidate_right)),
      other_classes=int((~of_shared).sum()))


def _labelled_images(split_uris: Sequence[str]) -> Iterator[Tuple[List[str], List[bytes]]]:
  """(true labels, encoded images) in batches, from the split folders' TFRecord files."""
  labels, images = [], []
  for uri in split_uris:
    for file in sorted(tf.io.gfile.glob(f'{uri.rstrip("/")}/*')):
      for record in tf.data.TFRecordDataset(file, compression_type=paths.record_compression(file)):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        labels.append(feature[features.LABEL].bytes_list.value[0].decode('utf-8'))
        images.append(feature[features.IMAGE].bytes_list.value[0])
        if len(labels) == _BATCH:
          yield labels, images
          labels, images = [], []
  if labels:
    yield labels, images


def compare(change: ClassChange, candidate_dir: str, production_dir: str,
            split_uris: Sequence[str]) -> SharedComparison:
  """Both SavedModels' serving signatures on every test image (image bytes in, probabilities out)."""
  candidate, production = tf.saved_model.load(candidate_dir), tf.saved_model.load(production_dir)

  def probabilities(loaded, images: List[bytes]) -> np.ndarray:
    signature = loaded.signatures['serving_default']  # the loaded object owns the variables: keep it referenced
    return signature(**{features.SERVING_INPUT: tf.constant(images)})[features.PROBABILITIES].numpy()

  total = SharedComparison(change)
  for labels, images in _labelled_images(split_uris):
    total = total.add(count(change, labels, probabilities(candidate, images), probabilities(production, images)))
  return total
