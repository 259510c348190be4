"""The KerasTuner search: each tuner searches the model's space, the first trial runs the defaults, the next ones
compare the candidate backbones and augmentation where the config leaves them open, and over a frozen backbone
trials train on features."""
import dataclasses
import glob
import json
import os
import shutil

import keras_tuner
import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components import model_choice
from components.trainer import model as model_lib
from components.trainer import training
from components.trainer import tuner_fn as tuner_lib
from components.trainer.settings import TuningSettings
from pipeline import pipeline as pipeline_lib

SETTINGS = TuningSettings(labels=('a', 'b'), image_size=32, backbone='small_cnn', weights=None, augment_crop=False,
                          augment_flip=False, augment_colour=False, batch_size=32, tuner='random', tuner_trials=3,
                          tuner_epochs=5, patience=3, random_seed=0)


@pytest.mark.parametrize('name, expected', [('random', keras_tuner.oracles.RandomSearchOracle),
                                            ('bayesian', keras_tuner.oracles.BayesianOptimizationOracle),
                                            ('hyperband', keras_tuner.oracles.HyperbandOracle)])
def test_the_configured_tuner_searches_the_model_space(tmp_path, name, expected):
  tuner = tuner_lib.make_tuner(dataclasses.replace(SETTINGS, tuner=name), str(tmp_path))
  assert isinstance(tuner.oracle, expected)
  space = {hp.name for hp in tuner.oracle.hyperparameters.space}
  assert space == {'learning_rate', 'l2', 'dense_units', 'dropout', 'filters'}
  if name == 'hyperband':
    assert tuner.oracle.max_epochs == 5
  else:
    assert tuner.oracle.max_trials == 3


@pytest.mark.parametrize('name', ['random', 'bayesian'])
def test_the_first_trial_runs_the_defaults(tmp_path, name):
  tuner = tuner_lib.make_tuner(dataclasses.replace(SETTINGS, tuner=name), str(tmp_path))
  first = tuner.oracle.create_trial('tuner0')
  second = tuner.oracle.create_trial('tuner1')
  assert first.hyperparameters.values == model_lib.hyperparameter_space().values
  assert second.hyperparameters.values != first.hyperparameters.values


def test_an_unknown_tuner_is_refused(tmp_path):
  with pytest.raises(ValueError, match="unknown tuner 'grid'"):
    tuner_lib.make_tuner(dataclasses.replace(SETTINGS, tuner='grid'), str(tmp_path))


def test_with_augmentation_open_the_second_trial_runs_the_defaults_with_augmentation_turned_over(tmp_path):
  settings = dataclasses.replace(SETTINGS, augment_crop=True, augment_flip=True, augment_colour=True)
  tuner = tuner_lib.make_tuner(settings, str(tmp_path), compare_augmentation=True)
  trials = [tuner.oracle.create_trial(f'tuner{index}') for index in range(3)]
  defaults = model_lib.hyperparameter_space('small_cnn').values
  assert trials[0].hyperparameters.values == dict(defaults, augment=True)
  assert trials[1].hyperparameters.values == dict(defaults, augment=False)
  assert trials[2].hyperparameters.values != trials[0].hyperparameters.values


def test_with_the_backbone_open_the_trials_compare_the_candidates_then_augmentation_on_the_better(tmp_path):
  tuner = tuner_lib.make_tuner(SETTINGS, str(tmp_path), compare_augmentation=True,
                               compared_backbones=('small_cnn', 'efficientnet_lite0'))
  oracle = tuner.oracle
  first = oracle.create_trial('tuner0')
  second = oracle.create_trial('tuner1')
  assert first.hyperparameters.values == dict(model_lib.hyperparameter_space('small_cnn').values, augment=False,
                                               backbone='small_cnn')
  # The other candidate with its own hyperparameters' defaults: fine_tune, no filters.
  assert second.hyperparameters.values == dict(model_lib.hyperparameter_space('efficientnet_lite0').values,
                                                augment=False, backbone='efficientnet_lite0')
  # Of 100 eval images the defaults get the first 60 right, the other candidate those and 30 more.
  _complete(oracle, first, np.arange(100) < 60)
  _complete(oracle, second, np.arange(100) < 90)
  third = oracle.create_trial('tuner2')
  assert third.hyperparameters.values == dict(second.hyperparameters.values, augment=True)


def _complete(oracle, trial, right, labels=None):
  """Ends `trial` as one whose best epoch was `right` on each eval example."""
  tuner_lib.write_eval_answers(oracle._get_trial_dir(trial.trial_id),
                               np.zeros(len(right), np.int64) if labels is None else labels, right)
  oracle.update_trial(trial.trial_id, {'val_accuracy': float(np.mean(right))})
  trial.status = keras_tuner.engine.trial.TrialStatus.COMPLETED
  oracle.end_trial(trial)


@pytest.mark.parametrize('name', ['random', 'bayesian'])
def test_a_trial_replaces_the_defaults_only_when_clearly_better_on_the_same_eval_images(tmp_path, name):
  """Two images more out of 191, as the two backbones' defaults once were on the digits, is noise: the
  defaults stay the best trial; seven more, with none fewer, is not."""
  oracle = tuner_lib.make_tuner(dataclasses.replace(SETTINGS, tuner=name, tuner_trials=4), str(tmp_path)).oracle
  defaults, close, *others = [oracle.create_trial(f'tuner{index}') for index in range(4)]
  images = np.arange(191)
  _complete(oracle, defaults, images < 184)
  _complete(oracle, close, (images < 180) | (images >= 185))  # right on 186: 6 won, 4 lost
  assert oracle.get_best_trials(1) == [defaults]
  assert [trial.trial_id for trial in oracle.get_best_trials(2)] == [defaults.trial_id, close.trial_id]
  # Better on other examples (another eval split) proves nothing either.
  elsewhere, clearly = others
  _complete(oracle, elsewhere, images < 191, labels=np.ones(191, np.int64))
  assert oracle.get_best_trials(1) == [defaults]
  _complete(oracle, clearly, images < 184 + 7)
  assert oracle.get_best_trials(1) == [clearly]


def _fn_args(transformed, working_dir, graph=None, **settings):
  config, labels, root, _ = transformed
  [examples] = glob.glob(os.path.join(root, 'Transform', 'transformed_examples', '*'))
  [transform_graph] = glob.glob(os.path.join(root, 'Transform', 'transform_graph', '*'))
  custom_config = dataclasses.replace(pipeline_lib.training_settings(config, labels).tuning(),
                                      **dict(dict(tuner_epochs=2), **settings)).to_custom_config()
  return FnArgs(train_files=[os.path.join(examples, 'Split-train', '*')],
                eval_files=[os.path.join(examples, 'Split-eval', '*')], working_dir=working_dir,
                transform_graph_path=graph or transform_graph, custom_config=custom_config)


def _search(fn_args):
  result = tuner_lib.tuner_fn(fn_args)
  result.tuner.search(**result.fit_kwargs)
  return [trial for trial in result.tuner.oracle.trials.values()
          if trial.status == keras_tuner.engine.trial.TrialStatus.COMPLETED]


def test_over_a_frozen_backbone_the_trials_train_the_head_on_cached_features(transformed, tmp_path, info_logs,
                                                                           monkeypatch):
  """A transform graph whose model choice is the pretrained backbone: the trials train heads on its features."""
  [graph] = glob.glob(os.path.join(transformed[2], 'Transform', 'transform_graph', '*'))
  pretrained = str(tmp_path / 'graph')
  shutil.copytree(graph, pretrained)
  choice = model_choice.read(pretrained)
  model_choice.write(dataclasses.replace(choice, backbone='efficientnet_lite0', weights='imagenet',
                                         candidates=('efficientnet_lite0',)), pretrained)
  fn_args = _fn_args(transformed, str(tmp_path / 'tuning'), pretrained, tuner_trials=2)
  computed = []
  cached_features = training.cached_features
  monkeypatch.setattr(training, 'cached_features', lambda *args, **kwargs: computed.append(
      cached_features(*args, **kwargs)) or computed[-1])
  trials = _search(fn_args)
  assert sorted(trial.hyperparameters.get('augment') for trial in trials) == [False, True]
  train_count = training.count_records(fn_args.train_files)
  # One plain view of each training image for the first trial (the digits' rule leaves augmentation off), then
  # four augmented views for the second; each computed once, the eval images' features only the first time.
  assert info_logs.text.count("the frozen efficientnet_lite0's features of") == 2
  assert f'features of {train_count} training views' in info_logs.text
  assert f'features of {4 * train_count} training views' in info_logs.text
  plain, both = computed
  assert both.eval is plain.eval and both.plain is plain.plain
  # The digits' rule leaves augmentation off, yet the augmented views are augmented: the trial with it sees them.
  assert not np.allclose(both.augmented[0][:train_count], both.plain[0], atol=1e-3)
  heads = [json.loads(path.read_text()) for path in (tmp_path / 'tuning').rglob('trial.json')]
  assert len(heads) == 2 and all(head['score'] is not None for head in heads)


def test_a_search_with_the_backbone_left_to_the_data_trains_both_candidates_and_keeps_the_clearly_better(
    transformed, tmp_path, info_logs):
  fn_args = _fn_args(transformed, str(tmp_path), tuner_trials=3)
  trials = _search(fn_args)
  backbones = [trial.hyperparameters.get('backbone') for trial in trials]
  assert sorted(set(backbones)) == ['efficientnet_lite0', 'small_cnn'] and len(trials) == 3
  assert all(trial.score is not None for trial in trials)
  # The pretrained candidate's trials trained heads on its features, computed once per kind of view.
  assert info_logs.text.count("the frozen efficientnet_lite0's features of") == backbones.count('efficientnet_lite0')
  # Each trial left its answers on the eval split; the third turned augmentation over on the better of the first
  # two: the defaults', unless the other candidate was clearly better on the same images.
  defaults, other, third = sorted(trials, key=lambda trial: int(trial.trial_id))
  answers = [tuner_lib.read_eval_answers(str(next(tmp_path.rglob(f'trial_{trial.trial_id}'))))
             for trial in (defaults, other)]
  assert all(len(labels) == len(right) == training.count_records(fn_args.eval_files)
             and np.mean(right) == pytest.approx(trial.score, abs=1e-6)
             for (labels, right), trial in zip(answers, (defaults, other)))
  best = other if tuner_lib.clearly_better(answers[1], answers[0]) else defaults
  assert third.hyperparameters.get('backbone') == best.hyperparameters.get('backbone')
  assert third.hyperparameters.get('augment') != best.hyperparameters.get('augment')
  # One progress line per trial, in the order they ran, with its backbone, augmentation and score.
  lines = [record.getMessage() for record in info_logs.records if record.getMessage().startswith('Tuner trial')]
  assert len(lines) == 3
  for number, (line, trial) in enumerate(zip(lines, (defaults, other, third)), start=1):
    assert line.startswith(f'Tuner trial {number}/3: backbone {trial.hyperparameters.get("backbone")}, '), line
    assert f'augment {trial.hyperparameters.get("augment")}' in line
    assert line.endswith(f'; val_accuracy {trial.score:.4f}'), line


_EPOCHS_RUN = []  # every epoch any trial ran: KerasTuner copies the callbacks of each trial, not this list


class _CountEpochs(tf.keras.callbacks.Callback):
  def on_epoch_end(self, epoch, logs=None):
    _EPOCHS_RUN.append(epoch)


def test_hyperband_trials_train_for_their_brackets_epochs_continuing_the_trials_they_follow(transformed, tmp_path):
  """Successive halving: many trials of one epoch, the best of them continued to tuner_epochs."""
  result = tuner_lib.tuner_fn(_fn_args(transformed, str(tmp_path), tuner='hyperband', tuner_epochs=3))
  _EPOCHS_RUN.clear()
  result.tuner.search(**dict(result.fit_kwargs, callbacks=result.fit_kwargs['callbacks'] + [_CountEpochs()]))
  trials = [trial for trial in result.tuner.oracle.trials.values()
            if trial.status == keras_tuner.engine.trial.TrialStatus.COMPLETED]
  budgets = [(trial.hyperparameters.get('tuner/initial_epoch'), trial.hyperparameters.get('tuner/epochs'))
             for trial in trials]
  assert (0, 1) in budgets and (1, 3) in budgets  # a one-epoch trial, continued to three
  assert len(_EPOCHS_RUN) == sum(epochs - initial for initial, epochs in budgets)
  assert all(trial.score is not None for trial in trials)
