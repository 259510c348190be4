"""The `visionflow` command. Thin: parses flags into the config and calls the runner or predictor."""
import argparse
import dataclasses
import json
import os
import sys
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


def _comma_separated(text: str) -> tuple:
  return tuple(part.strip() for part in text.split(',') if part.strip())


def _key_values(text: str) -> dict:
  """`learning_rate=0.001,dense_units=64` -> {'learning_rate': 0.001, 'dense_units': 64}."""
  pairs = [part.split('=', 1) for part in _comma_separated(text)]
  if any(len(pair) != 2 for pair in pairs):
    raise argparse.ArgumentTypeError(f'expected name=value[,name=value...], got {text!r}')
  return {name.strip(): yaml.safe_load(value) for name, value in pairs}


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


def _config_from_args(args: argparse.Namespace) -> config_lib.PipelineConfig:
  overrides = {name: getattr(args, name, None) for name in config_lib.field_names()}
  return config_lib.load_config(args.config, overrides)


def _run(args: argparse.Namespace) -> int:
  from components.example_gen.executor import RejectedRowsError
  from pipeline import local_runner
  try:
    summary = local_runner.run(_config_from_args(args))
  except RejectedRowsError as error:
    print(f'visionflow run: ExampleGen refused the data: {error}', file=sys.stderr)
    return 1
  print(f'Run {summary.run_id} finished. Full log: {summary.log_path}')
  print(summary.describe_data())
  print(summary.describe())
  return 0 if summary.pushed_model_dir else 1


def _compile(args: argparse.Namespace) -> int:
  from pipeline import kubeflow_runner
  from pipeline import local_runner
  from pipeline.pipeline import read_class_labels
  config = local_runner.resolve_data(_config_from_args(args))
  path = kubeflow_runner.compile_pipeline(config, read_class_labels(config), args.output)
  parameters = ', '.join(f'{name}={parameter.default}'
                         for name, parameter in kubeflow_runner.runtime_parameters(config).items())
  print(f'Wrote {path}: Kubeflow Pipelines v2 spec for image {config.image}, pipeline root '
        f'{config.pipeline_root}; runtime parameters {parameters}')
  return 0


def _predict(args: argparse.Namespace) -> int:
  from pipeline import predict
  config = _config_from_args(args)
  model_dir = predict.newest_model_version(config.serving_model_dir)
  predictor = predict.Predictor(model_dir)
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


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='visionflow', description='TFX image classification pipeline')
  commands = parser.add_subparsers(dest='command', required=True)

  run = commands.add_parser('run', help='run the whole pipeline locally (LocalDagRunner, SQLite metadata)')
  _add_config_flags(run)
  run.set_defaults(handler=_run)

  compile_command = commands.add_parser(
      'compile', help='write the Kubeflow Pipelines v2 pipeline spec (YAML) of the same DAG')
  _add_config_flags(compile_command)
  compile_command.add_argument('--output', required=True, help='the YAML file to write')
  compile_command.set_defaults(handler=_compile)

  predict = commands.add_parser('predict', help='classify images with the newest pushed model')
  predict.add_argument('--config')
  predict.add_argument('--output-dir', dest='output_dir', default=None)
  predict.add_argument('--model-name', dest='model_name', default=None)
  predict.add_argument('--batch-size', dest='batch_size', type=int, default=64)
  predict.add_argument('--json', action='store_true', help='print a JSON list instead of TSV lines')
  predict.add_argument('inputs', nargs='+', metavar='FILE_OR_FOLDER')
  predict.set_defaults(handler=_predict)
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  try:
    return args.handler(args)
  except (ValueError, FileNotFoundError) as error:
    print(f'visionflow {args.command}: error: {error}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
