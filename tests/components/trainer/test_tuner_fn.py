"""The KerasTuner search: each tuner searches the model's space, the first trial runs the defaults, the second
compares augmentation where the config leaves it open, and over a frozen backbone trials train on features."""
import dataclasses
import glob
import json
import os
import shutil

import keras_tuner
import numpy as np
import pytest
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


def _fn_args(transformed, working_dir, graph=None, **settings):
  config, labels, root, _ = transformed
  [examples] = glob.glob(os.path.join(root, 'Transform', 'transformed_examples', '*'))
  [transform_graph] = glob.glob(os.path.join(root, 'Transform', 'transform_graph', '*'))
  custom_config = dataclasses.replace(pipeline_lib.training_settings(config, labels).tuning(),
                                      tuner_epochs=2, **settings).to_custom_config()
  return FnArgs(train_files=[os.path.join(examples, 'Split-train', '*')],
                eval_files=[os.path.join(examples, 'Split-eval', '*')], working_dir=working_dir,
                transform_graph_path=graph or transform_graph, custom_config=custom_config)


def _search(fn_args):
  result = tuner_lib.tuner_fn(fn_args)
  result.tuner.search(**result.fit_kwargs)
  return [trial for trial in result.tuner.oracle.trials.values()
          if trial.status == keras_tuner.engine.trial.TrialStatus.COMPLETED]


def test_a_search_with_augmentation_left_to_the_data_compares_it_on_and_off(transformed, tmp_path):
  trials = _search(_fn_args(transformed, str(tmp_path), tuner_trials=2))
  assert sorted(trial.hyperparameters.get('augment') for trial in trials) == [False, True]
  assert all(trial.score is not None for trial in trials)


def test_over_a_frozen_backbone_the_trials_train_the_head_on_cached_features(transformed, tmp_path, info_logs,
                                                                           monkeypatch):
  """A transform graph whose model choice is the pretrained backbone: the trials train heads on its features."""
  [graph] = glob.glob(os.path.join(transformed[2], 'Transform', 'transform_graph', '*'))
  pretrained = str(tmp_path / 'graph')
  shutil.copytree(graph, pretrained)
  choice = model_choice.read(pretrained)
  model_choice.write(dataclasses.replace(choice, backbone='efficientnet_lite0', weights='imagenet'), pretrained)
  fn_args = _fn_args(transformed, str(tmp_path / 'tuning'), pretrained, tuner_trials=2)
  computed = []
  cached_features = training.cached_features
  monkeypatch.setattr(training, 'cached_features', lambda *args, **kwargs: computed.append(
      cached_features(*args, **kwargs)) or computed[-1])
  trials = _search(fn_args)
  assert sorted(trial.hyperparameters.get('augment') for trial in trials) == [False, True]
  train_count = training.count_records(fn_args.train_files)
  # one plain and four augmented views of each training image, computed once for both trials
  assert info_logs.text.count("the frozen efficientnet_lite0's features of") == 1
  assert f'features of {5 * train_count} training views' in info_logs.text
  # The digits' rule leaves augmentation off, yet the augmented views are augmented: the trial with it sees them.
  [features] = computed
  assert not np.allclose(features.augmented[0][:train_count], features.plain[0], atol=1e-3)
  heads = [json.loads(path.read_text()) for path in (tmp_path / 'tuning').rglob('trial.json')]
  assert len(heads) == 2 and all(head['score'] is not None for head in heads)
