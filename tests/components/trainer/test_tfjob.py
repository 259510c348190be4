"""The TFJob client against a local HTTP server that answers the Kubernetes custom-objects API.

A contract test: no cluster runs here. The server records what the client sends.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from kubernetes import client

from components.trainer import tfjob

TFJOBS = '/apis/kubeflow.org/v1/namespaces/ml/tfjobs'


class _FakeKubernetes(BaseHTTPRequestHandler):
  created = []
  polls = 0
  final_state = 'Succeeded'

  def do_POST(self):  # http.server's naming
    assert self.path == TFJOBS, self.path
    body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
    type(self).created.append(body)
    self._reply(201, body)

  def do_GET(self):
    name = type(self).created[-1]['metadata']['name']
    assert self.path == f'{TFJOBS}/{name}', self.path
    type(self).polls += 1
    conditions = [{'type': 'Running', 'status': 'True'}]
    if type(self).polls >= 3:
      conditions.append({'type': type(self).final_state, 'status': 'True', 'message': 'worker-1 exited 1'})
    self._reply(200, dict(type(self).created[-1], status={'conditions': conditions}))

  def _reply(self, code, body):
    data = json.dumps(body).encode()
    self.send_response(code)
    self.send_header('Content-Type', 'application/json')
    self.send_header('Content-Length', str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):
    pass


@pytest.fixture
def kubernetes_api():
  _FakeKubernetes.created, _FakeKubernetes.polls, _FakeKubernetes.final_state = [], 0, 'Succeeded'
  server = HTTPServer(('127.0.0.1', 0), _FakeKubernetes)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  configuration = client.Configuration()
  configuration.host = f'http://127.0.0.1:{server.server_port}'
  yield client.ApiClient(configuration)
  server.shutdown()


def _manifest():
  return tfjob.tfjob_manifest('train-42', 'ml', 'ghcr.io/example/visionflow:1.0', 3,
                              'gs://bucket/root/Trainer/model_run/42/training_job.json', gpus=1,
                              node_selector={'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4'},
                              tolerations=[{'key': 'nvidia.com/gpu', 'operator': 'Exists',
                                            'effect': 'NoSchedule'}])


def test_the_trainer_creates_the_tfjob_and_waits_for_success(kubernetes_api):
  tfjob.run_tfjob(_manifest(), api_client=kubernetes_api, poll_seconds=0.01)
  [created] = _FakeKubernetes.created
  assert (created['apiVersion'], created['kind']) == ('kubeflow.org/v1', 'TFJob')
  worker = created['spec']['tfReplicaSpecs']['Worker']
  container = worker['template']['spec']['containers'][0]
  assert worker['replicas'] == 3 and container['name'] == 'tensorflow'
  assert container['command'] == ['python', '-m', 'components.trainer.worker',
                                  'gs://bucket/root/Trainer/model_run/42/training_job.json']
  assert container['resources']['limits']['nvidia.com/gpu'] == '1'
  assert worker['template']['spec']['nodeSelector'] == {'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4'}
  assert {'name': 'TF_USE_LEGACY_KERAS', 'value': '1'} in container['env']
  assert _FakeKubernetes.polls == 3


def test_a_failed_tfjob_fails_the_trainer_with_its_message(kubernetes_api):
  _FakeKubernetes.final_state = 'Failed'
  with pytest.raises(RuntimeError, match='TFJob ml/train-42 failed: worker-1 exited 1'):
    tfjob.run_tfjob(_manifest(), api_client=kubernetes_api, poll_seconds=0.01)


@pytest.mark.parametrize('text, expected', [
    ('nvidia.com/gpu:NoSchedule', {'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}),
    ('google.com/tpu=present:NoExecute',
     {'key': 'google.com/tpu', 'operator': 'Equal', 'value': 'present', 'effect': 'NoExecute'}),
])
def test_tolerations_are_written_as_kubectl_writes_taints(text, expected):
  assert tfjob.toleration(text) == expected
  manifest = tfjob.tfjob_manifest('job', 'ns', 'image', 2, 'gs://b/job.json', tolerations=[tfjob.toleration(text)],
                                  node_selector={'pool': 'gpu'})
  pod = manifest['spec']['tfReplicaSpecs']['Worker']['template']['spec']
  assert pod['tolerations'] == [expected] and pod['nodeSelector'] == {'pool': 'gpu'}


@pytest.mark.parametrize('text', ['nvidia.com/gpu', ':NoSchedule', 'key=value:Sometimes'])
def test_a_malformed_toleration_is_refused(text):
  with pytest.raises(ValueError, match='expected key\\[=value\\]:NoSchedule'):
    tfjob.toleration(text)
