"""The Kubernetes manifests as a cluster would receive them: each overlay rendered by `kubectl kustomize`,
every object validated against the Kubernetes API schemas (strict), then checked for what visionflow needs.
Nothing is applied: there is no cluster here."""
import ast
import copy
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ['cpu', 'gpu']
# The kubectl client these tests render with is 1.32; KFP 2.4 and the Training Operator run there too.
KUBERNETES_VERSION = '1.32.0'
SERVING = 'visionflow-serving'
# What each CustomObjectsApi call components/trainer/tfjob.py makes needs on its resource.
VERBS = {'create_namespaced_custom_object': 'create', 'get_namespaced_custom_object': 'get',
         'list_namespaced_custom_object': 'list', 'delete_namespaced_custom_object': 'delete',
         'patch_namespaced_custom_object': 'patch', 'replace_namespaced_custom_object': 'update'}


def kustomize(directory):
  kubectl = shutil.which('kubectl')
  if kubectl is None:
    pytest.fail('kubectl is not on PATH: install kubectl (1.27 or newer, for `kubectl kustomize`) to render '
                'kubeflow/overlays', pytrace=False)
  result = subprocess.run([kubectl, 'kustomize', str(directory)], capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr
  return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(scope='module', params=OVERLAYS)
def rendered(request):
  return request.param, kustomize(ROOT / 'kubeflow/overlays' / request.param)


def only(objects, kind, name=None):
  found = [o for o in objects if o['kind'] == kind and (name is None or o['metadata']['name'] == name)]
  assert len(found) == 1, f'expected one {kind} {name or ""}, found {len(found)}'
  return found[0]


def only_container(objects):
  containers = only(objects, 'Deployment', SERVING)['spec']['template']['spec']['containers']
  assert len(containers) == 1
  return containers[0]


def tfjob_needs():
  """(group, plural, verbs) that components/trainer/tfjob.py uses, read from its source."""
  tree = ast.parse((ROOT / 'components/trainer/tfjob.py').read_text())
  constants = next(node for node in tree.body if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], 'elts', None) and node.targets[0].elts[0].id == 'GROUP')
  group, _, plural = ast.literal_eval(constants.value)
  verbs = {VERBS[node.func.attr] for node in ast.walk(tree)
           if isinstance(node, ast.Call) and getattr(node.func, 'attr', '') in VERBS}
  return group, plural, verbs


def test_overlays_render_the_expected_objects(rendered):
  _, objects = rendered
  assert sorted((o['kind'], o['metadata']['name']) for o in objects) == sorted([
      ('Deployment', SERVING), ('Service', SERVING), ('HorizontalPodAutoscaler', SERVING),
      ('PersistentVolumeClaim', 'visionflow-pipeline-root'), ('PersistentVolumeClaim', SERVING),
      ('ServiceAccount', 'visionflow-pipeline'), ('Role', 'visionflow-tfjobs'),
      ('RoleBinding', 'visionflow-tfjobs'), ('RoleBinding', 'visionflow-pipeline-runner')])


def test_every_object_passes_strict_schema_validation(rendered):
  _, objects = rendered
  for document in objects:
    assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True) == '1.32'


def test_the_validator_rejects_a_broken_deployment(rendered):
  _, objects = rendered
  deployment = copy.deepcopy(only(objects, 'Deployment', SERVING))
  deployment['spec']['replicas'] = 'two'
  with pytest.raises(kubernetes_validate.ValidationError, match="'two' is not of type 'integer'"):
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
  deployment['spec']['replicas'] = 2
  deployment['spec']['template']['spec']['containers'][0]['imagePullPolicy_'] = 'Always'
  with pytest.raises(kubernetes_validate.ValidationError):  # strict: unknown fields are errors
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_object_lands_in_the_pipeline_tfjob_namespace(rendered):
  _, objects = rendered
  config = ast.parse((ROOT / 'pipeline/config.py').read_text())
  tfjob_namespace = next(ast.literal_eval(node.value) for node in ast.walk(config)
                         if isinstance(node, ast.AnnAssign) and node.target.id == 'tfjob_namespace')
  assert {o['metadata'].get('namespace') for o in objects} == {tfjob_namespace}
  for binding in (o for o in objects if o['kind'] == 'RoleBinding'):
    assert {subject['namespace'] for subject in binding['subjects']} == {tfjob_namespace}


def test_serving_image_is_a_pinned_2_16_release(rendered):
  overlay, objects = rendered
  image = only_container(objects)['image']
  repository, _, tag = image.partition(':')
  assert repository == 'tensorflow/serving'
  assert tag == {'cpu': '2.16.1', 'gpu': '2.16.1-gpu'}[overlay]
  assert 'latest' not in tag


def test_serving_reads_models_config_on_its_ports(rendered):
  _, objects = rendered
  container = only_container(objects)
  assert {'--model_config_file=/models/models.config', '--model_config_file_poll_wait_seconds=60',
          '--rest_api_port=8501', '--port=8500'} <= set(container['args'])
  ports = {port['name']: port['containerPort'] for port in container['ports']}
  assert ports == {'grpc': 8500, 'http': 8501}
  probe = container['readinessProbe']['httpGet']
  assert probe['path'] == '/v1/models/image_classifier' and ports[probe['port']] == 8501
  assert container['resources']['requests'] and container['resources']['limits']

  service = only(objects, 'Service', SERVING)
  assert {(port['port'], port['targetPort']) for port in service['spec']['ports']} == {(8500, 'grpc'),
                                                                                       (8501, 'http')}
  pod_labels = only(objects, 'Deployment', SERVING)['spec']['template']['metadata']['labels']
  assert service['spec']['selector'].items() <= pod_labels.items()


def test_serving_mounts_the_serving_claim_read_only(rendered):
  _, objects = rendered
  pod = only(objects, 'Deployment', SERVING)['spec']['template']['spec']
  mount = next(m for m in only_container(objects)['volumeMounts'] if m['mountPath'] == '/models')
  assert mount['readOnly'] is True
  volume = next(v for v in pod['volumes'] if v['name'] == mount['name'])
  claim = only(objects, 'PersistentVolumeClaim', volume['persistentVolumeClaim']['claimName'])
  assert claim['metadata']['name'] == SERVING
  assert claim['spec']['accessModes'] == ['ReadWriteMany']
  assert only(objects, 'PersistentVolumeClaim', 'visionflow-pipeline-root')


def test_gpu_overlay_schedules_one_gpu_per_replica_on_gpu_nodes(rendered):
  overlay, objects = rendered
  pod = only(objects, 'Deployment', SERVING)['spec']['template']['spec']
  resources = only_container(objects)['resources']
  on_gpu_nodes = bool(pod.get('nodeSelector')) or any(toleration['key'] == 'nvidia.com/gpu'
                                                      for toleration in pod.get('tolerations', []))
  if overlay == 'gpu':
    assert resources['limits']['nvidia.com/gpu'] == 1
    assert only_container(objects)['image'].endswith('-gpu')
    assert on_gpu_nodes
  else:
    assert 'nvidia.com/gpu' not in resources['limits'] and not on_gpu_nodes


def test_autoscaler_targets_the_serving_deployment_on_cpu(rendered):
  _, objects = rendered
  spec = only(objects, 'HorizontalPodAutoscaler', SERVING)['spec']
  target = spec['scaleTargetRef']
  deployment = only(objects, 'Deployment', target['name'])
  assert (target['apiVersion'], target['kind']) == (deployment['apiVersion'], deployment['kind'])
  assert [m['resource']['name'] for m in spec['metrics'] if m['type'] == 'Resource'] == ['cpu']
  assert 'replicas' not in deployment['spec']  # the autoscaler owns the count
  assert 1 <= spec['minReplicas'] <= spec['maxReplicas']


def test_pipeline_account_may_run_the_trainers_tfjobs(rendered):
  _, objects = rendered
  group, plural, used = tfjob_needs()
  assert {'create', 'get'} <= used  # the reading of tfjob.py found its calls
  account = {'kind': 'ServiceAccount', 'name': 'visionflow-pipeline', 'namespace': 'kubeflow'}
  bindings = [b for b in objects if b['kind'] == 'RoleBinding' and account in b['subjects']]
  rules = [rule for binding in bindings if binding['roleRef']['kind'] == 'Role'
           for role in objects if role['kind'] == 'Role' and role['metadata']['name'] == binding['roleRef']['name']
           for rule in role['rules']]
  tfjob_verbs = {verb for rule in rules if group in rule['apiGroups'] and plural in rule['resources']
                 for verb in rule['verbs']}
  assert used | {'create', 'get', 'list', 'watch', 'delete'} <= tfjob_verbs
  pod_verbs = {(resource, verb) for rule in rules if '' in rule['apiGroups'] for resource in rule['resources']
               for verb in rule['verbs']}
  assert {(resource, verb) for resource in ('pods', 'pods/log') for verb in ('get', 'list', 'watch')} <= pod_verbs
  assert only(objects, 'ServiceAccount', 'visionflow-pipeline')
