"""Epochs and tuner trials as execution parameters, folded into the custom_config run_fn and tuner_fn read."""
import json

from components.trainer import component as training_components


def test_parameters_override_custom_config_and_leave_the_rest():
  properties = {'custom_config': json.dumps({'epochs': 12, 'batch_size': 32}), 'epochs': 3, 'run_fn': 'm.f'}
  folded = training_components.fold_into_custom_config(properties, ['epochs'])
  assert json.loads(folded['custom_config']) == {'epochs': 3, 'batch_size': 32}
  assert 'epochs' not in folded and folded['run_fn'] == 'm.f'
  assert properties['epochs'] == 3  # the caller's dict is untouched


def test_missing_parameter_keeps_the_compiled_value():
  properties = {'custom_config': json.dumps({'tuner_trials': 2})}
  folded = training_components.fold_into_custom_config(properties, ['tuner_trials'])
  assert json.loads(folded['custom_config']) == {'tuner_trials': 2}
