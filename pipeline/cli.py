"""The `visionflow` command. Thin: parses flags into the config and calls the runner or predictor."""
import argparse
import contextlib
import dataclasses
import json
import os
import re
import shlex
import sys
import tempfile
import time
import warnings
from typing import List, Optional

import yaml

# TFX and TFMA need Keras 2 (tf_keras): this must be set before TensorFlow is first imported.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
# Google client libraries warn at import about future Python support; nothing a user can act on.
warnings.filterwarnings('ignore', category=FutureWarning, module=r'google\.')

from pipeline import config as config_lib  # noqa: E402  (after the environment above)

_NO_FLAG = {'beam_pipeline_args', 'pipeline_name'}
_ERRORS_SHOWN = 10  # batch-predict's failed rows printed; all of them are in its errors files
_EXPONENT_NUMBER = re.compile(r'^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$')


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
  if value < 1:
    raise argparse.ArgumentTypeError(f'must be 1 or more, got {value}')
  return value


def _comma_separated(text: str) -> tuple:
  return tuple(part.strip() for part in text.split(',') if part.strip())


def _scalar(text: str):
  """A flag's value as YAML reads it, except that `1e-3` is a number: YAML 1.1, which PyYAML follows, reads
  exponents without a dot as strings."""
  value = yaml.safe_load(text)
  return float(value) if isinstance(value, str) and _EXPONENT_NUMBER.match(value) else value


def _key_values(text: str) -> dict:
  """`learning_rate=1e-3,dense_units=64` -> {'learning_rate': 0.001, 'dense_units': 64}."""
  pairs = [part.split('=', 1) for part in _comma_separated(text)]
  if any(len(pair) != 2 for pair in pairs):
    raise argparse.ArgumentTypeError(f'expected name=value[,name=value...], got {text!r}')
  return {name.strip(): _scalar(value) for name, value in pairs}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
  """One flag per config key (`tuner_trials` -> `--tuner-trials`); booleans get `--x` and `--no-x`."""
  parser.add_argument('--config', help='YAML file of config keys (see pipeline/config.py); flags win')
  for field in dataclasses.fields(config_lib.PipelineConfig):
    if field.name in _NO_FLAG:
      continue
    flag = field.name.replace('_', '-')
    value_type = config_lib.field_type(field.name)
    if value_type is bool:
      parser.add_argument(f'--{flag}', dest=field.name, action='store_const', const=True, default=None,
                          help=f'default: {field.default}')
      parser.add_argument(f'--no-{flag}', dest=field.name, action='store_const', const=False, default=None)
      continue
    parse = {tuple: _comma_separated, dict: _key_values}.get(value_type, value_type)
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    parser.add_argument(f'--{flag}', dest=field.name, type=parse, default=None, help=f'default: {default}')
  parser.add_argument('--no-cache', dest='enable_cache', action='store_const', const=False,
                      help='re-run every component instead of reusing cached results')


def _config_from_args(args: argparse.Namespace, validate: bool = True) -> config_lib.PipelineConfig:
  overrides = {name: getattr(args, name, None) for name in config_lib.field_names()}
  return config_lib.load_config(args.config, overrides, validate=validate)


def _run(args: argparse.Namespace) -> int:
  config = _config_from_args(args)  # a config that cannot run fails here, before TFX is imported
  from components.example_gen.executor import RejectedRowsError
  from components.example_validator.component import DataDriftError
  from components.trainer.training import TrainingDidNotLearnError
  from pipeline.runners import local as local_runner
  try:
    summary = local_runner.run(config)
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
  config = _config_from_args(args)
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
    summary = local_runner.evaluate_production(config)
  except RejectedRowsError as error:
    print(f'visionflow evaluate: ExampleGen refused the data: {error}', file=sys.stderr)
    return 2
  store = runs_lib.open_store(os.path.join(os.path.abspath(config.output_dir), 'metadata.sqlite'), read_only=True)
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


def _kubeflow_config(args: argparse.Namespace) -> config_lib.PipelineConfig:
  """The config with data paths resolved and the image pinned to its digest when known; warns on stderr when
  Kubeflow pods could not share its root, or the image stays a tag."""
  from pipeline.runners import kubeflow as kubeflow_runner
  from pipeline.runners import local as local_runner
  config = local_runner.resolve_data(_config_from_args(args))
  image, image_warning = kubeflow_runner.pinned_image(config.image)
  config = config.replace(image=image)
  for warning in (kubeflow_runner.local_path_warning(config), image_warning):
    if warning:
      print(warning, file=sys.stderr)
  return config


def _compile_to(config: config_lib.PipelineConfig, output_file: str, evaluate_only: bool = False) -> str:
  from pipeline.runners import kubeflow as kubeflow_runner
  from pipeline.pipeline import read_class_labels
  return kubeflow_runner.compile_pipeline(config, read_class_labels(config), output_file, evaluate_only)


def _compile(args: argparse.Namespace) -> int:
  from pipeline.runners import kubeflow as kubeflow_runner
  config = _kubeflow_config(args)
  path = _compile_to(config, args.output, args.evaluate_only)
  if args.evaluate_only:
    print(f'Wrote {path}: Kubeflow Pipelines v2 spec of the continuous evaluation of the model in production '
          f'under {config.serving_model_dir}, for image {config.image}, pipeline root {config.pipeline_root}')
    return 0
  parameters = ', '.join(f'{name}={parameter.default}'
                         for name, parameter in kubeflow_runner.runtime_parameters(config).items())
  print(f'Wrote {path}: Kubeflow Pipelines v2 spec for image {config.image}, pipeline root '
        f'{config.pipeline_root}; runtime parameters {parameters}')
  return 0


def _kubeflow_parameters(config, pairs: List[str]) -> dict:
  """`--param name=value` pairs, checked against the compiled spec's runtime parameters."""
  from pipeline.runners import kubeflow as kubeflow_runner
  known = kubeflow_runner.runtime_parameters(config)
  parameters = {}
  for pair in pairs:
    name, separator, value = pair.partition('=')
    if separator and name == 'span':  # shorthand for the range_config that reads that one span
      name, value = 'range_config', json.dumps({'static_range': {'start_span_number': int(value),
                                                                 'end_span_number': int(value)}})
    if not separator or name not in known:
      raise ValueError(f'--param {pair!r}: expected name=value with name span or one of {sorted(known)}')
    parameters[name] = value if known[name].ptype is str else known[name].ptype(yaml.safe_load(value))
  return parameters


@contextlib.contextmanager
def _submission(args: argparse.Namespace):
  """(config, compiled spec path, parameters, client) for submit and schedule create; the spec is temporary."""
  config = _kubeflow_config(args)
  parameters = _kubeflow_parameters(config, args.param)
  with tempfile.TemporaryDirectory() as folder:
    yield config, _compile_to(config, os.path.join(folder, 'pipeline.yaml')), parameters, _connect(args)


def _connect(args: argparse.Namespace):
  from pipeline.runners import kubeflow_client
  return kubeflow_client.connect(kubeflow_client.Connection(
      host=args.host, namespace=args.namespace, token=args.token, token_file=args.token_file,
      in_cluster=args.in_cluster))


def _reporting_kubeflow_errors(handler):
  """Unreachable or refusing Kubeflow: one line on stderr, exit code 2, no traceback."""
  def wrapped(args: argparse.Namespace) -> int:
    from pipeline.runners import kubeflow_client
    try:
      return handler(args)
    except kubeflow_client.KubeflowError as error:
      print(f'visionflow {args.command}: {error}', file=sys.stderr)
      return 2
  return wrapped


@_reporting_kubeflow_errors
def _submit(args: argparse.Namespace) -> int:
  from pipeline.runners import kubeflow_client
  with _submission(args) as (config, package, parameters, client):
    run = kubeflow_client.submit(
        client, args.host, package, config.pipeline_name, args.experiment,
        args.run_name or f'{config.pipeline_name} {time.strftime("%Y-%m-%d %H:%M:%S")}', parameters,
        config.pipeline_root, namespace=args.namespace, service_account=args.service_account)
  print(f'Submitted run {run.run_id}: {kubeflow_client.run_url(args.host, run.run_id)}')
  if not args.wait:
    return 0
  state = kubeflow_client.follow(client, args.host, run.run_id, args.poll_seconds, args.timeout,
                                 report=lambda state: print(f'run {run.run_id}: {state}', flush=True))
  return 0 if state == 'SUCCEEDED' else 1


@_reporting_kubeflow_errors
def _schedule(args: argparse.Namespace) -> int:
  from pipeline.runners import kubeflow_client
  if args.action == 'create':
    if not args.cron:
      raise ValueError('schedule create needs --cron')
    kubeflow_client.check_cron(args.cron)
    with _submission(args) as (config, package, parameters, client):
      recurring_run = kubeflow_client.create_schedule(
          client, args.host, package, config.pipeline_name, args.experiment,
          args.name or f'{config.pipeline_name} retraining', args.cron, parameters, config.pipeline_root,
          namespace=args.namespace, catchup=args.catchup, service_account=args.service_account)
    print(f'Created recurring run {recurring_run.recurring_run_id} ({args.cron}, one run at a time, '
          f'{"with" if args.catchup else "no"} catch-up)')
    return 0
  if args.action != 'list' and not args.id:  # said before Kubeflow is reached, whether it is reachable or not
    raise ValueError(f'schedule {args.action} needs the recurring run id (see `visionflow schedule list`)')
  client = _connect(args)
  if args.action == 'list':
    for recurring_run in kubeflow_client.list_schedules(client, args.host, args.namespace):
      cron = recurring_run.trigger.cron_schedule.cron if recurring_run.trigger.cron_schedule else ''
      print(f'{recurring_run.recurring_run_id}\t{recurring_run.status}\t{cron}\t{recurring_run.display_name}')
    return 0
  kubeflow_client.set_schedule(client, args.host, args.id, args.action)
  print(f'{args.action}: recurring run {args.id} done')
  return 0


def _add_kubeflow_flags(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--host', required=True, help='Kubeflow Pipelines API, e.g. http://localhost:8080')
  parser.add_argument('--namespace', help='your profile namespace on multi-user Kubeflow')
  parser.add_argument('--token', help='bearer token (default: $KF_PIPELINES_TOKEN)')
  parser.add_argument('--token-file', dest='token_file', help='file holding a bearer token')
  parser.add_argument('--in-cluster', dest='in_cluster', action='store_true',
                      help="authenticate as this pod's pipeline service account (projected token)")


def _add_submission_flags(parser: argparse.ArgumentParser) -> None:
  _add_config_flags(parser)
  _add_kubeflow_flags(parser)
  parser.add_argument('--experiment', default='visionflow')
  parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                      help='a runtime parameter of the compiled spec; repeatable')
  parser.add_argument('--service-account', dest='service_account', help='Kubernetes service account of the run')


def _store(args: argparse.Namespace):
  """(the metadata store, read-only; whether a run id names an abandoned run)."""
  from pipeline.inspect import runs as runs_lib
  from pipeline import run_process
  config = _config_from_args(args, validate=False)
  return (runs_lib.open_store(config.metadata_path, read_only=True),
          lambda run_id: run_process.is_abandoned(config.log_dir, run_id))


def _runs(args: argparse.Namespace) -> int:
  from pipeline.inspect import runs as runs_lib
  store, is_abandoned = _store(args)
  runs, _ = runs_lib.list_runs(store, state=args.state.upper() if args.state else None, limit=args.limit,
                               is_abandoned=is_abandoned)
  print('run id\tstarted\tduration\tstate\tblessed\tpushed\taccuracy')
  for run in runs:
    outcome = run.outcome
    blessed = '-' if outcome.blessed is None else ('yes' if outcome.blessed else 'no')
    accuracy = '-' if outcome.accuracy is None else f'{outcome.accuracy:.4f}'
    print(f'{run.run_id}\t{runs_lib.format_time(run.started_ms)}\t{run.duration_s:.0f}s\t{run.state_text}\t'
          f'{blessed}\t{outcome.pushed_version or "-"}\t{accuracy}')
  return 0


def _show(args: argparse.Namespace) -> int:
  from pipeline.inspect import runs as runs_lib
  store, is_abandoned = _store(args)
  nodes = runs_lib.run_nodes(store, args.run, abandoned=is_abandoned(args.run))
  if args.json:
    print(json.dumps([dict(dataclasses.asdict(node), duration_s=node.duration_s) for node in nodes], indent=2))
    return 0
  for node in nodes:
    reused = f' (reused from run {node.reused_from})' if node.reused_from else ''
    print(f'{node.node_id}: {node.state}{reused}, {node.duration_s:.1f}s')
    for artifact in node.outputs:
      print(f'  {artifact.key} ({artifact.type}): {artifact.uri}')
      for name, value in artifact.properties.items():
        if name not in runs_lib.BOILERPLATE_PROPERTIES:
          print(f'    {name}: {value}')
  return 0


def _ui(args: argparse.Namespace) -> int:
  from pipeline.inspect import runs as runs_lib
  from pipeline.inspect import ui
  config = _config_from_args(args, validate=False)
  runs_lib.check_store(config.metadata_path)
  sources = ui.Sources(config.metadata_path, config.log_dir, config.serving_model_dir)
  server = ui.make_server(sources, args.host, args.port)
  host, port = server.server_address[:2]
  print(f'visionflow UI on http://{host}:{port}/ (read-only; Ctrl+C stops it)', flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
  return 0


def _predict(args: argparse.Namespace) -> int:
  from components import images
  from pipeline import predict
  # Only the serving folder and the image limits matter here: the pipeline's settings are not checked, so
  # the start stays close to importing TensorFlow (benchmarks/cold_start_benchmark.py).
  config = _config_from_args(args, validate=False)
  model_dir = predict.newest_model_version(config.serving_model_dir)
  predictor = predict.Predictor(model_dir, images.ImageLimits(
      max_pixels=config.max_image_pixels, max_bytes=config.max_image_bytes,
      max_aspect_ratio=config.max_aspect_ratio))
  results = list(predictor.predict_files(predict.expand_inputs(args.inputs), batch_size=args.batch_size))
  if args.json:
    print(json.dumps([dataclasses.asdict(result) for result in results], indent=2))
  else:
    for result in results:
      if result.error:
        print(f'{result.path}\tERROR\t{result.error}')
      else:
        print(f'{result.path}\t{result.class_name}\t{result.probability:.4f}')
  print(f'model: {model_dir}', file=sys.stderr)
  return 1 if any(result.error for result in results) else 0


def _explain(args: argparse.Namespace) -> int:
  """One line per image: its path, the predicted class and probability, and the overlay written (or why not)."""
  from components import images
  from pipeline import explain
  from pipeline import predict
  config = _config_from_args(args, validate=False)
  model_dir = predict.newest_model_version(config.serving_model_dir)
  limits = images.ImageLimits(max_pixels=config.max_image_pixels, max_bytes=config.max_image_bytes,
                              max_aspect_ratio=config.max_aspect_ratio)
  failed = False
  for result in explain.explain_files(model_dir, predict.expand_inputs(args.inputs), args.output, limits):
    if result.error:
      failed = True
      print(f'{result.path}\tERROR\t{result.error}', flush=True)
    else:
      explained = result.explanation
      print(f'{result.path}\t{explained.predicted_label}\t{explained.probability:.4f}\t{explained.png_path}',
            flush=True)
  print(f'model: {model_dir}', file=sys.stderr)
  return 1 if failed else 0


def _batch_predict(args: argparse.Namespace) -> int:
  """The newest pushed model over many images on Apache Beam; exit 1 when some rows could not be scored."""
  import logging
  import apache_beam as beam
  from apache_beam.options.pipeline_options import PipelineOptions
  from components.batch_inference import scoring
  from components import pixel_model
  from components import images
  from pipeline import predict
  # Beam warns that python-snappy would checksum TFRecords faster; nothing a user of the command can act on.
  logging.getLogger('apache_beam.io.tfrecordio').setLevel(logging.ERROR)
  config = _config_from_args(args, validate=False)
  model_dir = predict.newest_model_version(config.serving_model_dir)
  pixel_model.training_record(model_dir)  # a model from elsewhere: one line, before Beam starts
  scoring.check_sources(args.input)
  scoring.check_output_dir(args.output)
  beam_args = (shlex.split(args.beam_pipeline_args) if args.beam_pipeline_args is not None
               else list(config.beam_pipeline_args))
  settings = scoring.ScoringSettings(
      model_dir, args.output, images.ImageLimits(max_pixels=config.max_image_pixels,
                                                 max_bytes=config.max_image_bytes,
                                                 max_aspect_ratio=config.max_aspect_ratio, image_size=None),
      top_k=args.top_k, batch_size=args.batch_size)
  with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
    scoring.score(pipeline, args.input, settings)
  summary = scoring.Summary.read(args.output)
  errors = scoring.read_errors(args.output)
  for source, row, path, reason in errors[:_ERRORS_SHOWN]:
    print(f'{source}: row {row}: {path or "(no path)"}: {reason}', file=sys.stderr)
  if len(errors) > _ERRORS_SHOWN:
    print(f'... and {len(errors) - _ERRORS_SHOWN:,} more rows in the errors files', file=sys.stderr)
  print(summary.describe())
  print(f'Predictions: {os.path.join(args.output, scoring.PREDICTIONS_PREFIX)}-*.csv and -*.tfrecord.gz; '
        f'errors: {os.path.join(args.output, scoring.ERRORS_PREFIX)}-*.csv')
  return 1 if summary.errors else 0


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
  """Where the commands that use a pushed model find it: the newest version under the serving folder."""
  parser.add_argument('--config')
  parser.add_argument('--output-dir', dest='output_dir', default=None,
                      help="the pipeline's output folder, whose serving/ holds the model")
  parser.add_argument('--serving-dir', dest='serving_dir', default=None,
                      help='the serving folder itself, when it is not under --output-dir (e.g. gs://...)')
  parser.add_argument('--model-name', dest='model_name', default=None)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='visionflow', description='TFX image classification pipeline')
  commands = parser.add_subparsers(dest='command', required=True)

  run = commands.add_parser('run', help='run the whole pipeline locally (LocalDagRunner, SQLite metadata)')
  _add_config_flags(run)
  run.set_defaults(handler=_run)

  evaluate = commands.add_parser(
      'evaluate', help='evaluate the model in production on newly labelled images; exit 1 on an alert')
  _add_config_flags(evaluate)
  evaluate.set_defaults(handler=_evaluate)

  compile_command = commands.add_parser(
      'compile', help='write the Kubeflow Pipelines v2 pipeline spec (YAML) of the same DAG')
  _add_config_flags(compile_command)
  compile_command.add_argument('--output', required=True, help='the YAML file to write')
  compile_command.add_argument('--evaluate-only', dest='evaluate_only', action='store_true',
                               help="the continuous evaluation instead: `visionflow evaluate`'s pipeline")
  compile_command.set_defaults(handler=_compile)

  submit = commands.add_parser('submit', help='compile, upload and start a run on Kubeflow Pipelines')
  _add_submission_flags(submit)
  submit.add_argument('--run-name', dest='run_name')
  submit.add_argument('--wait', action='store_true', help="follow the run to its end; exit 0 only if it succeeded")
  submit.add_argument('--poll-seconds', dest='poll_seconds', type=float, default=15.0)
  submit.add_argument('--timeout', type=float, default=24 * 3600.0, help='seconds --wait follows the run')
  submit.set_defaults(handler=_submit)

  schedule = commands.add_parser('schedule', help='recurring runs for scheduled retraining')
  schedule.add_argument('action', choices=['create', 'list', 'pause', 'resume', 'delete'])
  schedule.add_argument('id', nargs='?', help='the recurring run id (pause, resume, delete)')
  _add_submission_flags(schedule)
  schedule.add_argument('--cron', help="KFP's 6-field cron, seconds first: '0 0 3 * * *' is 03:00 daily")
  schedule.add_argument('--name', help='the recurring run name')
  schedule.add_argument('--catchup', action='store_true', help='backfill runs missed while paused')
  schedule.set_defaults(handler=_schedule)

  runs = commands.add_parser('runs', help='the pipeline runs in the metadata store, newest first')
  runs.add_argument('--config')
  runs.add_argument('--output-dir', dest='output_dir', default=None)
  runs.add_argument('--state', choices=['complete', 'failed', 'running', 'abandoned'],
                    help='only runs in this state')
  runs.add_argument('--limit', type=int, default=50)
  runs.set_defaults(handler=_runs)

  show = commands.add_parser('show', help="one run: each component's state, duration and outputs")
  show.add_argument('run', help='a run id from `visionflow runs`')
  show.add_argument('--config')
  show.add_argument('--output-dir', dest='output_dir', default=None)
  show.add_argument('--json', action='store_true')
  show.set_defaults(handler=_show)

  ui = commands.add_parser('ui', help='a read-only web UI over the runs: DAG, data, training, evaluation, models')
  ui.add_argument('--config')
  ui.add_argument('--output-dir', dest='output_dir', default=None)
  ui.add_argument('--host', default='127.0.0.1', help='the address to listen on; loopback by default')
  ui.add_argument('--port', type=int, default=8080, help='0 picks a free port')
  ui.set_defaults(handler=_ui)

  predict = commands.add_parser('predict', help='classify images with the newest pushed model')
  _add_model_flags(predict)
  predict.add_argument('--batch-size', dest='batch_size', type=_positive_int, default=64)
  predict.add_argument('--json', action='store_true', help='print a JSON list instead of TSV lines')
  predict.add_argument('inputs', nargs='+', metavar='FILE_OR_FOLDER')
  predict.set_defaults(handler=_predict)

  batch_predict = commands.add_parser(
      'batch-predict', help='classify many images with the newest pushed model on Apache Beam (RunInference)')
  _add_model_flags(batch_predict)
  batch_predict.add_argument('--input', action='append', required=True, metavar='CSV_OR_FOLDER_OR_PATTERN',
                             help='a CSV (path[,label] rows, paths relative to it), a folder of images or a glob '
                                  'pattern; repeatable')
  batch_predict.add_argument('--output', required=True, help='a new folder for predictions, errors and summary.json')
  batch_predict.add_argument('--top-k', dest='top_k', type=_positive_int, default=3)
  batch_predict.add_argument('--batch-size', dest='batch_size', type=_positive_int, default=64)
  batch_predict.add_argument('--beam-pipeline-args', dest='beam_pipeline_args', default=None,
                             help="Beam's options in one string, e.g. '--runner=DataflowRunner --project=P "
                                  "--region=R --temp_location=gs://B/tmp'; default: the config's (DirectRunner)")
  batch_predict.set_defaults(handler=_batch_predict)

  explain = commands.add_parser(
      'explain', help='integrated-gradients heatmaps of images by the newest pushed model, as PNG overlays')
  _add_model_flags(explain)
  explain.add_argument('--output', default='explanations',
                       help='the folder the overlays are written to, one <image name>_explained.png per image '
                            '(default: explanations/ in the current folder)')
  explain.add_argument('inputs', nargs='+', metavar='FILE_OR_FOLDER')
  explain.set_defaults(handler=_explain)
  return parser


def _foreseen_errors() -> tuple:
  """The errors that are a user's mistake or the machine's state. Evaluated when an error reaches main(), so that
  TensorFlow's and TFX's are named only when a command loaded them (`runs` and `show` start without either).
  A step's refusal (components.compat.RecordedFailure) states its reason; TensorFlow's file errors (a gs:// path
  that is missing or unreadable, a scheme it does not know) are no OSErrors."""
  foreseen = (ValueError, OSError)
  compat = sys.modules.get('components.compat')
  if compat is not None:
    foreseen += (compat.RecordedFailure,)
  tensorflow_errors = sys.modules.get('tensorflow.python.framework.errors_impl')
  if tensorflow_errors is not None:
    foreseen += (tensorflow_errors.OpError,)
  return foreseen


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  try:
    return args.handler(args)
  except _foreseen_errors() as error:  # one line, no traceback
    reason = '; '.join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    print(f'visionflow {args.command}: error: {reason}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
