"""`visionflow compile`, `submit` and `schedule`: the pipeline as a Kubeflow Pipelines v2 spec, and its runs and
recurring runs on a Kubeflow Pipelines server."""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from typing import List

import yaml

from pipeline import config as config_lib
from pipeline.commands import config_flags


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
  config_flags.add_config_flags(parser)
  _add_kubeflow_flags(parser)
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

  schedule = commands.add_parser('schedule', help='recurring runs for scheduled retraining')
  schedule.add_argument('action', choices=['create', 'list', 'pause', 'resume', 'delete'])
  schedule.add_argument('id', nargs='?', help='the recurring run id (pause, resume, delete)')
  _add_submission_flags(schedule)
  schedule.add_argument('--cron', help="KFP's 6-field cron, seconds first: '0 0 3 * * *' is 03:00 daily")
  schedule.add_argument('--name', help='the recurring run name')
  schedule.add_argument('--catchup', action='store_true', help='backfill runs missed while paused')
  schedule.set_defaults(handler=_schedule)
