"""The built pipeline image, and the compiled DAG run in it, for the tests that run containers (`make test`
builds the image first)."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.containers.kfp_harness import ContainerDag, InputTyping

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')


@pytest.fixture(scope='session')
def pipeline_image():
  """The CPU image's name; the tests fail, not skip, without a Docker engine or the image."""
  image = os.environ.get('VISIONFLOW_TEST_IMAGE', 'visionflow:dev')
  engine = subprocess.run(['docker', 'info'], capture_output=True, text=True, timeout=60, check=False)
  assert engine.returncode == 0, f'no Docker engine answers (scripts/docker-engine.sh starts one): {engine.stderr}'
  found = subprocess.run(['docker', 'image', 'inspect', image], capture_output=True, timeout=60, check=False)
  assert found.returncode == 0, f'{image} is not built: scripts/build-images.sh visionflow cpu'
  return image


def visionflow(*args: str, cwd: str) -> subprocess.CompletedProcess:
  """The project's CLI on this machine, as a user runs it."""
  return subprocess.run([VISIONFLOW, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope='session')
def container_runs(pipeline_image, tmp_path_factory):
  """(shared folder, spec path, first run, second run with epochs=1), all in containers.

  Each run types its inputs as a self-hosted Kubeflow Pipelines backend does: the first as KFP 2.x's driver
  (an empty instance schema), the second with KFP's own titles and an `executor-logs` output on every step.
  """
  shared = tmp_path_factory.mktemp('kfp')
  os.chmod(shared, 0o777)
  output_dir = shared / 'out'
  spec_path = shared / 'pipeline.yaml'
  span = shared / 'span'  # unlabelled images for the ScoreSpan step: sample images and one that is no image
  compiled = visionflow('compile', '--output-dir', str(output_dir), '--image', pipeline_image, '--tuner-trials', '0',
                        '--score-span', str(span), '--output', str(spec_path), cwd=str(shared))
  assert compiled.returncode == 0, compiled.stderr
  span.mkdir()
  for image in sorted((output_dir / 'sample_data' / 'seven').iterdir())[:8]:
    shutil.copy(image, span)
  (span / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
  subprocess.run(['chmod', '-R', 'a+rwX', str(shared)], check=True)
  dag = ContainerDag(str(spec_path), shared, pipeline_root=str(output_dir / 'pipeline_root'))
  first = dag.run(typing=InputTyping.EMPTY_SCHEMA)
  second = dag.run({'epochs': 1}, typing=InputTyping.KFP_TITLE, publish_logs=True)
  return shared, spec_path, first, second
