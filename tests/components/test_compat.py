"""The workarounds of components/compat.py that need no Kubeflow: the folding of execution parameters into
custom_config, the spec's dropped resources, the failure TFX's launcher records, Beam executors that
start without packaging TFX, and AutoGraph leaving tf_keras alone."""
import json

from google.protobuf import json_format
from tfx.dsl.components.base import base_beam_executor
from tfx.utils import dependency_utils

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


class _BeamExecutor(base_beam_executor.BaseBeamExecutor):
  def Do(self, input_dict, output_dict, exec_properties):
    """Nothing: the test constructs it only."""


def test_beam_executors_on_the_direct_runner_build_no_sdist_and_other_runners_still_do(monkeypatch):
  monkeypatch.setattr(dependency_utils, 'make_beam_dependency_flags', dependency_utils.make_beam_dependency_flags)
  monkeypatch.setattr(dependency_utils, 'build_ephemeral_package', lambda: '/tmp/tfx_ephemeral.tar.gz')
  compat.skip_beam_packaging_for_direct_runner()
  compat.skip_beam_packaging_for_direct_runner()  # a second call keeps one wrapper

  local = _BeamExecutor(_BeamExecutor.Context(
      beam_pipeline_args=['--direct_running_mode=in_memory', '--direct_num_workers=1']))
  assert not any(arg.startswith('--extra_package') for arg in local._beam_pipeline_args)
  assert dependency_utils.make_beam_dependency_flags(['--runner=DataflowRunner']) == [
      '--runner=DataflowRunner', '--extra_package=/tmp/tfx_ephemeral.tar.gz']


def _user_function(x):
  return x


def test_autograph_runs_tf_keras_as_written_and_still_converts_user_code():
  import tf_keras
  from tensorflow.python.autograph.core import config as autograph_config
  from tensorflow.python.autograph.impl import conversion
  compat.skip_autograph_for_tf_keras()
  compat.skip_autograph_for_tf_keras()  # a second call adds no second rule
  assert conversion.is_allowlisted(tf_keras.layers.Dense.call)
  assert conversion.is_allowlisted(tf_keras.Model.train_step)
  assert not conversion.is_allowlisted(_user_function)
  assert sum(rule.matches('tf_keras') for rule in autograph_config.CONVERSION_RULES) == 1
