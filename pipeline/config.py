"""The one typed configuration object that the CLI, the runners and `create_pipeline` read.

Defaults run the embedded sample on a laptop; a YAML file (`--config`) and command-line flags override
them, flags winning.
"""
import dataclasses
import os
import typing
from typing import Any, Dict, Mapping, Optional

import yaml

from components import evaluation_defaults
from components import image_limits
from components.evaluator import gates
from components.example_validator import drift_action
from components.monitor import history
from components.trainer import settings as training_settings
from components.trainer import warm_start as warm_start_modes


@dataclasses.dataclass
class PipelineConfig:
  """Every value that differs between environments or runs."""

  # Data: a CSV of `image_path,label` rows (no header) and a labels file, one class per line.
  # Leaving data_csv unset runs on the embedded sample set, materialised under output_dir.
  data_csv: Optional[str] = None
  labels_file: Optional[str] = None
  # Or a folder of class sub-folders (`<class>/<image>`), no CSV; labels_file is then optional.
  image_folder: Optional[str] = None
  # Data arriving over time: data_csv may hold {SPAN} or {YYYY}/{MM}/{DD}; a run reads the newest
  # num_spans spans. Images keep their split across spans (the split is a hash of the image bytes).
  num_spans: int = 1
  # CSV columns: by default `image_path,label` with an optional third `split` column (train/validation/
  # test). Name them here, or in the CSV's first line with csv_header; other names become features.
  csv_columns: tuple = ()
  csv_header: bool = False

  # Bad input: rows are rejected into rejects.csv; the run fails above this fraction or with none valid.
  max_reject_fraction: float = 0.05
  # width x height from the header (decompression bombs are refused); the file size, from stat before reading
  # (only regular files are read); the longer over the shorter side (beyond it an image is rejected).
  max_image_pixels: int = image_limits.ImageLimits.max_pixels
  max_image_bytes: int = image_limits.ImageLimits.max_bytes
  max_aspect_ratio: float = image_limits.ImageLimits.max_aspect_ratio
  example_shard_bytes: int = 100_000_000  # ExampleGen output files of about this size

  # Where a local run writes everything: metadata store, pipeline root, serving directory.
  output_dir: str = './visionflow_output'
  pipeline_name: str = 'visionflow'
  model_name: str = 'image_classifier'

  # Split proportions (hash buckets of the image bytes) for rows whose CSV names no split.
  train_buckets: int = 8
  eval_buckets: int = 1
  test_buckets: int = 1

  # The model. Each of image_size, backbone and the augmentations left unset is chosen from the images
  # ExampleGen read (components/model_choice.py): colour photos of at least 96 px get the pretrained
  # efficientnet_lite0 with augmentation, at their typical size up to 224 px; grey or small images (the
  # embedded digits) the small CNN from scratch at 32 px, augmented only when in colour. The run prints the
  # choice and the Trainer records it on its model.
  # Model input: images are resized with padding to image_size x image_size RGB.
  image_size: Optional[int] = None
  # Backbones: small_cnn (from scratch), mobilenet_v2, efficientnet_b0, efficientnet_lite0. weights:
  # 'imagenet', 'none', or a local weights file (air-gapped clusters); unset: imagenet for the pretrained
  # backbones, none for small_cnn. Pretrained backbones start frozen; with the fine_tune hyperparameter the
  # top fine_tune_layers layers then train fine_tune_epochs more epochs at a tenth of the learning rate.
  backbone: Optional[str] = None
  weights: Optional[str] = None
  fine_tune_layers: int = 20
  fine_tune_epochs: int = 3
  # Augmentation (random crop, horizontal flip, contrast and brightness), active only in training, on batches.
  augment_crop: Optional[bool] = None
  augment_flip: Optional[bool] = None
  augment_colour: Optional[bool] = None
  batch_size: int = 32  # per replica: the global batch is batch_size x replicas
  # Training stops when neither the eval split's accuracy nor its loss has improved for `patience` epochs, or
  # after `epochs`, and keeps its best epoch; the learning rate falls to a third after every patience / 2 epochs
  # without improvement. A fit that stays at chance is tried once more at a tenth of the learning rate, then
  # fails the Trainer (components/trainer/training.py: the recipe).
  epochs: int = 40
  patience: int = 5
  # Distribution: auto (a TPU if found, multi_worker if num_workers > 1, mirrored on several GPUs, else one
  # device), one_device, mirrored, multi_worker, tpu.
  strategy: str = 'auto'
  num_workers: int = 1
  tpu_address: Optional[str] = None
  # Multi-worker on Kubernetes: with an image, the Trainer runs its workers as a Kubeflow TFJob in this
  # namespace (each with worker_gpus GPUs) instead of as local processes.
  tfjob_image: Optional[str] = None
  tfjob_namespace: str = 'kubeflow'
  worker_gpus: int = 0
  # Tuning: random, bayesian or hyperband; tuner_trials 0 skips it. Fixed hyperparameters (a mapping of
  # names in components/trainer/settings.py:hyperparameter_specs) also skip it. The first trials compare what
  # the config leaves open, at the default hyperparameters: the candidate backbones, then augmentation on and off
  # with the better one; three trials run both comparisons.
  tuner: str = 'random'
  tuner_trials: int = 3
  tuner_epochs: int = 8
  hyperparameters: dict = dataclasses.field(default_factory=dict)
  random_seed: int = 0
  # Retraining from the weights of the model in production (components/trainer/warm_start.py): never, auto
  # (while new training examples are under 10% of the training data) or always; only when the classes and
  # the model (backbone, image size, hyperparameters) are production's.
  warm_start: str = warm_start_modes.NEVER

  # Drift, with spans: the newest span's train split against the previous span's (components/example_validator):
  # the label's and slice_features' L-infinity distance above drift_label_threshold, or the image sizes' and
  # formats' Jensen-Shannon divergence above drift_distribution_threshold, is a drift anomaly. drift: warn
  # records and reports it; fail also stops the run at the ExampleValidator.
  drift: str = drift_action.WARN
  drift_label_threshold: float = drift_action.LABEL_THRESHOLD
  drift_distribution_threshold: float = drift_action.DISTRIBUTION_THRESHOLD

  # Blessing, on the test split (components/evaluator/gates.py): overall accuracy >= min_accuracy;
  # accuracy >= min_slice_accuracy on every slice (each true class, image-size bucket, and each value of
  # slice_features) of at least min_slice_examples test examples (smaller ones are reported, not gated);
  # and, once a model is in production (the newest version in the serving directory), not worse than it by
  # more than max_accuracy_drop: on the same test examples, refused only when the exact interval of the
  # difference (McNemar's test at `significance`) lies wholly below -max_accuracy_drop. strict_gates gates
  # the point estimates instead, every slice and any drop. slice_features: extra CSV columns to slice by.
  # fairness_thresholds: the probabilities at which Fairness Indicators reports false positive/negative
  # rates per class.
  min_accuracy: float = gates.BlessingPolicy.min_accuracy
  min_slice_accuracy: float = gates.BlessingPolicy.min_slice_accuracy
  max_accuracy_drop: float = gates.BlessingPolicy.max_accuracy_drop
  min_slice_examples: int = gates.BlessingPolicy.min_slice_examples
  significance: float = gates.BlessingPolicy.significance
  strict_gates: bool = gates.BlessingPolicy.strict
  # A candidate whose class list differs from production's (a class added, removed or moved) is compared with
  # it on the shared classes, and is refused unless allow_class_change: clients that read the probabilities by
  # position, or know only the old classes, would misread it without a word.
  allow_class_change: bool = False
  slice_features: tuple = ()
  fairness_thresholds: tuple = evaluation_defaults.FAIRNESS_THRESHOLDS
  # Continuous evaluation (`visionflow evaluate`): an alert when a slice of at least min_slice_examples
  # newly labelled images is below alert_min_accuracy, or its weekly average accuracy fell by more than
  # alert_max_weekly_drop since the week before.
  alert_min_accuracy: float = history.AlertRules.min_accuracy
  alert_max_weekly_drop: float = history.AlertRules.max_weekly_drop
  # Push destination: a local path or any file system TensorFlow writes (gs://...); default
  # <output_dir>/serving. serving_base_path: the same directory as the TF Serving server sees it (e.g.
  # /models where a volume is mounted), written into models.config; default serving_dir itself.
  serving_dir: Optional[str] = None
  serving_base_path: Optional[str] = None
  # Each pushed version also holds model.tflite (float) for devices, and with tflite_quantize
  # model_quantized.tflite (dynamic-range: int8 weights), beside its model card (components/pusher).
  tflite_quantize: bool = False
  # After the Pusher, the model in production scores these unlabelled images (a CSV of paths, a folder or a glob
  # pattern) on Beam, into the ScoreSpan step's InferenceResult, as `visionflow batch-predict` does; unset: no step.
  score_span: Optional[str] = None

  # Kubeflow (`visionflow compile`): the pipeline image every step runs in, and resources per step: CPU
  # (cores) and memory (GiB) for every step, more for the Trainer and Tuner, which also get `gpus` GPUs of
  # `gpu_type` (the Kubernetes resource name on self-hosted Kubeflow).
  image: str = 'visionflow:latest'
  step_cpu: float = 2.0
  step_memory_gib: float = 8.0
  training_cpu: float = 8.0
  training_memory_gib: float = 32.0
  gpus: int = 0
  gpu_type: str = 'nvidia.com/gpu'
  # Placement of the Trainer and Tuner pods on a GPU or TPU node pool: node labels (flag: k=v,k=v) and
  # tolerations of the pool's taints, each 'key[=value]:Effect' as `kubectl taint` writes them.
  training_node_selector: dict = dataclasses.field(default_factory=dict)
  training_tolerations: tuple = ()

  enable_cache: bool = True  # --no-cache re-runs every component
  beam_pipeline_args: tuple = ('--direct_running_mode=in_memory', '--direct_num_workers=1')

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, 'metadata.sqlite')

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, 'pipeline_root')

  @property
  def monitoring_history_path(self) -> str:
    """Every measurement of the model in production, one JSON object a line, oldest first."""
    return os.path.join(self.pipeline_root, 'monitoring', 'history.jsonl')

  @property
  def span_statistics_dir(self) -> str:
    """Each span's train statistics, kept by the ExampleValidator to compare the next span with."""
    return os.path.join(self.pipeline_root, 'span_statistics')

  @property
  def log_dir(self) -> str:
    """Each local run's full log, which `visionflow ui` reads back."""
    return os.path.join(self.output_dir, 'logs')

  @property
  def serving_root(self) -> str:
    """The push destination: one folder per model name, and models.config."""
    return self.serving_dir or os.path.join(self.output_dir, 'serving')

  @property
  def serving_model_dir(self) -> str:
    """TF Serving's base path for this model: versions are folders below it."""
    return os.path.join(self.serving_root, self.model_name)

  def validate(self) -> None:
    """Raises ValueError naming the first field whose value cannot run."""
    for name in ('train_buckets', 'eval_buckets', 'test_buckets', 'image_size', 'batch_size', 'epochs',
                 'patience'):
      if getattr(self, name) is not None and getattr(self, name) < 1:
        raise ValueError(f'{name} must be at least 1, got {getattr(self, name)}')
    for name, value, choices in (('backbone', self.backbone, (None,) + training_settings.BACKBONES),
                                 ('strategy', self.strategy, training_settings.STRATEGIES),
                                 ('tuner', self.tuner, training_settings.TUNERS)):
      if value not in choices:
        raise ValueError(f'{name} must be one of {tuple(choice for choice in choices if choice)}, got {value!r}')
    if self.backbone is None and self.weights not in (None, 'none'):
      raise ValueError(f'weights {self.weights!r} need a backbone: name the one they belong to')
    if self.num_workers < 1:
      raise ValueError(f'num_workers must be at least 1, got {self.num_workers}')
    backbones = (self.backbone,) if self.backbone else training_settings.BACKBONES
    space = {spec.name: spec for backbone in backbones for spec in training_settings.hyperparameter_specs(backbone)}
    unknown = set(self.hyperparameters) - set(space)
    if unknown:
      raise ValueError(f'unknown hyperparameters {sorted(unknown)} for backbone {self.backbone or "any"}')
    for name, value in self.hyperparameters.items():
      _check_hyperparameter(space[name], value)
    if self.tuner_trials < 0 or self.tuner_epochs < 1:
      raise ValueError('tuner_trials must be >= 0 and tuner_epochs >= 1')
    try:
      thresholds = [float(threshold) for threshold in self.fairness_thresholds]
    except ValueError:
      thresholds = []
    if not thresholds or not all(0.0 < threshold < 1.0 for threshold in thresholds):
      raise ValueError(f'fairness_thresholds must lie in (0, 1), got {self.fairness_thresholds}')
    for name in ('min_accuracy', 'min_slice_accuracy', 'max_accuracy_drop', 'max_reject_fraction',
                 'alert_min_accuracy', 'alert_max_weekly_drop'):
      if not 0.0 <= getattr(self, name) <= 1.0:
        raise ValueError(f'{name} must lie in [0, 1], got {getattr(self, name)}')
    for name, modes in (('warm_start', warm_start_modes.MODES), ('drift', drift_action.ACTIONS)):
      if getattr(self, name) not in modes:
        raise ValueError(f'{name} must be {_either(modes)}, got {getattr(self, name)!r}')
    for name in ('drift_label_threshold', 'drift_distribution_threshold'):
      if not 0.0 < getattr(self, name) <= 1.0:
        raise ValueError(f'{name} must lie in (0, 1], got {getattr(self, name)}')
    if not 0.0 < self.significance < 1.0:
      raise ValueError(f'significance must lie in (0, 1), got {self.significance}')
    if self.min_slice_examples < 0:
      raise ValueError(f'min_slice_examples must be at least 0, got {self.min_slice_examples}')
    if min(self.max_image_pixels, self.max_image_bytes, self.example_shard_bytes) < 1:
      raise ValueError('max_image_pixels, max_image_bytes and example_shard_bytes must be positive')
    if self.max_aspect_ratio < 1:
      raise ValueError(f'max_aspect_ratio must be at least 1, got {self.max_aspect_ratio}')
    if self.csv_columns and self.csv_header:
      raise ValueError('csv_columns and csv_header exclude each other: name the columns in one place')
    unknown_slices = set(self.slice_features) - set(self.csv_columns) - {'label', 'size_bucket'}
    if self.csv_columns and unknown_slices:
      raise ValueError(f'slice_features {sorted(unknown_slices)} are not among csv_columns '
                       f'{list(self.csv_columns)}')
    if self.data_csv and self.image_folder:
      raise ValueError('give data_csv or image_folder, not both')
    if (self.data_csv is None) != (self.labels_file is None) and not self.image_folder:
      raise ValueError('data_csv and labels_file go together: give both, or neither for the sample data')
    if min(self.step_cpu, self.step_memory_gib, self.training_cpu, self.training_memory_gib) <= 0 or self.gpus < 0:
      raise ValueError('step and training CPU and memory must be positive, and gpus at least 0')
    if self.num_spans < 1:
      raise ValueError(f'num_spans must be at least 1, got {self.num_spans}')

  def replace(self, **changes: Any) -> 'PipelineConfig':
    return dataclasses.replace(self, **changes)


def _either(choices: typing.Sequence[str]) -> str:
  """'a', 'b' or 'c': the choices as an error message lists them."""
  quoted = [repr(choice) for choice in choices]
  return f'{", ".join(quoted[:-1])} or {quoted[-1]}'


def _is_number(value: Any) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_hyperparameter(spec: training_settings.Hyperparameter, value: Any) -> None:
  """A fixed hyperparameter must have its search space's type: a number for a float, true/false for a
  boolean, the choices' type for a choice (values outside the range are allowed)."""
  choices = list(spec.values)
  if spec.kind == 'boolean':
    expected, ok = 'true or false', isinstance(value, bool)
  elif choices and all(_is_number(choice) and isinstance(choice, int) for choice in choices):
    expected, ok = 'an integer', _is_number(value) and isinstance(value, int)
  elif spec.kind == 'float' or (choices and all(_is_number(choice) for choice in choices)):
    expected, ok = 'a number', _is_number(value)
  else:
    expected, ok = f'one of {choices}', value in choices
  if not ok:
    raise ValueError(f'hyperparameter {spec.name} must be {expected}, got {value!r}')


def field_names() -> Dict[str, dataclasses.Field]:
  return {field.name: field for field in dataclasses.fields(PipelineConfig)}


def field_type(name: str) -> type:
  """The field's value type, Optional[...] unwrapped: str for data_csv, int for epochs."""
  hinted = typing.get_type_hints(PipelineConfig)[name]
  args = [arg for arg in typing.get_args(hinted) if arg is not type(None)]
  return args[0] if args else hinted


def _checked(name: str, value: Any) -> Any:
  expected = field_type(name)
  if value is None and typing.get_type_hints(PipelineConfig)[name] != expected:
    return value  # an Optional key set to null: left unset
  if expected is float and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if expected is tuple and isinstance(value, list):
    return tuple(value)
  if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
    raise ValueError(f'config key {name!r} must be {expected.__name__}, got {value!r}')
  return value


def _read_yaml(path: str) -> Any:
  try:
    with open(path, encoding='utf-8') as handle:
      return yaml.safe_load(handle) or {}
  except FileNotFoundError:
    raise ValueError(f'{path}: config file not found') from None
  except UnicodeDecodeError as error:
    raise ValueError(f'{path}: byte {error.start} is not UTF-8; re-save the config as UTF-8') from None
  except yaml.YAMLError as error:
    mark = getattr(error, 'problem_mark', None)
    where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
    problem = getattr(error, 'problem', None) or str(error).splitlines()[0]
    raise ValueError(f'{path}: not valid YAML{where}: {problem}') from None


def load_config(path: Optional[str] = None, overrides: Optional[Mapping[str, Any]] = None,
                validate: bool = True) -> PipelineConfig:
  """Defaults, then the YAML file at `path`, then `overrides` whose value is not None.

  `validate=False` is for commands that only read the output folder (runs, show, ui): a config whose
  training values could not run still says where the runs are.
  """
  values: Dict[str, Any] = {}
  if path:
    loaded = _read_yaml(path)
    if not isinstance(loaded, dict):
      raise ValueError(f'{path}: expected a mapping of config keys, got {type(loaded).__name__}')
    values.update(loaded)
  values.update({key: value for key, value in (overrides or {}).items() if value is not None})
  known = field_names()
  unknown = sorted(set(values) - set(known))
  if unknown:
    raise ValueError(f'unknown config keys {unknown}; known keys: {sorted(known)}')
  config = PipelineConfig(**{name: _checked(name, value) for name, value in values.items()})
  if validate:
    config.validate()
  return config
