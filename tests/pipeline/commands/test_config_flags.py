"""Config flags parse their values as the config file would (tests/pipeline/test_config.py covers the rest)."""
from pipeline import cli
from pipeline.commands import config_flags


def test_hyperparameters_in_exponent_notation_are_numbers():
  args = cli.build_parser().parse_args(['run', '--hyperparameters', 'learning_rate=1e-3,dropout=.5,backbone=small_cnn'])
  assert args.hyperparameters == {'learning_rate': 0.001, 'dropout': 0.5, 'backbone': 'small_cnn'}


def test_the_flags_for_a_config_value_read_back_as_that_value():
  """What the scheduler starts a scheduled run with (pipeline/scheduling/scheduler.py)."""
  values = {'epochs': 3, 'min_accuracy': 0.001, 'enable_cache': False, 'csv_header': True,
            'slice_features': ('camera', 'site'), 'hyperparameters': {'dense_units': 64}, 'data_csv': '/d/s.csv'}
  args = cli.build_parser().parse_args(
      ['run'] + [flag for name, value in values.items() for flag in config_flags.flags_for(name, value)])
  assert {name: getattr(args, name) for name in values} == values
