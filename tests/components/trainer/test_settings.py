"""The Tuner's and Trainer's settings survive their trip through custom_config, and the Tuner's part holds
only what its search depends on."""
import dataclasses
import json

import pytest

from components.trainer.settings import TrainingSettings
from components.trainer.settings import TuningSettings
from components.trainer.settings import hyperparameter_specs

SETTINGS = TrainingSettings(
    labels=('cat', 'dog'), image_size=64, backbone='mobilenet_v2', weights='imagenet', augment_crop=True,
    augment_flip=True, augment_colour=False, batch_size=16, tuner='bayesian', tuner_trials=4, tuner_epochs=3,
    patience=2, random_seed=7, fine_tune_layers=20, fine_tune_epochs=3, epochs=5, strategy='auto', num_workers=1,
    tpu_address=None, tfjob_image=None, tfjob_namespace='kubeflow', worker_gpus=0, node_selector={'pool': 'gpu'},
    tolerations=('nvidia.com/gpu:NoSchedule',), hyperparameters={'values': {'dropout': 0.1}}, warm_start='auto',
    serving_model_dir='gs://bucket/serving/image_classifier', production_model='gs://bucket/serving/image_classifier/7')


def _through_json(settings):
  return json.loads(json.dumps(settings.to_custom_config()))


def test_the_trainers_custom_config_round_trips_through_json():
  assert TrainingSettings.from_custom_config(_through_json(SETTINGS)) == SETTINGS


def test_the_tuners_part_changes_with_what_tuning_depends_on_and_nothing_else():
  tuning = _through_json(SETTINGS.tuning())
  assert 'epochs' not in tuning and 'strategy' not in tuning and 'node_selector' not in tuning
  assert tuning['labels'] == ['cat', 'dog'] and tuning['backbone'] == 'mobilenet_v2'
  assert _through_json(dataclasses.replace(SETTINGS, epochs=50, strategy='mirrored').tuning()) == tuning
  assert _through_json(dataclasses.replace(SETTINGS, batch_size=64).tuning()) != tuning
  assert TuningSettings.from_custom_config(tuning) == SETTINGS.tuning()


def test_a_custom_config_with_other_keys_is_refused_naming_them():
  with pytest.raises(ValueError, match=r"unknown keys \['epoch'\], missing keys \[\]"):
    TrainingSettings.from_custom_config(dict(_through_json(SETTINGS), epoch=3))
  with pytest.raises(ValueError, match=r"missing keys \['epochs', 'fine_tune_epochs'"):
    TrainingSettings.from_custom_config(_through_json(SETTINGS.tuning()))


def test_each_backbone_kind_has_its_own_last_dimension_and_defaults_inside_the_space():
  assert [spec.name for spec in hyperparameter_specs('small_cnn')][-1] == 'filters'
  assert [spec.name for spec in hyperparameter_specs('efficientnet_b0')][-1] == 'fine_tune'
  for spec in hyperparameter_specs('small_cnn'):
    assert spec.default in spec.values if spec.kind == 'choice' else spec.low <= spec.default <= spec.high
