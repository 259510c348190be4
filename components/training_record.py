"""The training record: what a model was trained as and on, kept in `assets.extra/` beside its SavedModel.

The Trainer writes it into every model it exports; warm start compares production's with the run's own
(components/trainer/warm_start.py), components/pixel_model.py reads the image size and classes from it, and the
Pusher's model card shows it. TF Serving ignores `assets.extra/`, so the record travels with each pushed
version. No TensorFlow here: readers pass the function that reads a file.
"""
import dataclasses
import json
import os
from typing import Any, Callable, Dict, Optional, Tuple

RECORD_FILE = os.path.join('assets.extra', 'visionflow_training.json')


@dataclasses.dataclass(frozen=True)
class TrainingRecord:
  """What a model was trained as and on, kept beside it so that a later run can start from it."""
  labels: Tuple[str, ...]
  backbone: str
  image_size: int
  hyperparameters: Dict[str, Any]
  train_examples: int

  def to_json(self) -> str:
    return json.dumps(dict(dataclasses.asdict(self), labels=list(self.labels)), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'TrainingRecord':
    values = json.loads(text)
    return cls(**dict(values, labels=tuple(values['labels'])))


def read_record(model_dir: str, read_text: Callable[[str], str]) -> Optional[TrainingRecord]:
  """The record of the SavedModel in model_dir; None where there is none or it cannot be read."""
  try:
    return TrainingRecord.from_json(read_text(os.path.join(model_dir, RECORD_FILE)))
  except (OSError, ValueError, KeyError, TypeError):
    return None
