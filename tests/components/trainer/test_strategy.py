"""Choosing the tf.distribute strategy from what the machine has, without the hardware."""
import json

import pytest

from components.trainer import strategy


@pytest.mark.parametrize('requested, workers, tpu, gpus, expected', [
    ('auto', 1, False, 0, 'one_device'),
    ('auto', 1, False, 1, 'one_device'),
    ('auto', 1, False, 4, 'mirrored'),
    ('auto', 3, False, 4, 'multi_worker'),
    ('auto', 3, True, 0, 'tpu'),
    ('auto', 1, True, 8, 'tpu'),
    ('one_device', 1, True, 8, 'one_device'),
    ('mirrored', 1, False, 0, 'mirrored'),
    ('multi_worker', 2, False, 0, 'multi_worker'),
    ('tpu', 1, True, 0, 'tpu'),
])
def test_strategy_selection(requested, workers, tpu, gpus, expected, monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert strategy.choose_strategy(requested, workers, tpu, gpus) == expected


def test_multi_worker_needs_workers_or_a_cluster(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  with pytest.raises(ValueError, match='num_workers >= 2'):
    strategy.choose_strategy('multi_worker', 1, False, 0)
  monkeypatch.setenv('TF_CONFIG', strategy.worker_tf_config([1, 2], 1))
  assert strategy.choose_strategy('multi_worker', 1, False, 0) == 'multi_worker'


def test_unknown_strategy_is_refused():
  with pytest.raises(ValueError, match="unknown strategy 'horovod'"):
    strategy.choose_strategy('horovod', 1, False, 0)


def test_tpu_is_found_from_the_address_or_the_environment(monkeypatch):
  for name in ('TPU_NAME', 'KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS'):
    monkeypatch.delenv(name, raising=False)
  assert strategy.tpu_available('grpc://10.0.0.2:8470')
  monkeypatch.setenv('TPU_NAME', 'my-tpu')
  assert strategy.tpu_available()


def test_tpu_strategy_without_a_tpu_says_what_to_do(monkeypatch):
  for name in ('TPU_NAME', 'KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS'):
    monkeypatch.delenv(name, raising=False)
  if strategy.tpu_available():
    pytest.skip('this machine has a TPU')
  with pytest.raises(RuntimeError, match='no TPU found'):
    strategy.make_strategy('tpu')


def test_only_the_chief_exports(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert strategy.is_chief()
  config = json.loads(strategy.worker_tf_config([5001, 5002], 0))
  assert config == {'cluster': {'worker': ['localhost:5001', 'localhost:5002']},
                    'task': {'type': 'worker', 'index': 0}}
  monkeypatch.setenv('TF_CONFIG', json.dumps(config))
  assert strategy.is_chief()
  monkeypatch.setenv('TF_CONFIG', strategy.worker_tf_config([5001, 5002], 1))
  assert not strategy.is_chief()
  monkeypatch.setenv('TF_CONFIG', json.dumps({'cluster': {'chief': ['a:1'], 'worker': ['b:1']},
                                              'task': {'type': 'worker', 'index': 0}}))
  assert not strategy.is_chief()
