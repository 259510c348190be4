"""How a Trainer's fit ended, kept beside the exported model and recorded on its Model artifact.

The chief worker writes it (components/trainer/training.py); the Trainer's executor records it. No TensorFlow
here, so that the executor and the inspection commands read it without loading the training code.
"""
import dataclasses
import json
from typing import Mapping, Optional, Sequence

from components.trainer.settings import AUGMENT
from components.trainer.settings import BACKBONE


@dataclasses.dataclass(frozen=True)
class TrainingOutcome:
  epochs_trained: int
  best_epoch: int
  best_eval_accuracy: float
  learning_rate: float  # the initial learning rate of the fit that was kept
  stop_reason: str
  # Augmentation as the Tuner chose it, comparing it on and off on the eval split; None where it did not.
  tuned_augmentation: Optional[bool] = None
  # The backbone as the Tuner chose it, comparing the candidates on the eval split; None where it did not.
  tuned_backbone: Optional[str] = None

  def describe(self) -> str:
    """One line, as the run prints it."""
    chosen = ([] if self.tuned_backbone is None else [f'backbone {self.tuned_backbone}']) + (
        [] if self.tuned_augmentation is None else [f'augmentation {"on" if self.tuned_augmentation else "off"}'])
    tuned = f'; {" and ".join(chosen)}, as the Tuner chose on the eval split' if chosen else ''
    return (f'trained {self.epochs_trained} epochs, kept epoch {self.best_epoch} (eval accuracy '
            f'{self.best_eval_accuracy:.4f}){tuned}; stopped: {self.stop_reason}')

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'TrainingOutcome':
    return cls(**json.loads(text))


def tuner_comparison(results: Sequence[Mapping]) -> Optional[str]:
  """What the Tuner compared, from its results (a row per trial, the one it chose first: 'score' and the
  hyperparameters), as one line: the best eval accuracy of its trials with each backbone, and with augmentation
  on and off, and what it kept where that is not the highest of them; None where it compared neither."""
  parts, kept = [], []
  for name, prefix, value_name in ((BACKBONE, '', str), (AUGMENT, 'augmentation ', lambda on: 'on' if on else 'off')):
    best = {}
    for row in results:
      if name in row and row.get('score') is not None:
        best[row[name]] = max(best.get(row[name], 0.0), float(row['score']))
    if len(best) > 1:
      parts.append(prefix + ', '.join(
          f'{value_name(value)} {score:.4f}' for value, score in sorted(best.items(), key=lambda item: -item[1])))
      kept.append(prefix + value_name(results[0][name]))
  if not parts:
    return None
  line = f'the Tuner\'s best eval accuracy with each: {"; ".join(parts)}'
  if float(results[0]['score']) < max(float(row['score']) for row in results if row.get('score') is not None):
    line += f'; kept the defaults ({", ".join(kept)}): no other trial was clearly better on the same eval images'
  return line
