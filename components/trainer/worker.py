"""A training process: `python -m components.trainer.worker TRAINING_JOB_JSON [STRATEGY]`.

As a worker of a multi-worker cluster (the default strategy, multi_worker), TF_CONFIG names the cluster and
this worker's place in it; worker 0 is the chief and exports the model.
"""
import os
import sys

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

from absl import logging  # noqa: E402

from components.trainer import training  # noqa: E402


def main(argv) -> int:
  if len(argv) not in (2, 3):
    print(__doc__, file=sys.stderr)
    return 2
  logging.set_verbosity(logging.INFO)
  training.train_and_export(training.TrainingJob.load(argv[1]), argv[2] if len(argv) == 3 else 'multi_worker')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
