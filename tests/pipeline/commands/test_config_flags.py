"""Config flags parse their values as the config file would (tests/pipeline/test_config.py covers the rest)."""
from pipeline import cli


def test_hyperparameters_in_exponent_notation_are_numbers():
  args = cli.build_parser().parse_args(['run', '--hyperparameters', 'learning_rate=1e-3,dropout=.5,backbone=small_cnn'])
  assert args.hyperparameters == {'learning_rate': 0.001, 'dropout': 0.5, 'backbone': 'small_cnn'}
