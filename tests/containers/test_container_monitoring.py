"""`compile --evaluate-only`, run task by task in containers of the CPU image after the DAG's runs pushed a
model: the continuous evaluation measures that model on the sample images and keeps the history."""
import json
import subprocess

import pytest

from tests.containers.conftest import visionflow
from tests.containers.kfp_harness import ContainerDag, InputTyping

pytestmark = [pytest.mark.containers, pytest.mark.slow]


def _json_property(value):
  """A JSON-valued property as the launcher passes it on: a Struct, with a list wrapped under __value__."""
  value = json.loads(value) if isinstance(value, str) else value
  return value['__value__'] if isinstance(value, dict) and set(value) == {'__value__'} else value


def test_the_monitoring_spec_measures_the_pushed_model_in_containers(container_runs, pipeline_image):
  shared, _, first, _ = container_runs
  output_dir = shared / 'out'
  spec_path = shared / 'monitoring.yaml'
  compiled = visionflow('compile', '--evaluate-only', '--output-dir', str(output_dir), '--image', pipeline_image,
                        '--alert-min-accuracy', '0.5', '--output', str(spec_path), cwd=str(shared))
  assert compiled.returncode == 0, compiled.stderr
  subprocess.run(['chmod', '-R', 'a+rwX', str(shared)], check=True)
  run = ContainerDag(str(spec_path), shared, pipeline_root=str(output_dir / 'pipeline_root')).run(
      typing=InputTyping.KFP_TITLE)
  assert set(run.tasks) == {'FileBasedExampleGen', 'ProductionMonitor'}
  assert all(task.exit_code == 0 for task in run.tasks.values())

  measured = run.artifact('ProductionMonitor', 'evaluation')['metadata']
  assert measured['monitored_model'] == first.artifact('Pusher', 'pushed_model')['metadata']['pushed_destination']
  assert _json_property(measured['alerts']) == [] and 0.5 <= measured['accuracy'] <= 1.0
  [line] = (output_dir / 'pipeline_root' / 'monitoring' / 'history.jsonl').read_text().splitlines()
  assert json.loads(line)['slices']['overall']['accuracy'] == pytest.approx(measured['accuracy'])
