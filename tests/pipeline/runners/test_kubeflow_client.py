"""`visionflow submit` and `visionflow schedule` against a loopback KFP v2beta1 API (a contract test).

The fake server validates every request body against kfp-server-api's models; the tests assert on what was
submitted: the compiled spec, parameters, pipeline root, experiment, trigger and schedule policy.
"""
import json

import pytest
import yaml

from pipeline import cli
from pipeline.runners import kubeflow_client
from tests.pipeline.runners import fake_kfp_server


@pytest.fixture
def data_flags(small_digits):
  csv_path, labels_path = small_digits
  return ['--data-csv', csv_path, '--labels-file', labels_path, '--output-dir', 'gs://bucket/visionflow',
          '--image', 'registry.example.com/visionflow:1.2']


def _posts(server, path):
  return [request for request in server.api.requests if request.method == 'POST' and request.path == path]


def test_submit_uploads_the_spec_and_starts_a_run_with_parameters_and_root(data_flags, capsys):
  with fake_kfp_server.Server() as server:
    code = cli.main(['submit', '--host', server.url, '--experiment', 'flowers', '--run-name', 'nightly',
                     '--param', 'min_accuracy=0.93', '--param', 'serving_dir=gs://bucket/prod',
                     '--param', 'span=7', '--param', 'epochs=20', '--token', 'secret-token', *data_flags])
    assert code == 0
    [upload] = _posts(server, '/apis/v2beta1/pipelines/upload')
    assert upload.query['name'] == 'visionflow'
    spec = yaml.safe_load(upload.body)
    assert set(spec['root']['dag']['tasks']) >= {'FileBasedExampleGen', 'Trainer', 'Evaluator', 'Pusher'}
    [experiment] = _posts(server, '/apis/v2beta1/experiments')
    assert experiment.body['display_name'] == 'flowers'
    [run] = _posts(server, '/apis/v2beta1/runs')
    [pipeline] = server.api.pipelines.values()
    [version] = server.api.versions[pipeline['pipeline_id']]
    assert run.body['display_name'] == 'nightly'
    [experiment_id] = server.api.experiments
    assert run.body['experiment_id'] == experiment_id
    assert run.body['pipeline_version_reference'] == {'pipeline_id': pipeline['pipeline_id'],
                                                      'pipeline_version_id': version['pipeline_version_id']}
    assert run.body['runtime_config'] == {'pipeline_root': 'gs://bucket/visionflow/pipeline_root',
                                          'parameters': {'min_accuracy': 0.93, 'serving_dir': 'gs://bucket/prod',
                                                         'epochs': 20, 'range_config': json.dumps(
                                                             {'static_range': {'start_span_number': 7,
                                                                               'end_span_number': 7}})}}
    assert all(request.headers.get('authorization') == 'Bearer secret-token' for request in server.api.requests)
  [created] = server.api.runs
  assert f'Submitted run {created}: {server.url}/#/runs/details/{created}' in capsys.readouterr().out


def test_a_second_submit_uploads_a_new_version_of_the_same_pipeline(data_flags):
  with fake_kfp_server.Server() as server:
    assert cli.main(['submit', '--host', server.url, *data_flags]) == 0
    assert cli.main(['submit', '--host', server.url, *data_flags]) == 0
    assert len(_posts(server, '/apis/v2beta1/pipelines/upload')) == 1
    assert len(_posts(server, '/apis/v2beta1/pipelines/upload_version')) == 1
    [pipeline_id] = server.api.pipelines
    runs = _posts(server, '/apis/v2beta1/runs')
    first, second = [request.body['pipeline_version_reference'] for request in runs]
    assert first['pipeline_id'] == second['pipeline_id'] == pipeline_id
    assert second['pipeline_version_id'] == server.api.versions[pipeline_id][0]['pipeline_version_id']
    assert len(server.api.experiments) == 1  # the experiment is found by name, not created twice


@pytest.mark.parametrize('final_state, code', [('SUCCEEDED', 0), ('FAILED', 1)])
def test_wait_follows_the_run_and_the_exit_code_reflects_its_end(data_flags, capsys, final_state, code):
  api = fake_kfp_server.FakeKubeflowPipelines(run_states=('PENDING', 'RUNNING', 'RUNNING', final_state))
  with fake_kfp_server.Server(api) as server:
    assert cli.main(['submit', '--host', server.url, '--wait', '--poll-seconds', '0.01', *data_flags]) == code
  [run_id] = api.runs
  lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f'run {run_id}')]
  assert lines == [f'run {run_id}: PENDING', f'run {run_id}: RUNNING', f'run {run_id}: {final_state}']


def test_schedule_create_sends_cron_one_at_a_time_and_no_catchup(data_flags):
  with fake_kfp_server.Server() as server:
    assert cli.main(['schedule', 'create', '--host', server.url, '--cron', '0 0 3 * * *', '--name', 'nightly',
                     '--param', 'max_accuracy_drop=0.01', '--training-tolerations', 'nvidia.com/gpu:NoSchedule',
                     *data_flags]) == 0
    [upload] = _posts(server, '/apis/v2beta1/pipelines/upload')
    platform = list(yaml.safe_load_all(upload.body))[1]
    assert 'tolerations' in str(platform['platforms']['kubernetes'])
    [request] = _posts(server, '/apis/v2beta1/recurringruns')
    body = request.body
    assert body['trigger'] == {'cron_schedule': {'cron': '0 0 3 * * *'}}
    assert (body['max_concurrency'], body['no_catchup'], body['mode']) == (1, True, 'ENABLE')
    assert body['display_name'] == 'nightly'
    assert body['runtime_config'] == {'pipeline_root': 'gs://bucket/visionflow/pipeline_root',
                                      'parameters': {'max_accuracy_drop': 0.01}}
    assert body['pipeline_version_reference']['pipeline_id'] in server.api.pipelines


def test_schedule_list_pause_resume_delete(data_flags, capsys):
  with fake_kfp_server.Server() as server:
    assert cli.main(['schedule', 'create', '--host', server.url, '--cron', '0 30 2 * * 1', *data_flags]) == 0
    [recurring_run_id] = server.api.recurring_runs
    assert cli.main(['schedule', 'pause', recurring_run_id, '--host', server.url]) == 0
    assert server.api.recurring_runs[recurring_run_id]['status'] == 'DISABLED'
    capsys.readouterr()
    assert cli.main(['schedule', 'list', '--host', server.url]) == 0
    assert capsys.readouterr().out == f'{recurring_run_id}\tDISABLED\t0 30 2 * * 1\tvisionflow retraining\n'
    assert cli.main(['schedule', 'resume', recurring_run_id, '--host', server.url]) == 0
    assert server.api.recurring_runs[recurring_run_id]['status'] == 'ENABLED'
    assert cli.main(['schedule', 'delete', recurring_run_id, '--host', server.url]) == 0
    assert server.api.recurring_runs == {}
    changes = [(request.method, request.path) for request in server.api.requests if request.method != 'GET']
    assert changes[-3:] == [('POST', f'/apis/v2beta1/recurringruns/{recurring_run_id}:disable'),
                            ('POST', f'/apis/v2beta1/recurringruns/{recurring_run_id}:enable'),
                            ('DELETE', f'/apis/v2beta1/recurringruns/{recurring_run_id}')]


def test_continuous_evaluation_is_submitted_and_scheduled_as_its_own_pipeline(data_flags, capsys):
  with fake_kfp_server.Server() as server:
    assert cli.main(['submit', '--evaluate-only', '--host', server.url, *data_flags]) == 0
    assert cli.main(['schedule', 'create', '--evaluate-only', '--host', server.url, '--cron', '0 0 */6 * * *',
                     *data_flags]) == 0
    [upload] = _posts(server, '/apis/v2beta1/pipelines/upload')
    assert upload.query['name'] == 'visionflow-monitoring'
    assert set(yaml.safe_load(upload.body)['root']['dag']['tasks']) == {'FileBasedExampleGen', 'ProductionMonitor'}
    [run] = _posts(server, '/apis/v2beta1/runs')
    [recurring] = _posts(server, '/apis/v2beta1/recurringruns')
    for body in (run.body, recurring.body):
      assert body['runtime_config'] == {'pipeline_root': 'gs://bucket/visionflow/pipeline_root', 'parameters': {}}
    assert recurring.body['display_name'] == 'visionflow evaluation'
    assert recurring.body['trigger'] == {'cron_schedule': {'cron': '0 0 */6 * * *'}}
    assert 'Created recurring run' in capsys.readouterr().out
    assert cli.main(['submit', '--evaluate-only', '--host', server.url, '--param', 'epochs=3', *data_flags]) == 2
  assert capsys.readouterr().err.strip().splitlines()[-1] == (
      "visionflow submit: error: --param 'epochs=3': the continuous evaluation (--evaluate-only) takes no runtime "
      "parameters; it reads the newest span of --data-csv")


def test_schedule_create_every_with_a_start_and_an_end_sends_an_interval_in_its_window(data_flags, capsys):
  with fake_kfp_server.Server() as server:
    assert cli.main(['schedule', 'create', '--host', server.url, '--every', '6h', '--start', '2027-01-01T02:00Z',
                     '--end', '2027-03-01T00:00+01:00', *data_flags]) == 0
    [request] = _posts(server, '/apis/v2beta1/recurringruns')
    assert request.body['trigger'] == {'periodic_schedule': {
        'interval_second': 21600, 'start_time': '2027-01-01T02:00:00Z', 'end_time': '2027-02-28T23:00:00Z'}}
    assert (request.body['max_concurrency'], request.body['no_catchup']) == (1, True)
    [recurring_run_id] = server.api.recurring_runs
    assert (f'Created recurring run {recurring_run_id} (retraining, every 21600 s, from 2027-01-01T02:00:00Z, '
            f'until 2027-02-28T23:00:00Z, one run at a time, no catch-up)') in capsys.readouterr().out
    assert cli.main(['schedule', 'list', '--host', server.url]) == 0
  assert capsys.readouterr().out == f'{recurring_run_id}\tENABLED\tevery 21600 s\tvisionflow retraining\n'


@pytest.mark.parametrize('trigger, message', [
    (['--cron', '0 3 * * *'], "cron '0 3 * * *' must have 6 fields"),
    ([], 'schedule create needs --cron or --every, one of them'),
    (['--cron', '0 0 3 * * *', '--every', '1d'], 'schedule create needs --cron or --every, one of them'),
    (['--every', '1.5s'], "--every '1.5s': Kubeflow takes whole seconds"),
    (['--every', '1d', '--start', '2027-02-01', '--end', '2027-01-01'],
     '--end 2027-01-01 00:00:00 is not after --start 2027-02-01 00:00:00'),
    (['--on-new-span'], '--on-new-span is a trigger of local schedules (--local); on Kubeflow a recurring run '
                        'fires on --cron or --every'),
    (['--every', '1d', '--on-alert'], '--on-alert is a trigger of local schedules'),
])
def test_a_trigger_kubeflow_cannot_take_is_refused_before_anything_is_sent(data_flags, capsys, trigger, message):
  with fake_kfp_server.Server() as server:
    assert cli.main(['schedule', 'create', '--host', server.url, *trigger, *data_flags]) == 2
    assert not server.api.requests
  [line] = capsys.readouterr().err.strip().splitlines()
  assert line.startswith('visionflow schedule: error: ') and message in line, line


def test_unknown_parameter_is_refused(data_flags, capsys):
  with fake_kfp_server.Server() as server:
    assert cli.main(['submit', '--host', server.url, '--param', 'learning_rate=0.1', *data_flags]) == 2
    assert not server.api.requests
  assert "--param 'learning_rate=0.1': expected name=value with name span or one of" in capsys.readouterr().err


def test_unreachable_and_refusing_hosts_give_one_clear_line(data_flags, capsys):
  assert cli.main(['submit', '--host', 'http://127.0.0.1:9', *data_flags]) == 2
  assert 'cannot reach Kubeflow Pipelines at http://127.0.0.1:9' in capsys.readouterr().err
  with fake_kfp_server.Server(fake_kfp_server.FakeKubeflowPipelines(refuse_with=403)) as server:
    assert cli.main(['submit', '--host', server.url, *data_flags]) == 2
  assert f'Kubeflow Pipelines at {server.url} refused the request: HTTP 403' in capsys.readouterr().err


def test_the_contract_check_rejects_bodies_the_api_models_do_not_allow():
  fake_kfp_server.check_against_model({'display_name': 'x', 'max_concurrency': '1', 'mode': 'ENABLE'},
                                      'V2beta1RecurringRun')
  with pytest.raises(fake_kfp_server.ContractError, match='unknown V2beta1Run fields'):
    fake_kfp_server.check_against_model({'display_name': 'x', 'pipelineRoot': 'gs://b'}, 'V2beta1Run')
  with pytest.raises(fake_kfp_server.ContractError, match="'SOMETIMES' is not one of"):
    fake_kfp_server.check_against_model({'mode': 'SOMETIMES'}, 'V2beta1RecurringRun')
  with pytest.raises(fake_kfp_server.ContractError, match='runtime_config.parameters: expected an object'):
    fake_kfp_server.check_against_model({'runtime_config': {'parameters': 3}}, 'V2beta1Run')


def test_token_sources(tmp_path, monkeypatch):
  token_file = tmp_path / 'token'
  token_file.write_text('from-file\n')
  projected = tmp_path / 'projected-token'
  projected.write_text('from-service-account')
  monkeypatch.setenv(kubeflow_client.TOKEN_ENV, 'from-env')
  monkeypatch.setenv('KF_PIPELINES_SA_TOKEN_PATH', str(projected))
  with fake_kfp_server.Server() as server:
    for connection, expected in (
        (kubeflow_client.Connection(server.url), 'Bearer from-env'),
        (kubeflow_client.Connection(server.url, token_file=str(token_file)), 'Bearer from-file'),
        (kubeflow_client.Connection(server.url, token='from-flag'), 'Bearer from-flag'),
        (kubeflow_client.Connection(server.url, in_cluster=True), 'Bearer from-service-account')):
      kubeflow_client.list_schedules(kubeflow_client.connect(connection), server.url)
      assert server.api.requests[-1].headers.get('authorization') == expected


def test_a_profile_namespace_reaches_the_experiment_and_the_listing(data_flags):
  """Multi-user Kubeflow: experiments live in the user's profile namespace."""
  with fake_kfp_server.Server() as server:
    assert cli.main(['submit', '--host', server.url, '--namespace', 'team-a', *data_flags]) == 0
    [experiment] = _posts(server, '/apis/v2beta1/experiments')
    assert experiment.body['namespace'] == 'team-a'
    assert cli.main(['schedule', 'list', '--host', server.url, '--namespace', 'team-a']) == 0
    assert server.api.requests[-1].query.get('namespace') == 'team-a'
