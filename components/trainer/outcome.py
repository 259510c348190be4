"""How a Trainer's fit ended, kept beside the exported model and recorded on its Model artifact.

The chief worker writes it (components/trainer/training.py); the Trainer's executor records it. No TensorFlow
here, so that the executor and the inspection commands read it without loading the training code.
"""
import dataclasses
import json
from typing import Optional


@dataclasses.dataclass(frozen=True)
class TrainingOutcome:
  epochs_trained: int
  best_epoch: int
  best_eval_accuracy: float
  learning_rate: float  # the initial learning rate of the fit that was kept
  stop_reason: str
  # Augmentation as the Tuner chose it, comparing it on and off on the eval split; None where it did not.
  tuned_augmentation: Optional[bool] = None

  def describe(self) -> str:
    """One line, as the run prints it."""
    tuned = ('' if self.tuned_augmentation is None else
             f'; augmentation {"on" if self.tuned_augmentation else "off"}, as the Tuner chose on the eval split')
    return (f'trained {self.epochs_trained} epochs, kept epoch {self.best_epoch} (eval accuracy '
            f'{self.best_eval_accuracy:.4f}){tuned}; stopped: {self.stop_reason}')

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'TrainingOutcome':
    return cls(**json.loads(text))
