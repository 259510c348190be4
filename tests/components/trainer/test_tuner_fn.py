"""The KerasTuner search: each tuner searches the model's space, and the first trial runs the defaults."""
import dataclasses

import keras_tuner
import pytest

from components.trainer import tuner_fn as tuner_lib
from components.trainer.settings import TuningSettings

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
  from components.trainer import model as model_lib
  tuner = tuner_lib.make_tuner(dataclasses.replace(SETTINGS, tuner=name), str(tmp_path))
  first = tuner.oracle.create_trial('tuner0')
  second = tuner.oracle.create_trial('tuner1')
  assert first.hyperparameters.values == model_lib.hyperparameter_space().values
  assert second.hyperparameters.values != first.hyperparameters.values


def test_an_unknown_tuner_is_refused(tmp_path):
  with pytest.raises(ValueError, match="unknown tuner 'grid'"):
    tuner_lib.make_tuner(dataclasses.replace(SETTINGS, tuner='grid'), str(tmp_path))
