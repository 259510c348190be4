"""Choosing and building the tf.distribute strategy the Trainer runs under.

`choose_strategy` is pure (what is available in, a strategy name out) so the selection is tested without
the hardware; `make_strategy` builds it.
"""
import json
import os
from typing import Optional

import tensorflow as tf

from components.trainer.settings import STRATEGIES



def choose_strategy(requested: str, num_workers: int, tpu_found: bool, gpu_count: int) -> str:
  """The concrete strategy for `requested`: auto takes a TPU if one is found, then multi-worker when more
  than one worker is asked for, then Mirrored over several GPUs, else one device."""
  if requested not in STRATEGIES:
    raise ValueError(f'unknown strategy {requested!r}; choose one of {STRATEGIES}')
  if requested == 'multi_worker' and num_workers < 2 and 'TF_CONFIG' not in os.environ:
    raise ValueError('strategy multi_worker needs num_workers >= 2 (or a TF_CONFIG naming the cluster)')
  if requested != 'auto':
    return requested
  if tpu_found:
    return 'tpu'
  if num_workers > 1:
    return 'multi_worker'
  return 'mirrored' if gpu_count > 1 else 'one_device'


def tpu_available(tpu_address: Optional[str] = None) -> bool:
  """Whether a TPU is there to resolve, without network calls: an address given, the variables Cloud TPU
  and GKE set, or a TPU VM's accelerator devices."""
  return bool(tpu_address or os.environ.get('TPU_NAME') or os.environ.get('KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS')
              or os.path.exists('/dev/accel0') or os.path.exists('/dev/vfio/0'))


def make_strategy(name: str, tpu_address: Optional[str] = None) -> tf.distribute.Strategy:
  if name == 'tpu':
    if not tpu_available(tpu_address):
      raise RuntimeError('strategy tpu: no TPU found; set --tpu-address or run on a TPU VM or node')
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or '')
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  if name == 'multi_worker':
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy()
  # One device: TensorFlow's default strategy places work on the first GPU, else the CPU. (Keras'
  # BackupAndRestore does not support OneDeviceStrategy, so it is not used.)
  return tf.distribute.get_strategy()


def cluster_config() -> dict:
  """This process's TF_CONFIG (cluster and task), empty outside a multi-worker cluster."""
  return json.loads(os.environ.get('TF_CONFIG', '{}'))


def num_cluster_workers() -> int:
  return max(1, len(cluster_config().get('cluster', {}).get('worker', [])))


def is_chief() -> bool:
  """Only the chief exports the model: the `chief` task, else worker 0 of a cluster without a chief."""
  tf_config = cluster_config()
  task = tf_config.get('task')
  if not task or task.get('type') == 'chief':
    return True
  return task.get('type') == 'worker' and task.get('index', 0) == 0 and 'chief' not in tf_config['cluster']


def worker_tf_config(ports, index: int) -> str:
  """TF_CONFIG for worker `index` of a cluster of workers on loopback `ports` (worker 0 is the chief)."""
  return json.dumps({'cluster': {'worker': [f'localhost:{port}' for port in ports]},
                     'task': {'type': 'worker', 'index': index}})
