"""Multi-worker training on Kubernetes: the Trainer creates a Kubeflow Training Operator TFJob whose
workers run the same entry point as local workers, and waits for it.

The training operator gives each replica its TF_CONFIG; worker 0 is the chief and exports the model to
the Trainer's output (which must be on storage every pod reaches, such as gs://).
"""
import time
from typing import Dict, List, Optional

from absl import logging

GROUP, VERSION, PLURAL = 'kubeflow.org', 'v1', 'tfjobs'


def tfjob_manifest(name: str, namespace: str, image: str, num_workers: int, job_path: str,
                   cpu: str = '4', memory: str = '16Gi', gpus: int = 0,
                   node_selector: Optional[Dict[str, str]] = None,
                   tolerations: Optional[List[Dict[str, str]]] = None,
                   service_account: Optional[str] = None) -> Dict:
  """The TFJob resource: `num_workers` workers running `python -m components.trainer.worker JOB`."""
  resources = {'cpu': cpu, 'memory': memory}
  if gpus:
    resources['nvidia.com/gpu'] = str(gpus)
  pod_spec = {
      'containers': [{
          'name': 'tensorflow',  # the container name the training operator looks for
          'image': image,
          'command': ['python', '-m', 'components.trainer.worker', job_path],
          'env': [{'name': 'TF_USE_LEGACY_KERAS', 'value': '1'}],
          'resources': {'requests': dict(resources), 'limits': dict(resources)},
      }],
  }
  if node_selector:
    pod_spec['nodeSelector'] = dict(node_selector)
  if tolerations:
    pod_spec['tolerations'] = [dict(toleration) for toleration in tolerations]
  if service_account:
    pod_spec['serviceAccountName'] = service_account
  return {
      'apiVersion': f'{GROUP}/{VERSION}',
      'kind': 'TFJob',
      'metadata': {'name': name, 'namespace': namespace, 'labels': {'app': 'visionflow-trainer'}},
      'spec': {
          'runPolicy': {'cleanPodPolicy': 'Running', 'backoffLimit': 3},
          'tfReplicaSpecs': {'Worker': {'replicas': num_workers, 'restartPolicy': 'OnFailure',
                                        'template': {'spec': pod_spec}}},
      },
  }


def toleration(text: str) -> Dict[str, str]:
  """'key[=value]:Effect' (as `kubectl taint` writes a taint) -> a Kubernetes toleration of it."""
  key_value, _, effect = text.rpartition(':')
  key, _, value = key_value.partition('=')
  if not key or effect not in ('NoSchedule', 'PreferNoSchedule', 'NoExecute'):
    raise ValueError(f'training toleration {text!r}: expected key[=value]:NoSchedule|PreferNoSchedule|NoExecute')
  result = {'key': key, 'operator': 'Equal' if value else 'Exists', 'effect': effect}
  if value:
    result['value'] = value
  return result


def job_state(tfjob: Dict) -> Optional[str]:
  """'Succeeded' or 'Failed' once the TFJob has ended, else None."""
  for condition in tfjob.get('status', {}).get('conditions', []):
    if condition.get('type') in ('Succeeded', 'Failed') and condition.get('status') == 'True':
      return condition['type']
  return None


def run_tfjob(manifest: Dict, api_client=None, poll_seconds: float = 10.0,
              timeout_seconds: float = 7 * 24 * 3600) -> None:
  """Creates the TFJob and waits for it to end; raises RuntimeError when it fails or times out.

  `api_client` defaults to the in-cluster service account, else the local kubeconfig.
  """
  from kubernetes import client, config
  if api_client is None:
    try:
      config.load_incluster_config()
    except config.ConfigException:
      config.load_kube_config()
    api_client = client.ApiClient()
  api = client.CustomObjectsApi(api_client)
  namespace, name = manifest['metadata']['namespace'], manifest['metadata']['name']
  api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
  logging.info('Trainer created TFJob %s/%s with %d workers', namespace, name,
               manifest['spec']['tfReplicaSpecs']['Worker']['replicas'])
  deadline = time.monotonic() + timeout_seconds
  while True:
    tfjob = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    state = job_state(tfjob)
    if state == 'Succeeded':
      return
    if state == 'Failed':
      messages = [condition.get('message', '') for condition in tfjob['status']['conditions']]
      raise RuntimeError(f'TFJob {namespace}/{name} failed: {"; ".join(filter(None, messages))}')
    if time.monotonic() > deadline:
      raise RuntimeError(f'TFJob {namespace}/{name} did not finish within {timeout_seconds:.0f}s')
    time.sleep(poll_seconds)
