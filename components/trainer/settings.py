"""The Tuner's and Trainer's settings, as frozen dataclasses carried in their custom_config as JSON, and the
hyperparameter space, described without TensorFlow.

The pipeline builds `TrainingSettings` from its config; run_fn and tuner_fn read them back with
`from_custom_config`, then fill in what the config left to the data with `with_choice`. The Tuner gets only
`TuningSettings`, what its search depends on, so that a change to anything else (the training epochs, the
strategy) keeps it cached. This module imports nothing heavy, so that
the config can check its values against the choices here without loading TensorFlow.
"""
import dataclasses
from typing import Any, Dict, Optional, Tuple

from components import executor_settings
from components.model_choice import default_weights
from components.model_choice import ModelChoice

BACKBONES = ('small_cnn', 'mobilenet_v2', 'efficientnet_b0', 'efficientnet_lite0')
STRATEGIES = ('auto', 'one_device', 'mirrored', 'multi_worker', 'tpu')
TUNERS = ('random', 'bayesian', 'hyperband')
# The hyperparameters of what the Tuner compares where the config leaves it open: augmentation as a whole, and
# the candidate backbones (components/model_choice.py).
AUGMENT = 'augment'
BACKBONE = 'backbone'

@dataclasses.dataclass(frozen=True)
class TuningSettings:
  """What the Tuner's search depends on, and all it is given: a change to anything else keeps it cached.

  Each field means what the pipeline config's field of that name means (pipeline/config.py).
  """
  labels: Tuple[str, ...]  # the class names, in labels-file order
  # None: chosen from the data by Transform (components/model_choice.py), and set by with_choice.
  image_size: Optional[int]
  backbone: Optional[str]
  # Before with_choice, as the config says it ('none', or None for the backbone's default); after it,
  # 'imagenet', a local weights file, or None to train from scratch.
  weights: Optional[str]
  augment_crop: Optional[bool]
  augment_flip: Optional[bool]
  augment_colour: Optional[bool]
  batch_size: int
  tuner: str
  tuner_trials: int
  tuner_epochs: int
  patience: int  # epochs without a better eval accuracy or loss before a fit stops (training.recipe_callbacks)
  random_seed: int
  # Set by with_choice (ModelChoice.small_cnn_size): the size the small CNN averages image_size down to.
  small_cnn_size: Optional[int] = dataclasses.field(default=None, kw_only=True)

  def to_custom_config(self) -> Dict[str, Any]:
    """The settings as custom_config: every field, as JSON values (components/executor_settings.py)."""
    return executor_settings.to_json_dict(self)

  @classmethod
  def from_custom_config(cls, custom_config: Dict[str, Any]):
    """Back from custom_config; raises ValueError naming unknown keys, missing keys or a value of the wrong type."""
    return executor_settings.from_json_dict(cls, custom_config)

  @property
  def augmented(self) -> bool:
    """Whether any augmentation is on."""
    return bool(self.augment_crop or self.augment_flip or self.augment_colour)

  def with_choice(self, choice: ModelChoice):
    """These settings with the model Transform chose: every value the config left open, now decided."""
    return dataclasses.replace(self, image_size=choice.image_size, backbone=choice.backbone,
                               weights=choice.weights, augment_crop=choice.augment_crop,
                               augment_flip=choice.augment_flip, augment_colour=choice.augment_colour,
                               small_cnn_size=choice.small_cnn_size)

  def with_backbone(self, backbone: str):
    """These settings (after with_choice) with another of the choice's candidate backbones, as the Tuner chose."""
    return dataclasses.replace(self, backbone=backbone, weights=default_weights(backbone))


@dataclasses.dataclass(frozen=True)
class TrainingSettings(TuningSettings):
  """The Trainer's settings: the tuning ones, and how long, where and from which hyperparameters to train."""
  fine_tune_layers: int
  fine_tune_epochs: int
  epochs: int
  strategy: str
  num_workers: int
  tpu_address: Optional[str]
  tfjob_image: Optional[str]
  tfjob_namespace: str
  worker_gpus: int
  node_selector: Dict[str, str]
  tolerations: Tuple[str, ...]
  # Fixed hyperparameter values by name (the rest keep their defaults); None: the Tuner's, or the defaults.
  hyperparameters: Optional[Dict[str, Any]]
  # components/trainer/warm_start.py: never, auto or always; where production's versions are; and the newest
  # version when the run began, only so that the Trainer's cache key changes with production ('' for never).
  warm_start: str
  serving_model_dir: str
  production_model: str

  def tuning(self) -> TuningSettings:
    return TuningSettings(**{field.name: getattr(self, field.name) for field in dataclasses.fields(TuningSettings)})


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
  """One dimension of the search space, as keras_tuner declares it (model.hyperparameter_space builds it)."""
  name: str
  kind: str                       # 'float', 'choice' or 'boolean'
  default: Any
  low: Optional[float] = None     # float: the range
  high: Optional[float] = None
  sampling: str = 'linear'        # float: 'linear' or 'log'
  step: Optional[float] = None    # float: the grid, if any
  values: Tuple[Any, ...] = ()    # choice: the values, tried in this order


def hyperparameter_specs(backbone: str = 'small_cnn') -> Tuple[Hyperparameter, ...]:
  """The space the Tuner searches; each default is what a run without tuning uses."""
  common = (
      # Adam's usual rate, and a range every trial survives: at 1e-2 the small CNN without batch normalisation
      # stayed at chance on grey symbols; below 3e-4 a trial of a few epochs loses on its budget, not its merit.
      Hyperparameter('learning_rate', 'float', 1e-3, low=3e-4, high=3e-3, sampling='log'),
      Hyperparameter('l2', 'float', 1e-5, low=1e-6, high=1e-3, sampling='log'),
      Hyperparameter('dense_units', 'choice', 128, values=(128, 64, 256)),
      Hyperparameter('dropout', 'float', 0.3, low=0.0, high=0.5, step=0.1),
  )
  if backbone == 'small_cnn':
    return common + (Hyperparameter('filters', 'choice', 32, values=(32, 16)),)
  return common + (Hyperparameter('fine_tune', 'boolean', False),)
