"""A training process: `python -m components.trainer.worker TRAINING_JOB_JSON [STRATEGY]`.

As a worker of a multi-worker cluster (the default strategy, multi_worker), TF_CONFIG names the cluster and
this worker's place in it; worker 0 is the chief and exports the model. A model that did not learn ends
the process with DID_NOT_LEARN_EXIT and the reason as the last line of its output, for run_fn to raise again.
"""
import os
import sys

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

from absl import logging

from components.trainer import training

DID_NOT_LEARN_EXIT = 3


def main(argv) -> int:
  if len(argv) not in (2, 3):
    print(__doc__, file=sys.stderr)
    return 2
  logging.set_verbosity(logging.INFO)
  try:
    training.train_and_export(training.TrainingJob.load(argv[1]), argv[2] if len(argv) == 3 else 'multi_worker')
  except training.TrainingDidNotLearnError as error:
    print(error, file=sys.stderr)
    return DID_NOT_LEARN_EXIT
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
