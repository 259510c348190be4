"""TFX Tuner entry point: a KerasTuner search (random, Bayesian or Hyperband) over the classifier's space, whose
first trials compare the candidate backbones and augmentation that the config leaves open."""
import io
import math
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras_tuner
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from components import accuracy_intervals
from components import compat
from components import model_choice
from components.trainer import frozen_features
from components.trainer import model as model_lib
from components.trainer.settings import TuningSettings
from components.trainer.settings import TUNERS
from components.trainer import training


# Each trial's answers on the eval split, in the split's (deterministic) order, in its trial folder: the label
# index of each eval example and whether the trial's best epoch classified it right.
EVAL_ANSWERS_FILE = 'eval_answers.npz'
# A trial replaces the defaults' only when it is right on more of the same eval examples than chance would give
# at this confidence: the two-sided interval of McNemar's exact test (components/accuracy_intervals.py) lies
# above zero. On the embedded digits' 191 eval images the two backbones' defaults were one image apart, and
# which of them the Tuner kept flipped between runs.
REPLACEMENT_CONFIDENCE = 0.9


def write_eval_answers(trial_dir: str, labels: np.ndarray, right: np.ndarray) -> None:
  packed = io.BytesIO()  # zipfile reads back what it writes, which a GFile opened for writing refuses
  np.savez(packed, labels=labels, right=right)
  with tf.io.gfile.GFile(os.path.join(trial_dir, EVAL_ANSWERS_FILE), 'wb') as handle:
    handle.write(packed.getvalue())


def read_eval_answers(trial_dir: str) -> Optional[Tuple[np.ndarray, np.ndarray]]:
  path = os.path.join(trial_dir, EVAL_ANSWERS_FILE)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path, 'rb') as handle:
    answers = np.load(io.BytesIO(handle.read()))
  return answers['labels'], answers['right']


def clearly_better(challenger: Optional[Tuple[np.ndarray, np.ndarray]],
                   incumbent: Optional[Tuple[np.ndarray, np.ndarray]]) -> bool:
  """Whether the challenger's answers beat the incumbent's on the same eval examples beyond chance; never when
  either trial's answers are missing or were given on other examples."""
  if challenger is None or incumbent is None or not np.array_equal(challenger[0], incumbent[0]):
    return False
  counts = accuracy_intervals.PairedCounts(examples=len(challenger[0]),
                                           candidate_only=int(np.sum(challenger[1] & ~incumbent[1])),
                                           production_only=int(np.sum(incumbent[1] & ~challenger[1])))
  return counts.difference_interval(REPLACEMENT_CONFIDENCE).low > 0


class _ComparisonsFirst:
  """The first trials compare what the config left open, each at the space's defaults, so that tuning replaces
  a default only with what did better within the same budget (random first trials alone can pick a poor
  corner of the space by chance): the first runs the defaults; where the space holds the backbone (BACKBONE),
  the next ones each other candidate with its own defaults; where it holds augmentation (AUGMENT), the next
  one the best trial so far with augmentation turned the other way. Then the oracle's own search.

  The best trial is the defaults' unless another is clearly better on the same eval examples (clearly_better):
  of those that are, the one of highest score. Higher by an image or two is noise that would make the choice,
  and the model a run trains, change from run to run."""

  def get_best_trials(self, num_trials=1):
    ranked: List[keras_tuner.engine.trial.Trial] = super().get_best_trials(len(self.trials))
    if not ranked or self.start_order[0] not in {trial.trial_id for trial in ranked}:
      return ranked[:num_trials]
    defaults = self.trials[self.start_order[0]]
    defaults_answers = read_eval_answers(self._get_trial_dir(defaults.trial_id))
    best = next((trial for trial in ranked if trial is defaults
                 or clearly_better(read_eval_answers(self._get_trial_dir(trial.trial_id)), defaults_answers)))
    return ([best] + [trial for trial in ranked if trial is not best])[:num_trials]

  def populate_space(self, trial_id):
    space = self.hyperparameters
    backbones = next((hp.values for hp in space.space if hp.name == model_lib.BACKBONE), [])
    step = len(self.trials)
    if step == 0:
      values = _defaults(space)
    elif step < len(backbones):
      values = _defaults(space, **{model_lib.BACKBONE: [name for name in backbones
                                                         if name != space.get(model_lib.BACKBONE)][step - 1]})
    elif step == max(len(backbones), 1) and model_lib.AUGMENT in space:
      best = self.get_best_trials(1)
      values = dict(best[0].hyperparameters.values) if best else _defaults(space)
      values[model_lib.AUGMENT] = not values[model_lib.AUGMENT]
    else:
      return super().populate_space(trial_id)
    return {'status': keras_tuner.engine.trial.TrialStatus.RUNNING, 'values': values}


def _defaults(space: keras_tuner.HyperParameters, **fixed) -> dict:
  """The default of each hyperparameter that is active given `fixed` (a backbone's own ones), with `fixed`."""
  values = keras_tuner.HyperParameters()
  for hp in space.space:
    values.merge([hp])
    if values.is_active(hp):
      values.values[hp.name] = fixed.get(hp.name, hp.default)
  return values.values


class _ComparisonsFirstRandomSearchOracle(_ComparisonsFirst, keras_tuner.oracles.RandomSearchOracle):
  pass


class _ComparisonsFirstBayesianOracle(_ComparisonsFirst, keras_tuner.oracles.BayesianOptimizationOracle):
  pass


# (settings with a pretrained backbone, plain views wanted, augmented views wanted, the views computed before)
FeatureSource = Callable[[TuningSettings, bool, bool, Optional[frozen_features.FeatureSets]],
                         Optional[frozen_features.FeatureSets]]


# What keras_tuner.Hyperband's tuner does with its oracle's trials, and a plain Tuner does not (keras-tuner 1.4:
# the oracle's brackets only take effect in Hyperband.run_trial): a trial trains for its bracket's epochs, from
# the weights of the trial it continues.
_HYPERBAND_EPOCHS = 'tuner/epochs'
_HYPERBAND_INITIAL_EPOCH = 'tuner/initial_epoch'
_HYPERBAND_TRIAL = 'tuner/trial_id'


class _ClassifierTuner(keras_tuner.Tuner):
  """Each trial builds the model of its backbone (model_lib.model_settings). Over a frozen pretrained backbone,
  given a `feature_source`, the trial trains the head alone on the backbone's features, computed once on first
  need: the augmented views for a trial with augmentation, the plain ones for a trial without. Under the
  Hyperband oracle a trial trains for its bracket's epochs, as keras_tuner.Hyperband's would."""

  def __init__(self, settings: TuningSettings, feature_source: Optional[FeatureSource], **kwargs):
    self._settings = settings
    self._feature_source = feature_source
    self._features: Dict[str, frozen_features.FeatureSets] = {}  # by backbone
    self._trial_features: Optional[frozen_features.FeatureSets] = None
    super().__init__(hypermodel=self._build, **kwargs)

  def _build(self, hp: keras_tuner.HyperParameters) -> tf.keras.Model:
    settings = model_lib.model_settings(hp, self._settings)
    if self._trial_features is not None:
      return model_lib.build_head(hp, settings, self._trial_features.size)
    return model_lib.build_model(hp, settings)

  def _build_hypermodel(self, hp: keras_tuner.HyperParameters) -> tf.keras.Model:
    model = super()._build_hypermodel(hp)
    if _HYPERBAND_TRIAL in hp.values:  # a Hyperband trial that goes on training an earlier one's model
      model.load_weights(self._get_checkpoint_fname(hp.values[_HYPERBAND_TRIAL]))
    return model

  def run_trial(self, trial, *args, **kwargs):
    if _HYPERBAND_EPOCHS in trial.hyperparameters.values:  # its bracket's epochs
      kwargs = dict(kwargs, epochs=trial.hyperparameters.values[_HYPERBAND_EPOCHS],
                    initial_epoch=trial.hyperparameters.values[_HYPERBAND_INITIAL_EPOCH])
    settings = model_lib.model_settings(trial.hyperparameters, self._settings)
    self._trial_features = None
    if self._feature_source and frozen_features.uses_cached_features(settings.weights, 'one_device'):
      augmented = any(model_lib.augmentations(trial.hyperparameters, settings))
      known = self._features.get(settings.backbone)
      if known is None or (known.augmented if augmented else known.plain) is None:
        known = self._feature_source(settings, not augmented, augmented, known)
        if known is not None:
          self._features[settings.backbone] = known
      if known is not None:
        self._trial_features = known
        train, validation, steps_per_epoch = known.datasets(self._settings.batch_size, self._settings.random_seed,
                                                            augmented)
        kwargs = dict(kwargs, x=train, validation_data=validation, steps_per_epoch=steps_per_epoch)
    histories = super().run_trial(trial, *args, **kwargs)
    write_eval_answers(self.get_trial_dir(trial.trial_id),
                       *_answers(self.load_model(trial), kwargs['validation_data']))
    return histories

  def on_trial_end(self, trial):
    """One log line per trial, which the local run's console shows (KerasTuner's own display is off)."""
    super().on_trial_end(trial)
    scored = self.oracle.get_trial(trial.trial_id)
    of_total = f'/{self.oracle.max_trials}' if self.oracle.max_trials else ''
    values = ', '.join(f'{name} {value:.3g}' if isinstance(value, float) else f'{name} {value}'
                       for name, value in scored.hyperparameters.values.items() if not name.startswith('tuner/'))
    score = 'no score' if scored.score is None else f'{self.oracle.objective.name} {scored.score:.4f}'
    logging.info('Tuner trial %d%s: %s; %s', len(self.oracle.trials), of_total, values, score)


def _answers(model: tf.keras.Model, eval_batches: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
  """(label index of each eval example, whether the model's top class is it), in the batches' order."""
  labels, right = [], []
  for inputs, batch_labels in eval_batches:
    batch_labels = np.asarray(batch_labels).reshape(-1)
    labels.append(batch_labels)
    right.append(np.argmax(model(inputs, training=False), axis=-1) == batch_labels)
  return np.concatenate(labels), np.concatenate(right)


def make_tuner(settings: TuningSettings, directory: str, compare_augmentation: bool = False,
               compared_backbones: Sequence[str] = (),
               feature_source: Optional[FeatureSource] = None) -> keras_tuner.Tuner:
  """The tuner settings.tuner names; trials train for at most settings.tuner_epochs epochs. With
  `compare_augmentation`, the space also holds augmentation as a whole, its default the settings'; with
  `compared_backbones`, which backbone, its default settings.backbone. With `feature_source`, trials over a
  frozen pretrained backbone train the head alone, on its cached features."""
  common = dict(objective=keras_tuner.Objective('val_accuracy', 'max'), seed=settings.random_seed,
                hyperparameters=model_lib.hyperparameter_space(
                    settings.backbone, settings.augmented if compare_augmentation else None, compared_backbones))
  if settings.tuner == 'random':
    oracle = _ComparisonsFirstRandomSearchOracle(max_trials=settings.tuner_trials, **common)
  elif settings.tuner == 'bayesian':
    oracle = _ComparisonsFirstBayesianOracle(max_trials=settings.tuner_trials, **common)
  elif settings.tuner == 'hyperband':
    oracle = keras_tuner.oracles.HyperbandOracle(max_epochs=settings.tuner_epochs, factor=3, **common)
  else:
    raise ValueError(f'unknown tuner {settings.tuner!r}; choose one of {TUNERS}')
  return _ClassifierTuner(settings, feature_source, oracle=oracle, directory=directory,
                          project_name='visionflow_tuning')


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
  """custom_config: TuningSettings, with tuner_trials folded in by the Tuner's executor, and the values it leaves
  open taken from the model Transform chose. The candidate backbones and augmentation that the config leaves
  open are compared (the space's BACKBONE and AUGMENT). Over a frozen pretrained backbone, the trials train the
  head on features computed once (components/trainer/frozen_features.py)."""
  choice = model_choice.read(fn_args.transform_graph_path, tf.io.gfile.GFile)
  settings = TuningSettings.from_custom_config(fn_args.custom_config).with_choice(choice)
  compare_augmentation = set(model_choice.AUGMENTATIONS) <= set(choice.chosen_from_data)
  compat.skip_autograph_for_tf_keras()
  spec = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_feature_spec()
  batch_size = settings.batch_size

  def feature_source(backbone_settings: TuningSettings, plain: bool, augmented: bool,
                     computed: Optional[frozen_features.FeatureSets]) -> Optional[frozen_features.FeatureSets]:
    # A model whose augmentation layers are all on, for the augmented views; the plain ones bypass them.
    backbone_model = model_lib.build_model(model_lib.hyperparameter_space(backbone_settings.backbone, augment=True),
                                           backbone_settings)
    return training.cached_features(backbone_model, backbone_settings, fn_args.train_files, fn_args.eval_files,
                                    spec, batch_size, plain=plain, augmented=augmented, computed=computed)

  train = training.make_dataset(fn_args.train_files, spec, batch_size, training=True, seed=settings.random_seed)
  return TunerFnResult(
      tuner=make_tuner(settings, fn_args.working_dir, compare_augmentation,
                       choice.candidates if len(choice.candidates) > 1 else (), feature_source),
      fit_kwargs={
          # Trials on cached features replace these with the features' datasets.
          'x': train,
          'steps_per_epoch': max(1, math.ceil(training.count_records(fn_args.train_files) / batch_size)),
          'validation_data': training.make_dataset(fn_args.eval_files, spec, batch_size, training=False),
          'epochs': settings.tuner_epochs,
          # The Trainer's recipe, so that the winning trial reproduces; a trial that stops improving or is not
          # learning ends early, leaving the budget to the others.
          'callbacks': training.recipe_callbacks(len(settings.labels), settings.patience),
          'verbose': 0,
      })
