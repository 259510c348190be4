"""Multi-worker training in containers: the TFJob worker command the Trainer creates, run as two containers
on one Docker network with TF_CONFIG as Kubeflow's Training Operator sets it (worker service names as host
names, port 2222). The settings are the compiled spec's Trainer's; the Transform outputs are of small colour
images, for which the model's defaults turn augmentation on, as they do for photos."""
import glob
import json
import os
import subprocess
import uuid

import pytest

from components import model_choice
from components.trainer import tfjob
from components.trainer.settings import TrainingSettings
from tests import transformed_data
from tests.containers.kfp_harness import load_spec

pytestmark = [pytest.mark.containers, pytest.mark.slow]
WORKERS = 2
WORKER_TIMEOUT_S = 900


def _training_job(shared, spec_path):
  """A training job over Transform's outputs of tinted digits, as the Trainer writes it for a TFJob."""
  config = json.loads(load_spec(str(spec_path))['root']['dag']['tasks']['Trainer']['inputs']['parameters']
                      ['custom_config']['runtimeValue']['constant'])
  config.update(num_workers=WORKERS, strategy='multi_worker', epochs=2)
  data = shared / 'colour'
  upstream = transformed_data.run_data_half(*transformed_data.tinted_digits(str(data / 'images'), limit=200),
                                            str(data))
  [examples] = glob.glob(os.path.join(upstream.pipeline_root, 'Transform', 'transformed_examples', '*'))
  [transform_graph] = glob.glob(os.path.join(upstream.pipeline_root, 'Transform', 'transform_graph', '*'))
  # run_fn hands its workers the settings with the model Transform chose filled in.
  config = TrainingSettings.from_custom_config(config).with_choice(model_choice.read(transform_graph))
  folder = shared / 'multi_worker'
  job = {'train_files': [f'{examples}/Split-train/*'], 'eval_files': [f'{examples}/Split-eval/*'],
         'transform_output': transform_graph,
         'serving_model_dir': str(folder / 'model' / 'Format-Serving'), 'model_run_dir': str(folder / 'model_run'),
         'backup_dir': str(folder / 'backup'), 'settings': config.to_custom_config(), 'hyperparameters': None}
  folder.mkdir(mode=0o777)
  folder.chmod(0o777)
  job_path = folder / 'training_job.json'
  job_path.write_text(json.dumps(job))
  subprocess.run(['chmod', '-R', 'a+rwX', str(data)], check=True)
  return job_path, job


@pytest.fixture(scope='module')
def worker_results(container_runs, pipeline_image):
  shared, spec_path, _, _ = container_runs
  job_path, job = _training_job(shared, spec_path)
  manifest = tfjob.tfjob_manifest(name='visionflow-train-test', namespace='kubeflow', image=pipeline_image,
                                  num_workers=WORKERS, job_path=str(job_path))
  container = manifest['spec']['tfReplicaSpecs']['Worker']['template']['spec']['containers'][0]
  network = f'visionflow-tfjob-{uuid.uuid4().hex[:8]}'
  hosts = [f'visionflow-train-test-worker-{index}' for index in range(WORKERS)]
  # Containers of these names left by a run killed before its cleanup would make `docker run` refuse.
  subprocess.run(['docker', 'rm', '--force', *hosts], capture_output=True, check=False)
  subprocess.run(['docker', 'network', 'create', network], check=True, capture_output=True)
  try:
    for index, host in enumerate(hosts):
      tf_config = {'cluster': {'worker': [f'{name}:2222' for name in hosts]},
                   'task': {'type': 'worker', 'index': index}}
      env = [f'--env={variable["name"]}={variable["value"]}' for variable in container['env']]
      subprocess.run(['docker', 'run', '--detach', '--name', host, '--hostname', host, '--network', network,
                      '--volume', f'{shared}:{shared}', *env, f'--env=TF_CONFIG={json.dumps(tf_config)}',
                      '--entrypoint', container['command'][0], container['image'], *container['command'][1:]],
                     check=True, capture_output=True)
    results = []
    for host in hosts:
      try:
        waited = subprocess.run(['docker', 'wait', host], capture_output=True, text=True,
                                timeout=WORKER_TIMEOUT_S, check=True)
      except subprocess.TimeoutExpired as timeout:
        raise AssertionError(f'worker {host} ran past {WORKER_TIMEOUT_S} s') from timeout
      logs = subprocess.run(['docker', 'logs', host], capture_output=True, text=True, check=False)
      results.append((int(waited.stdout.strip()), logs.stdout + logs.stderr))
    return job, results
  finally:
    subprocess.run(['docker', 'rm', '--force', *hosts], capture_output=True, check=False)
    subprocess.run(['docker', 'network', 'rm', network], capture_output=True, check=False)


def test_the_default_model_for_these_images_is_augmented(worker_results):
  job, _ = worker_results
  settings = job['settings']
  assert settings['augment_crop'] and settings['augment_flip'] and settings['augment_colour']


def test_both_workers_finish(worker_results):
  _, results = worker_results
  for index, (exit_code, log) in enumerate(results):
    assert exit_code == 0, f'worker {index}:\n{log[-4000:]}'
    assert f'strategy multi_worker, {WORKERS} replicas' in log, log[-2000:]


def test_the_chief_exports_the_model(worker_results, pipeline_image):
  job, results = worker_results
  export = job['serving_model_dir']
  assert f'Trainer exported the model to {export}' in results[0][1]
  assert f'Trainer exported the model to {export}' not in results[1][1]
  loaded = subprocess.run(
      ['docker', 'run', '--rm', '--network', 'none', '--volume', f'{export}:{export}:ro', pipeline_image,
       'python', '-c', 'import sys, tensorflow as tf; model = tf.saved_model.load(sys.argv[1]); '
       'print(sorted(model.signatures))', export],
      capture_output=True, text=True, timeout=300, check=False)
  assert loaded.returncode == 0, loaded.stderr[-3000:]
  assert 'serving_default' in loaded.stdout
