"""TFX Trainer entry point: chooses the distribution strategy and trains, in-process or on N workers."""
import dataclasses
import os
import subprocess
import sys
from typing import List

import portpicker
import tensorflow as tf
from absl import logging
from tfx.components.trainer.fn_args_utils import FnArgs

from components import model_choice
from components import names
from components import pixel_model
from components import serving_dir
from components.trainer import model as model_lib
from components.trainer.settings import TrainingSettings
from components.trainer import strategy as strategy_lib
from components.trainer import tfjob
from components.trainer import training
from components.trainer import warm_start
from components.trainer import worker as worker_lib


def run_fn(fn_args: FnArgs) -> None:
  """Trains on Transform's train split, validates on eval, exports to fn_args.serving_model_dir.

  custom_config: TrainingSettings.to_custom_config(), with epochs folded in by the Trainer's executor; the
  values it leaves open come from the model Transform chose. Hyperparameters come from the Tuner, from the
  settings, or are the space's defaults.
  """
  choice = model_choice.read(fn_args.transform_output, tf.io.gfile.GFile)
  settings = TrainingSettings.from_custom_config(fn_args.custom_config).with_choice(choice)
  logging.info('Trainer model: %s', choice.describe())
  hyperparameters = fn_args.hyperparameters or model_lib.fixed_hyperparameters(settings.backbone,
                                                                               settings.hyperparameters)
  job = training.TrainingJob(
      train_files=list(fn_args.train_files), eval_files=list(fn_args.eval_files),
      transform_output=fn_args.transform_output, serving_model_dir=fn_args.serving_model_dir,
      model_run_dir=fn_args.model_run_dir,
      backup_dir=training.backup_dir_for(os.path.dirname(os.path.dirname(fn_args.model_run_dir)),
                                         fn_args.train_files, settings, hyperparameters),
      settings=settings, hyperparameters=hyperparameters)
  # The backbone the Tuner chose, where it compared the candidates: everything below trains and records it.
  job = dataclasses.replace(job, settings=model_lib.model_settings(job.hp(), settings))
  decision = decide_warm_start(job)
  logging.info('Trainer: %s', decision.describe())
  tf.io.gfile.makedirs(os.path.dirname(warm_start_path(fn_args.serving_model_dir)))
  with tf.io.gfile.GFile(warm_start_path(fn_args.serving_model_dir), 'w') as handle:
    handle.write(decision.describe())
  job = dataclasses.replace(job, warm_start_from=decision.from_dir)
  tpu_found = settings.strategy in ('auto', 'tpu') and strategy_lib.tpu_available(settings.tpu_address)
  strategy = strategy_lib.choose_strategy(settings.strategy, settings.num_workers, tpu_found,
                                          len(tf.config.list_physical_devices('GPU')))
  if strategy == 'multi_worker' and 'TF_CONFIG' not in os.environ:
    if settings.tfjob_image:
      run_tfjob_workers(job)
    else:
      run_local_workers(job, settings.num_workers)
  else:
    training.train_and_export(job, strategy)


def warm_start_path(serving_model_dir: str) -> str:
  """Where run_fn leaves its warm-start decision for the Trainer's executor: beside the exported model."""
  return os.path.join(os.path.dirname(serving_model_dir.rstrip('/')), names.WARM_START_FILE)


def decide_warm_start(job: training.TrainingJob) -> warm_start.WarmStart:
  """From scratch or from the model in production (the newest version in the serving directory)."""
  settings = job.settings
  if settings.warm_start == warm_start.NEVER:
    return warm_start.decide(settings.warm_start, None, None, None)
  production_dir = serving_dir.newest_version_dir(settings.serving_model_dir)
  production = pixel_model.read_training_record(production_dir) if production_dir else None
  return warm_start.decide(settings.warm_start, production_dir, production,
                           training.training_record(settings, job.hp(), job.train_files))


def run_tfjob_workers(job: training.TrainingJob) -> None:
  """Runs the workers as a Kubeflow TFJob (the model run folder must be on storage every pod reaches)."""
  job_path = os.path.join(job.model_run_dir, 'training_job.json')
  tf.io.gfile.makedirs(job.model_run_dir)
  job.save(job_path)
  tfjob.run_tfjob(tfjob.tfjob_manifest(
      name=f'visionflow-train-{os.path.basename(job.model_run_dir.rstrip("/"))}',
      namespace=job.settings.tfjob_namespace, image=job.settings.tfjob_image, num_workers=job.settings.num_workers,
      job_path=job_path, gpus=job.settings.worker_gpus, node_selector=job.settings.node_selector,
      tolerations=[tfjob.toleration(text) for text in job.settings.tolerations]))


def run_local_workers(job: training.TrainingJob, num_workers: int) -> None:
  """Runs `num_workers` worker processes with TF_CONFIG on loopback ports and waits for all of them.

  The same worker entry point (`python -m components.trainer.worker JOB`) runs as the workers of a
  TFJob on Kubernetes. Worker logs go to the model run folder; a failing worker fails the Trainer.
  """
  tf.io.gfile.makedirs(job.model_run_dir)
  job_path = os.path.join(job.model_run_dir, 'training_job.json')
  job.save(job_path)
  ports = [portpicker.pick_unused_port() for _ in range(num_workers)]
  workers: List[subprocess.Popen] = []
  log_paths = [os.path.join(job.model_run_dir, f'worker-{index}.log') for index in range(num_workers)]
  for index, log_path in enumerate(log_paths):
    with open(log_path, 'w') as log:
      env = dict(os.environ, TF_CONFIG=strategy_lib.worker_tf_config(ports, index))
      workers.append(subprocess.Popen([sys.executable, '-m', 'components.trainer.worker', job_path],
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
  logging.info('Trainer started %d workers on ports %s; logs: %s', num_workers, ports, log_paths)
  failed = []
  for index, worker in enumerate(workers):
    if worker.wait() != 0:
      failed.append(index)
      for other in workers:  # the others would wait for the failed one forever
        if other.poll() is None:
          other.kill()
  if failed:
    with open(log_paths[failed[0]]) as log:
      tail = log.read()[-3000:]
    if workers[failed[0]].returncode == worker_lib.DID_NOT_LEARN_EXIT:  # every worker saw the same metrics
      raise training.TrainingDidNotLearnError(tail.strip().splitlines()[-1])
    raise RuntimeError(f'training worker(s) {failed} failed; log {log_paths[failed[0]]} ends with:\n{tail}')
