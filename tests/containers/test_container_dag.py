"""The compiled DAG, run task by task in fresh containers of the CPU image (tests/containers/kfp_harness.py
stands in for KFP's driver and launcher): a first run pushes a model, a worse second run is refused."""
import glob
import json
import os
import subprocess

import pytest

from tests.containers.kfp_harness import EXECUTOR_LOGS, load_spec

pytestmark = [pytest.mark.containers, pytest.mark.slow]
MODEL = 'image_classifier'


def _versions(shared):
  model_dir = shared / 'out' / 'serving' / MODEL
  return sorted(path for path in model_dir.iterdir() if path.name.isdigit()) if model_dir.is_dir() else []


def test_every_task_of_the_spec_ran_and_exited_zero(container_runs):
  _, spec_path, first, second = container_runs
  tasks = set(load_spec(str(spec_path))['root']['dag']['tasks'])
  assert {'FileBasedExampleGen', 'Transform', 'Trainer', 'Evaluator', 'Pusher'} <= tasks
  for run in (first, second):
    assert set(run.tasks) == tasks
    assert all(task.exit_code == 0 for task in run.tasks.values())


def test_the_runs_typed_inputs_as_self_hosted_kubeflow_does(container_runs):
  _, _, first, second = container_runs
  for run, expected_types in ((first, [{'instanceSchema': ''}]),
                              (second, [{'schemaTitle': 'system.Dataset'}, {'schemaTitle': 'system.Model'},
                                        {'schemaTitle': 'system.Artifact'}])):
    passed_types = [artifact['type'] for task in run.tasks.values()
                    for artifact_list in task.executor_input['inputs']['artifacts'].values()
                    for artifact in artifact_list['artifacts']]
    assert passed_types and all(passed in expected_types for passed in passed_types), passed_types
  assert {'system.Dataset', 'system.Model'} <= {passed.get('schemaTitle') for passed in passed_types}


def test_every_step_recorded_the_executor_logs_output_that_kubeflow_added(container_runs):
  _, _, _, second = container_runs
  for task in second.tasks.values():
    assert EXECUTOR_LOGS in task.executor_output['artifacts'], task.name


def test_the_first_run_pushes_a_model_in_the_tf_serving_layout(container_runs):
  shared, _, first, _ = container_runs
  pushed = first.artifact('Pusher', 'pushed_model')
  assert pushed['metadata']['pushed'] == 1
  versions = _versions(shared)
  assert len(versions) == 1
  assert (versions[0] / 'saved_model.pb').is_file() and (versions[0] / 'variables').is_dir()
  assert pushed['metadata']['pushed_destination'] == str(versions[0])


def test_predict_in_the_image_answers_on_a_real_jpeg(container_runs, pipeline_image):
  shared, _, _, _ = container_runs
  output_dir = shared / 'out'
  image_path, label = (output_dir / 'sample_data' / 'all_data.csv').read_text().splitlines()[0].split(',')
  result = subprocess.run(
      ['docker', 'run', '--rm', '--network', 'none', '--volume', f'{shared}:{shared}', pipeline_image,
       'visionflow', 'predict', '--output-dir', str(output_dir), '--json',
       str(output_dir / 'sample_data' / image_path)],
      capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  predictions = json.loads(result.stdout)
  assert len(predictions) == 1
  assert predictions[0]['class_name'] == label and predictions[0]['probability'] > 0.5, predictions


def test_score_span_scores_the_unlabelled_images_with_the_model_in_production(container_runs):
  """Both runs score the span with the first run's model: the second run's model was refused, not pushed."""
  shared, _, first, second = container_runs
  [version] = _versions(shared)
  for run in (first, second):
    result = run.artifact('ScoreSpan', 'inference_result')
    assert result['metadata']['scored_model'] == str(version)
    assert (result['metadata']['scored_rows'], result['metadata']['predicted_rows'],
            result['metadata']['failed_rows']) == (9, 8, 1)
    [errors] = glob.glob(os.path.join(result['uri'], 'errors-*.csv'))
    assert open(errors).read().splitlines()[1].startswith(f'{shared}/span,')


@pytest.mark.parametrize('task', ['DataReport', 'Evaluator'])
def test_reports_are_files_at_the_uris_the_launcher_gave(container_runs, task):
  _, _, first, _ = container_runs
  html = first.artifact(task, 'html_report')
  markdown = first.artifact(task, 'markdown_report')
  assert html['uri'].startswith(first.tasks[task].outputs['html_report']['uri'])
  assert html['type']['instanceSchema'].startswith('title: system.HTML')
  assert markdown['type']['instanceSchema'].startswith('title: system.Markdown')
  assert '<html' in open(html['uri']).read().lower()
  assert open(markdown['uri']).read().lstrip().startswith('#')


def test_a_worse_second_run_is_refused_with_its_reason(container_runs):
  shared, _, first, second = container_runs
  blessing = second.artifact('Evaluator', 'blessing')['metadata']
  assert blessing['blessed'] == 0
  reasons = json.loads(blessing['blessing_reasons'])
  assert reasons and any('accuracy' in reason for reason in reasons), reasons
  assert second.artifact('Pusher', 'pushed_model')['metadata']['pushed'] == 0
  assert [str(version) for version in _versions(shared)] == [
      first.artifact('Pusher', 'pushed_model')['metadata']['pushed_destination']]
