"""`visionflow run` and `evaluate`: the training pipeline, and the evaluation of the model in production, run
locally."""
import argparse
import sys

from pipeline.commands import config_flags


def _run(args: argparse.Namespace) -> int:
  config = config_flags.config_from_args(args)  # a config that cannot run fails here, before TFX is imported
  from components.example_gen.executor import RejectedRowsError
  from components.example_validator.component import DataDriftError
  from components.trainer.training import TrainingDidNotLearnError
  from pipeline.runners import local as local_runner
  try:
    summary = local_runner.run(config, verbose=args.verbose)
  except RejectedRowsError as error:
    print(f'visionflow run: ExampleGen refused the data: {error}', file=sys.stderr)
    return 2
  except DataDriftError as error:
    print(f'visionflow run: ExampleValidator refused the data: {error}', file=sys.stderr)
    return 2
  except TrainingDidNotLearnError as error:
    print(f'visionflow run: Trainer exported no model: {error}', file=sys.stderr)
    return 2
  print(f'Run {summary.run_id} finished. Full log: {summary.log_path}')
  print(summary.describe_data())
  print(summary.describe())
  return 0 if summary.pushed_model_dir else 1


def _evaluate(args: argparse.Namespace) -> int:
  """The model in production on newly labelled data; exit 1 when an alert fires, so a scheduler can act."""
  config = config_flags.config_from_args(args)
  if not config.data_csv and not config.image_folder:
    print('visionflow evaluate: give the newly labelled images: --data-csv and --labels-file, or --image-folder',
          file=sys.stderr)
    return 2
  from components import names
  from components.example_gen.executor import RejectedRowsError
  from components.monitor import component as monitor_lib
  from pipeline.inspect import runs as runs_lib
  from pipeline.pipeline import read_class_labels
  from pipeline.runners import local as local_runner
  # No model, or images of a class it does not know: one line before ExampleGen reads a row. The monitor checks
  # again, for a push in between and for Kubeflow.
  local_runner.check_inputs(config)
  data_source = (f'--labels-file {config.labels_file}' if config.labels_file
                 else f'--image-folder {config.image_folder}')
  monitor_lib.production_to_measure(config.serving_model_dir, read_class_labels(config), data_source)
  try:
    summary = local_runner.evaluate_production(config, verbose=args.verbose)
  except RejectedRowsError as error:
    print(f'visionflow evaluate: ExampleGen refused the data: {error}', file=sys.stderr)
    return 2
  store = runs_lib.open_store(config.metadata_path, read_only=True)
  evaluation = runs_lib.outputs_by_key(runs_lib.run_nodes(store, summary.run_id))[names.EVALUATION].properties
  print(f'Run {summary.run_id} finished. Full log: {summary.log_path}')
  print(summary.describe_data())
  if evaluation.get(monitor_lib.DAMAGED_HISTORY):
    print(f'Warning: {evaluation[monitor_lib.DAMAGED_HISTORY]}', file=sys.stderr)
  print(f'Model in production {evaluation[names.MONITORED_MODEL]}: accuracy {evaluation[names.ACCURACY]:.4f} '
        f'on the new images, measured at {evaluation[names.MONITORED_AT]}')
  alerts = evaluation.get(names.ALERTS) or []
  print('Alerts:' if alerts else 'No alert.')
  for alert in alerts:
    print(f'  - {alert}')
  return 1 if alerts else 0


def _add_verbose_flag(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--verbose', action='store_true',
                      help="show everything the run's log file gets on the console too (the libraries' logs, "
                           'print()s and warnings), not only the progress lines')


def add_parsers(commands: argparse._SubParsersAction) -> None:
  run = commands.add_parser('run', help='run the whole pipeline locally (LocalDagRunner, SQLite metadata)')
  config_flags.add_config_flags(run)
  _add_verbose_flag(run)
  run.set_defaults(handler=_run)

  evaluate = commands.add_parser(
      'evaluate', help='evaluate the model in production on newly labelled images; exit 1 on an alert')
  config_flags.add_config_flags(evaluate)
  _add_verbose_flag(evaluate)
  evaluate.set_defaults(handler=_evaluate)
