"""Whether a retraining run starts from the weights of the model in production, and why.

A retrain on data that grew a little relearns what production already knows. Fine-tuning from production's
weights reaches its accuracy in fewer epochs; once the new examples are about a tenth of the training data,
training from scratch is the safer default, since the old weights then carry an old picture of the data
(the rule of thumb of "Building Machine Learning Pipelines", Hapke & Nelson). So, with `warm_start`:
- never: from scratch;
- always: from production whenever its weights fit the model (same classes, backbone, image size and
  hyperparameters);
- auto: as always, but only while the new training examples are under NEW_EXAMPLES_LIMIT of the training data.

Each exported model carries its training record (components/training_record.py), so the decision reads
only the serving directory: the same on LocalDagRunner and on Kubeflow. New examples are counted as
the growth of the train split since production's, as when spans accumulate. No TensorFlow here.
"""
import dataclasses
import os
from typing import Optional

from components.training_record import TrainingRecord

NEVER, AUTO, ALWAYS = 'never', 'auto', 'always'
MODES = (NEVER, AUTO, ALWAYS)
NEW_EXAMPLES_LIMIT = 0.10
WEIGHTS_PREFIX = os.path.join('variables', 'variables')  # the SavedModel's checkpoint, which load_weights reads
_FROM = 'warm start from '  # how `describe` begins for a model that started from production's weights


@dataclasses.dataclass(frozen=True)
class WarmStart:
  """The decision: the production model folder to start from (None: from scratch), and why."""
  from_dir: Optional[str]
  reason: str

  def describe(self) -> str:
    return (f'{_FROM}{self.from_dir}: {self.reason}' if self.from_dir
            else f'from scratch: {self.reason}')


def started_from(description: str) -> Optional[str]:
  """The model folder that `WarmStart.describe()`'s text names (the Trainer records it on its Model, so the
  lineage can link to it); None for a model trained from scratch."""
  if not description.startswith(_FROM):
    return None
  return description[len(_FROM):].split(': ', 1)[0]


def decide(mode: str, production_dir: Optional[str], production: Optional[TrainingRecord],
           current: TrainingRecord) -> WarmStart:
  if mode == NEVER:
    return WarmStart(None, 'warm_start is never')
  if not production_dir:
    return WarmStart(None, 'no model in production')
  if production is None:
    return WarmStart(None, f'the model in production ({production_dir}) records nothing to start from')
  if production.labels != current.labels:
    return WarmStart(None, 'the class list differs from production\'s')
  differences = [name for name in ('backbone', 'image_size', 'hyperparameters')
                 if getattr(production, name) != getattr(current, name)]
  if differences:
    return WarmStart(None, f'the model differs from production\'s in {", ".join(differences)}')
  new = max(0, current.train_examples - production.train_examples)
  share = new / current.train_examples if current.train_examples else 1.0
  counted = f'{new} new training examples, {share:.1%} of {current.train_examples}'
  if mode == AUTO and share >= NEW_EXAMPLES_LIMIT:
    return WarmStart(None, f'{counted}, at least {NEW_EXAMPLES_LIMIT:.0%}: trained again from scratch')
  return WarmStart(production_dir, f'{counted}' + (' (warm_start is always)' if mode == ALWAYS else
                                                   f', under {NEW_EXAMPLES_LIMIT:.0%}: fine-tuned'))
