"""`visionflow compile`, `submit` and `schedule`: the pipeline as a Kubeflow Pipelines v2 spec, and its runs and
recurring runs on a Kubeflow Pipelines server; `schedule --local` goes to pipeline/commands/local_schedules.py."""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from typing import List

import yaml

from components import names
from pipeline import config as config_lib
from pipeline.commands import config_flags
from pipeline.commands import local_schedules


def _kubeflow_config(args: argparse.Namespace) -> config_lib.PipelineConfig:
  """The config with data paths resolved and the image pinned to its digest when known; warns on stderr when
  Kubeflow pods could not share its root, or the image stays a tag."""
  from pipeline.runners import kubeflow as kubeflow_runner
  from pipeline.runners import local as local_runner
  config = local_runner.resolve_data(config_flags.config_from_args(args))
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
  """(config, compiled spec path, parameters, client, pipeline name) for submit and schedule create; the spec is
  temporary. With --evaluate-only it is the continuous evaluation's, uploaded as its own pipeline."""
  config = _kubeflow_config(args)
  if args.evaluate_only:
    if args.param:
      raise ValueError(f'--param {args.param[0]!r}: the continuous evaluation (--evaluate-only) takes no runtime '
                       f'parameters; it reads the newest span of --data-csv')
    parameters, pipeline_name = {}, config.pipeline_name + names.MONITORING_PIPELINE_SUFFIX
  else:
    parameters, pipeline_name = _kubeflow_parameters(config, args.param), config.pipeline_name
  with tempfile.TemporaryDirectory() as folder:
    package = _compile_to(config, os.path.join(folder, 'pipeline.yaml'), args.evaluate_only)
    yield config, package, parameters, _connect(args), pipeline_name


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
  with _submission(args) as (config, package, parameters, client, pipeline_name):
    run = kubeflow_client.submit(
        client, args.host, package, pipeline_name, args.experiment,
        args.run_name or f'{pipeline_name} {time.strftime("%Y-%m-%d %H:%M:%S")}', parameters,
        config.pipeline_root, namespace=args.namespace, service_account=args.service_account)
  print(f'Submitted run {run.run_id}: {kubeflow_client.run_url(args.host, run.run_id)}')
  if not args.wait:
    return 0
  state = kubeflow_client.follow(client, args.host, run.run_id, args.poll_seconds, args.timeout,
                                 report=lambda state: print(f'run {run.run_id}: {state}', flush=True))
  return 0 if state == 'SUCCEEDED' else 1


@_reporting_kubeflow_errors
def _schedule(args: argparse.Namespace) -> int:
  if args.local is not None:
    return local_schedules.handle(args)
  from pipeline.runners import kubeflow_client
  if not args.host:
    raise ValueError(f'schedule {args.action} needs --host (a Kubeflow Pipelines API), or --local for the '
                     f'schedules that `visionflow scheduler` fires on this machine')
  local_only = [flag for flag, given in (('--on-new-span', args.on_new_span is not None),  # '' watches --data-csv
                                         ('--on-alert', args.on_alert), ('--evaluate-csv', args.evaluate_csv)) if given]
  if local_only:
    raise ValueError(f'{local_only[0]} is a trigger of local schedules (--local); on Kubeflow a recurring run '
                     f'fires on --cron or --every (see the README\'s table of triggers)')
  if args.action == 'run-now':
    raise ValueError('schedule run-now is for local schedules (--local); on Kubeflow use `visionflow submit`')
  if args.action == 'create':
    trigger = _recurring_trigger(args)
    with _submission(args) as (config, package, parameters, client, pipeline_name):
      job = 'evaluation' if args.evaluate_only else 'retraining'
      recurring_run = kubeflow_client.create_schedule(
          client, args.host, package, pipeline_name, args.experiment,
          args.name or f'{config.pipeline_name} {job}', trigger, parameters, config.pipeline_root,
          namespace=args.namespace, catchup=args.catchup, service_account=args.service_account)
    print(f'Created recurring run {recurring_run.recurring_run_id} ({job}, {trigger.describe()}, one run at a '
          f'time, {"with" if args.catchup else "no"} catch-up)')
    return 0
  if args.action != 'list' and not args.id:  # said before Kubeflow is reached, whether it is reachable or not
    raise ValueError(f'schedule {args.action} needs the recurring run id (see `visionflow schedule list`)')
  client = _connect(args)
  if args.action == 'list':
    for recurring_run in kubeflow_client.list_schedules(client, args.host, args.namespace):
      print(f'{recurring_run.recurring_run_id}\t{recurring_run.status}\t'
            f'{kubeflow_client.describe_trigger(recurring_run)}\t{recurring_run.display_name}')
    return 0
  kubeflow_client.set_schedule(client, args.host, args.id, args.action)
  print(f'{args.action}: recurring run {args.id} done')
  return 0


def _recurring_trigger(args: argparse.Namespace):
  """--cron or --every, and --start and --end, as KFP takes them: an interval in whole seconds, times in UTC."""
  from pipeline.runners import kubeflow_client
  from pipeline.scheduling import schedules as schedules_lib
  interval_s = None
  if args.every:
    interval_s = schedules_lib.parse_every(args.every)
    if interval_s != int(interval_s):
      raise ValueError(f'--every {args.every!r}: Kubeflow takes whole seconds')
  start = schedules_lib.parse_time(args.start) if args.start else None
  end = schedules_lib.parse_time(args.end) if args.end else None
  schedules_lib.check_window(start, end)
  return kubeflow_client.RecurringTrigger(
      cron=args.cron, interval_s=None if interval_s is None else int(interval_s), start=start, end=end)


def _add_kubeflow_flags(parser: argparse.ArgumentParser, host_required: bool = True) -> None:
  parser.add_argument('--host', required=host_required, help='Kubeflow Pipelines API, e.g. http://localhost:8080')
  parser.add_argument('--namespace', help='your profile namespace on multi-user Kubeflow')
  parser.add_argument('--token', help='bearer token (default: $KF_PIPELINES_TOKEN)')
  parser.add_argument('--token-file', dest='token_file', help='file holding a bearer token')
  parser.add_argument('--in-cluster', dest='in_cluster', action='store_true',
                      help="authenticate as this pod's pipeline service account (projected token)")


def _add_submission_flags(parser: argparse.ArgumentParser, host_required: bool = True) -> None:
  config_flags.add_config_flags(parser)
  _add_kubeflow_flags(parser, host_required)
  parser.add_argument('--evaluate-only', dest='evaluate_only', action='store_true',
                      help="the continuous evaluation of the model in production (`visionflow evaluate`'s "
                           "pipeline) on the newest span of --data-csv, instead of the training pipeline")
  parser.add_argument('--experiment', default='visionflow')
  parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                      help='a runtime parameter of the compiled spec; repeatable')
  parser.add_argument('--service-account', dest='service_account', help='Kubernetes service account of the run')


def add_parsers(commands: argparse._SubParsersAction) -> None:
  compile_command = commands.add_parser(
      'compile', help='write the Kubeflow Pipelines v2 pipeline spec (YAML) of the same DAG')
  config_flags.add_config_flags(compile_command)
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

  schedule = commands.add_parser(
      'schedule', help='scheduled retraining and evaluation: Kubeflow recurring runs, or local schedules (--local)')
  schedule.add_argument('action', choices=['create', 'list', 'pause', 'resume', 'delete', 'run-now'])
  schedule.add_argument('id', nargs='?', help='the recurring run id (Kubeflow), or the schedule name (--local)')
  _add_submission_flags(schedule, host_required=False)
  schedule.add_argument('--cron', help="cron: Kubeflow's 6 fields, seconds first ('0 0 3 * * *' is 03:00 daily); "
                                       "--local also takes the standard 5 ('0 3 * * *')")
  schedule.add_argument('--name', help='the recurring run name (Kubeflow)')
  schedule.add_argument('--catchup', action='store_true',
                        help='run each slot missed (scheduler down, paused, a run still going), in order; without '
                             'it the missed slots run once')
  local_schedules.add_flags(schedule)
  schedule.set_defaults(handler=_schedule)
  local_schedules.add_parsers(commands)
