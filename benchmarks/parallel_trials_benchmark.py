"""Whether the Tuner's trials pay to run in parallel processes on this machine.

KerasTuner can run trials in several processes (a chief oracle and workers). On a machine of few cores the
question is whether two processes, each training one trial, finish sooner than one process training the two
in turn. Measured side by side, each in fresh processes, on Transform's output of the embedded digits:
  - in turn: one process imports TensorFlow and fits two trials, one after the other;
  - in parallel: two processes start together, each importing TensorFlow and fitting one trial.
A trial is what the Tuner's first trial does: the default small CNN, the recipe's callbacks, at most
`tuner_epochs` epochs (components/trainer/tuner_fn.py). Prints the medians of the wall times and their ratio.

Usage: .venv/bin/python benchmarks/parallel_trials_benchmark.py [--repeats 3] [--work-dir DIR]
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)


def digits_config(work_dir: str):
  """The default config over the embedded digits (written under work_dir once)."""
  from pipeline import config as config_lib
  from pipeline import sample_data

  csv_path, labels_path = sample_data.materialize_digits(os.path.join(work_dir, 'digits'))
  return config_lib.load_config(overrides={'output_dir': os.path.join(work_dir, 'out'), 'data_csv': csv_path,
                                           'labels_file': labels_path})


def transform_outputs(work_dir: str) -> None:
  """The data half of the DAG (ExampleGen to Transform) over the embedded digits."""
  from tfx.orchestration import pipeline as tfx_pipeline
  from tfx.orchestration.local.local_dag_runner import LocalDagRunner

  from pipeline import pipeline as pipeline_lib
  from pipeline.inspect import runs as runs_lib

  config = digits_config(work_dir)
  if not glob.glob(os.path.join(config.pipeline_root, 'Transform', 'transform_graph', '*')):
    os.makedirs(config.output_dir, exist_ok=True)
    LocalDagRunner().run(tfx_pipeline.Pipeline(
        pipeline_name='trials', pipeline_root=config.pipeline_root,
        components=pipeline_lib.create_data_components(config, pipeline_lib.read_class_labels(config)),
        metadata_connection_config=runs_lib.sqlite_connection_config(config.metadata_path)))


def fit_trials(work_dir: str, trials: int) -> None:
  """Fits `trials` default trials in turn, as the Tuner would (one process, TensorFlow imported once)."""
  import math

  import tensorflow_transform as tft

  from components import compat
  from components import model_choice
  from components.trainer import model as model_lib
  from components.trainer import training
  from pipeline import pipeline as pipeline_lib

  compat.skip_autograph_for_tf_keras()
  config = digits_config(work_dir)
  [graph] = glob.glob(os.path.join(config.pipeline_root, 'Transform', 'transform_graph', '*'))
  [examples] = glob.glob(os.path.join(config.pipeline_root, 'Transform', 'transformed_examples', '*'))
  labels = tuple(pipeline_lib.read_class_labels(config))
  settings = pipeline_lib.training_settings(config, labels).tuning().with_choice(model_choice.read(graph))
  spec = tft.TFTransformOutput(graph).transformed_feature_spec()
  train_files, eval_files = [os.path.join(examples, 'Split-train', '*')], [os.path.join(examples, 'Split-eval', '*')]
  steps = max(1, math.ceil(training.count_records(train_files) / settings.batch_size))
  for _ in range(trials):
    model = model_lib.build_model(model_lib.hyperparameter_space(settings.backbone), settings)
    model.fit(training.make_dataset(train_files, spec, settings.batch_size, training=True),
              validation_data=training.make_dataset(eval_files, spec, settings.batch_size, training=False),
              steps_per_epoch=steps, epochs=settings.tuner_epochs, verbose=0,
              callbacks=training.recipe_callbacks(len(labels), settings.patience))


def timed(commands) -> float:
  """Starts every command at once and waits for all; the wall time."""
  environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  start = time.perf_counter()
  processes = [subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for command in commands]
  for process in processes:
    _, errors = process.communicate(timeout=1800)
    if process.returncode:
      raise RuntimeError(f'a trial process exited {process.returncode}: {errors[-2000:]}')
  return time.perf_counter() - start


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--work-dir', default=None)
  parser.add_argument('--fit', nargs=2, metavar=('WORK_DIR', 'TRIALS'), help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.fit:
    fit_trials(args.fit[0], int(args.fit[1]))
    return
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='visionflow_trials_')
  transform_outputs(work_dir)
  fit = [sys.executable, os.path.abspath(__file__), '--fit', work_dir]
  in_turn, parallel = [], []
  for repeat in range(args.repeats):
    in_turn.append(timed([fit + ['2']]))
    parallel.append(timed([fit + ['1'], fit + ['1']]))
    print(f'repeat {repeat + 1}: two trials in turn {in_turn[-1]:.1f} s, in two parallel processes '
          f'{parallel[-1]:.1f} s', flush=True)
  print(f'medians of {args.repeats}: in turn {statistics.median(in_turn):.1f} s, parallel '
        f'{statistics.median(parallel):.1f} s: parallel takes '
        f'{statistics.median(parallel) / statistics.median(in_turn):.2f}x '
        f'the time on {os.cpu_count()} cores')


if __name__ == '__main__':
  main()
