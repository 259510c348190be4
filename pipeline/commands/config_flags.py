"""The flags of the commands that take the pipeline's config: one per config key, read back into the config."""
import argparse
import dataclasses
import re
from typing import List

import yaml

from pipeline import config as config_lib

_NO_FLAG = {'beam_pipeline_args', 'pipeline_name'}
_EXPONENT_NUMBER = re.compile(r'^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$')


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


def add_config_flags(parser: argparse.ArgumentParser) -> None:
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


def flags_for(name: str, value) -> List[str]:
  """The flags that give a config key this value, as add_config_flags defines them: what a scheduled run is
  started with (pipeline/scheduling/scheduler.py)."""
  flag = f'--{name.replace("_", "-")}'
  if isinstance(value, bool):
    return [flag] if value else [f'--no-{name.replace("_", "-")}']
  if isinstance(value, (list, tuple)):
    return [flag, ','.join(str(item) for item in value)]
  if isinstance(value, dict):
    return [flag, ','.join(f'{key}={item}' for key, item in value.items())]
  return [flag, str(value)]


def config_from_args(args: argparse.Namespace, validate: bool = True) -> config_lib.PipelineConfig:
  """The config file (--config), then the flags given; commands without a flag for a key leave it as it is."""
  overrides = {name: getattr(args, name, None) for name in config_lib.field_names()}
  return config_lib.load_config(args.config, overrides, validate=validate)
