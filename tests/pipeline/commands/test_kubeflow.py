"""`visionflow schedule` checks its arguments before it reaches Kubeflow Pipelines (the commands against a
server are tested in tests/pipeline/runners/test_kubeflow_client.py)."""
import pytest

from pipeline import cli


@pytest.mark.parametrize('action', ['pause', 'resume', 'delete'])
def test_a_schedule_action_without_its_id_is_refused_before_kubeflow_is_reached(action, capsys):
  assert cli.main(['schedule', action, '--host', 'http://127.0.0.1:9']) == 2
  assert capsys.readouterr().err.strip().splitlines() == [
      f'visionflow schedule: error: schedule {action} needs the recurring run id (see `visionflow schedule list`)']
