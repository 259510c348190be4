"""The workarounds of components/compat.py that need no Kubeflow: the folding of execution parameters into
custom_config, the spec's dropped resources, and the failure TFX's launcher records."""
import json

from google.protobuf import json_format

from components import compat


def test_parameters_override_custom_config_and_leave_the_rest():
  properties = {'custom_config': json.dumps({'epochs': 12, 'batch_size': 32}), 'epochs': 3, 'run_fn': 'm.f'}
  folded = compat.fold_into_custom_config(properties, ['epochs'])
  assert json.loads(folded['custom_config']) == {'epochs': 3, 'batch_size': 32}
  assert 'epochs' not in folded and folded['run_fn'] == 'm.f'
  assert properties['epochs'] == 3  # the caller's dict is untouched


def test_missing_parameter_keeps_the_compiled_value():
  properties = {'custom_config': json.dumps({'tuner_trials': 2})}
  folded = compat.fold_into_custom_config(properties, ['tuner_trials'])
  assert json.loads(folded['custom_config']) == {'tuner_trials': 2}


def test_a_task_without_resources_gets_them_and_the_others_keep_theirs():
  spec = {'root': {'dag': {'tasks': {'A': {'componentRef': {'name': 'comp-a'}},
                                     'B': {'componentRef': {'name': 'comp-b'}}}}},
          'components': {'comp-a': {'executorLabel': 'exec-a'}, 'comp-b': {'executorLabel': 'exec-b'}},
          'deploymentSpec': {'executors': {'exec-a': {'container': {}},
                                           'exec-b': {'container': {'resources': {'cpuLimit': 1.0}}}}}}
  compat.restore_dropped_resources(spec, lambda task_id: {'cpuLimit': 2.0, 'task': task_id})
  executors = spec['deploymentSpec']['executors']
  assert executors['exec-a']['container']['resources'] == {'cpuLimit': 2.0, 'task': 'A'}
  assert executors['exec-b']['container']['resources'] == {'cpuLimit': 1.0}


def test_a_recorded_failure_carries_its_message_and_details_for_the_launcher():
  error = compat.RecordedFailure('refused: see /x/rejects.csv', {'refused_rejects_uri': '/x/rejects.csv'})
  result = error.executor_output.execution_result
  assert str(error) == 'refused: see /x/rejects.csv' and result.code != 0
  assert result.result_message == 'refused: see /x/rejects.csv'
  details = json.loads(json_format.MessageToJson(result))['metadataDetails']
  assert details == [{'@type': 'type.googleapis.com/google.protobuf.Struct',
                      'value': {'refused_rejects_uri': '/x/rejects.csv'}}]
