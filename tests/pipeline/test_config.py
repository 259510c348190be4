"""The typed config: defaults, YAML and flags (flags winning), and one clear error per bad value."""
import glob
import re

import pytest

from components import evaluation_defaults
from components import image_limits
from components.evaluator import gates
from components.example_validator import drift_action
from components.monitor import history
from components.trainer import warm_start
from pipeline import cli
from pipeline import config as config_lib
from pipeline.commands import config_flags


def test_defaults_validate_and_place_everything_under_output_dir():
  config = config_lib.load_config()
  assert config.data_csv is None and config.enable_cache
  assert config.metadata_path == './visionflow_output/metadata.sqlite'
  assert config.serving_model_dir == './visionflow_output/serving/image_classifier'


def test_yaml_then_flags_with_flags_winning(tmp_path):
  path = tmp_path / 'config.yaml'
  path.write_text('epochs: 3\nmodel_name: flowers\nmin_accuracy: 1\n')
  config = config_lib.load_config(str(path), {'epochs': 7, 'model_name': None})
  assert config.epochs == 7                    # flag beats file
  assert config.model_name == 'flowers'        # unset flag leaves the file's value
  assert config.min_accuracy == 1.0 and isinstance(config.min_accuracy, float)


def test_model_values_left_unset_or_null_are_left_to_the_data(tmp_path):
  path = tmp_path / 'config.yaml'
  path.write_text('image_size: null\nbackbone: null\naugment_flip: false\n')
  config = config_lib.load_config(str(path))
  assert (config.image_size, config.backbone, config.augment_crop, config.augment_flip) == (None, None, None, False)
  path.write_text('epochs: null\n')  # a key that must have a value
  with pytest.raises(ValueError, match="'epochs' must be int"):
    config_lib.load_config(str(path))


@pytest.mark.parametrize('text, message', [
    ('epoch: 3\n', "unknown config keys ['epoch']"),
    ('epochs: three\n', "'epochs' must be int"),
    ('epochs: true\n', "'epochs' must be int"),
    ('epochs: 0\n', 'epochs must be at least 1'),
    ('min_accuracy: 1.5\n', 'min_accuracy must lie in [0, 1]'),
    ('data_csv: a.csv\n', 'data_csv and labels_file go together'),
    ('- epochs\n', 'expected a mapping'),
    ('data_csv: a.csv\nlabels_file: l.txt\nimage_folder: f\n', 'give data_csv or image_folder, not both'),
    ('num_spans: 0\n', 'num_spans must be at least 1'),
    ('max_reject_fraction: -0.1\n', 'max_reject_fraction must lie in [0, 1]'),
    ('csv_header: true\ncsv_columns: [image_path, label]\n', 'csv_columns and csv_header exclude each other'),
    ('min_slice_accuracy: 2\n', 'min_slice_accuracy must lie in [0, 1]'),
    ('significance: 0\n', 'significance must lie in (0, 1)'),
    ('warm_start: sometimes\n', "warm_start must be 'never', 'auto' or 'always', got 'sometimes'"),
    ('alert_min_accuracy: 2\n', 'alert_min_accuracy must lie in [0, 1]'),
    ('drift: stop\n', "drift must be 'warn' or 'fail', got 'stop'"),
    ('drift_label_threshold: 0\n', 'drift_label_threshold must lie in (0, 1]'),
    ('min_slice_examples: -1\n', 'min_slice_examples must be at least 0'),
    ('strict_gates: yes please\n', "'strict_gates' must be bool"),
    ('fairness_thresholds: [0.5, 1.0]\n', 'fairness_thresholds must lie in (0, 1)'),
    ('csv_columns: [image_path, label, camera]\nslice_features: [site]\n',
     "slice_features ['site'] are not among csv_columns"),
])
def test_bad_config_names_the_key(tmp_path, text, message):
  path = tmp_path / 'config.yaml'
  path.write_text(text)
  with pytest.raises(ValueError, match=re.escape(message)):
    config_lib.load_config(str(path))


def test_cli_flags_fill_the_config():
  args = cli.build_parser().parse_args(
      ['run', '--epochs', '5', '--tuner-trials', '0', '--no-cache', '--output-dir', '/tmp/x',
       '--min-accuracy', '0.5'])
  config = config_flags.config_from_args(args)
  assert (config.epochs, config.tuner_trials, config.enable_cache, config.output_dir, config.min_accuracy) == (
      5, 0, False, '/tmp/x', 0.5)
  assert config_flags.config_from_args(cli.build_parser().parse_args(['run'])).enable_cache is True


def test_cli_reads_evaluation_options():
  args = cli.build_parser().parse_args(
      ['run', '--min-slice-accuracy', '0.7', '--max-accuracy-drop', '0.01', '--slice-features', 'camera,site',
       '--fairness-thresholds', '0.25,0.75', '--serving-dir', 'gs://bucket/serving', '--serving-base-path',
       '/models'])
  config = config_flags.config_from_args(args)
  assert (config.min_slice_accuracy, config.max_accuracy_drop, config.slice_features) == (
      0.7, 0.01, ('camera', 'site'))
  assert config.fairness_thresholds == ('0.25', '0.75')  # strings from the flag; the pipeline reads floats
  assert config.serving_model_dir == 'gs://bucket/serving/image_classifier'
  assert config.serving_base_path == '/models'


def test_cli_reads_data_options():
  args = cli.build_parser().parse_args(
      ['run', '--image-folder', '/data/flowers', '--csv-columns', 'image_path, label,site', '--num-spans', '3',
       '--max-reject-fraction', '0.2', '--max-image-pixels', '1000'])
  config = config_flags.config_from_args(args)
  assert (config.image_folder, config.csv_columns, config.num_spans, config.max_reject_fraction,
          config.max_image_pixels) == ('/data/flowers', ('image_path', 'label', 'site'), 3, 0.2, 1000)
  assert config_flags.config_from_args(cli.build_parser().parse_args(
      ['run', '--data-csv', 'a.csv', '--labels-file', 'l.txt', '--csv-header'])).csv_header is True


def test_fixed_hyperparameters_skip_the_tuner_and_reach_the_trainer():
  from pipeline import pipeline as pipeline_lib
  config = config_lib.load_config(overrides={
      'data_csv': '/data/all.csv', 'labels_file': '/data/labels.txt',
      'hyperparameters': {'learning_rate': 0.01, 'dense_units': 64}})
  dag = pipeline_lib.create_pipeline(config, ['a', 'b'])
  assert 'Tuner' not in {component.id for component in dag.components}
  trainer = next(component for component in dag.components if component.id == 'Trainer')
  assert 'hyperparameters' not in trainer.inputs
  settings = pipeline_lib.training_settings(config, ['a', 'b'])
  assert settings.hyperparameters == {'learning_rate': 0.01, 'dense_units': 64}
  from components.trainer import model as model_lib
  # The data chooses the backbone at run time; the fixed values apply to whichever it is.
  small = model_lib.fixed_hyperparameters('small_cnn', settings.hyperparameters)['values']
  assert (small['learning_rate'], small['dense_units'], small['dropout'], small['filters']) == (0.01, 64, 0.3, 32)
  pretrained = model_lib.fixed_hyperparameters('efficientnet_lite0', settings.hyperparameters)['values']
  assert (pretrained['learning_rate'], pretrained['fine_tune']) == (0.01, False) and 'filters' not in pretrained
  with_tuner = pipeline_lib.create_pipeline(config.replace(hyperparameters={}), ['a', 'b'])
  assert 'Tuner' in {component.id for component in with_tuner.components}


def test_unknown_hyperparameters_and_choices_are_refused():
  with pytest.raises(ValueError, match=r"unknown hyperparameters \['fine_tune'\] for backbone small_cnn"):
    config_lib.load_config(overrides={'backbone': 'small_cnn', 'hyperparameters': {'fine_tune': True}})
  with pytest.raises(ValueError, match=r"unknown hyperparameters \['width'\] for backbone any"):
    config_lib.load_config(overrides={'hyperparameters': {'width': 3}})
  with pytest.raises(ValueError, match="weights '/w.h5' need a backbone: name the one they belong to"):
    config_lib.load_config(overrides={'weights': '/w.h5'})
  with pytest.raises(ValueError, match='backbone must be one of'):
    config_lib.load_config(overrides={'backbone': 'resnet'})
  with pytest.raises(ValueError, match='strategy must be one of'):
    config_lib.load_config(overrides={'strategy': 'horovod'})


def test_cli_sets_training_options():
  args = cli.build_parser().parse_args(
      ['run', '--backbone', 'efficientnet_lite0', '--weights', '/w.h5', '--strategy', 'multi_worker',
       '--num-workers', '2', '--augment-flip', '--no-augment-colour', '--tuner', 'hyperband',
       '--hyperparameters', 'learning_rate=0.001,dense_units=64'])
  config = config_flags.config_from_args(args)
  assert (config.backbone, config.weights, config.strategy, config.num_workers, config.augment_flip,
          config.augment_colour, config.tuner) == ('efficientnet_lite0', '/w.h5', 'multi_worker', 2, True,
                                                   False, 'hyperband')
  assert config.hyperparameters == {'learning_rate': 0.001, 'dense_units': 64}


def test_invalid_yaml_is_named_with_line_and_column(tmp_path):
  path = tmp_path / 'run.yaml'
  path.write_text('epochs: 3\nslice_features: [camera\n')
  with pytest.raises(ValueError, match=rf'^{path}: not valid YAML at line 3, column 1: expected \',\' or \']\''):
    config_lib.load_config(str(path))
  with pytest.raises(ValueError, match=rf'^{tmp_path / "absent.yaml"}: config file not found$'):
    config_lib.load_config(str(tmp_path / 'absent.yaml'))


@pytest.mark.parametrize('hyperparameters, message', [
    ({'learning_rate': 'abc'}, "hyperparameter learning_rate must be a number, got 'abc'"),
    ({'dense_units': 64.5}, 'hyperparameter dense_units must be an integer, got 64.5'),
    ({'filters': True}, 'hyperparameter filters must be an integer, got True'),
])
def test_a_fixed_hyperparameter_of_the_wrong_type_is_refused(hyperparameters, message):
  with pytest.raises(ValueError, match=f'^{re.escape(message)}$'):
    config_lib.load_config(overrides={'hyperparameters': hyperparameters})
  config_lib.load_config(overrides={'hyperparameters': {'learning_rate': 0.05, 'dense_units': 512}})  # any value


def test_run_checks_its_inputs_before_tfx_starts(tmp_path, capsys, small_digits):
  """Each mistake ends in one line and exit code 2 before a pipeline run begins."""
  csv_path, labels_path = small_digits
  (tmp_path / 'bad.yaml').write_text('epochs: [\n')
  (tmp_path / 'a_file').write_text('')
  (tmp_path / 'latin1.txt').write_bytes('zero\nn\xe9uf\n'.encode('latin-1'))
  output = ['--output-dir', str(tmp_path / 'out')]
  data = ['--data-csv', csv_path, '--labels-file', labels_path]
  cases = [
      (['--config', str(tmp_path / 'bad.yaml')], f'{tmp_path / "bad.yaml"}: not valid YAML at line 2'),
      (output + ['--data-csv', str(tmp_path / 'nothing.csv'), '--labels-file', labels_path],
       f'{tmp_path / "nothing.csv"}: file not found'),
      (output + ['--data-csv', str(tmp_path / 'span-{SPAN}' / 'all.csv'), '--labels-file', labels_path],
       f'--data-csv {tmp_path / "span-{SPAN}" / "all.csv"}: no file matches the pattern'),
      (output + ['--data-csv', csv_path, '--labels-file', str(tmp_path / 'latin1.txt')],
       f'{tmp_path / "latin1.txt"}: line 2, byte 6: byte 0xe9 is not UTF-8'),
      (output + data + ['--hyperparameters', 'learning_rate=abc'],
       "hyperparameter learning_rate must be a number, got 'abc'"),
      (['--output-dir', str(tmp_path / 'a_file')] + data,
       f'--output-dir {tmp_path / "a_file"} is a file, not a folder: give a folder (it is created if missing)'),
  ]
  for flags, message in cases:
    code = cli.main(['run', *flags])
    errors = capsys.readouterr().err.splitlines()
    assert code == 2 and len(errors) == 1 and errors[0].startswith(f'visionflow run: error: {message}'), errors
    assert not glob.glob(str(tmp_path / 'out' / 'logs' / '*')), flags  # no pipeline run began


def test_the_configs_defaults_are_the_components_defaults():
  """Each default is defined once, next to the type that uses it; the config takes it from there."""
  config, blessing, alerts = config_lib.PipelineConfig(), gates.BlessingPolicy(), history.AlertRules()
  assert (config.min_accuracy, config.min_slice_accuracy, config.max_accuracy_drop, config.min_slice_examples,
          config.significance, config.strict_gates) == (
      blessing.min_accuracy, blessing.min_slice_accuracy, blessing.max_accuracy_drop, blessing.min_slice_examples,
      blessing.significance, blessing.strict)
  assert (config.alert_min_accuracy, config.alert_max_weekly_drop, config.min_slice_examples) == (
      alerts.min_accuracy, alerts.max_weekly_drop, alerts.min_examples)
  limits = image_limits.ImageLimits()
  assert (config.max_image_pixels, config.max_image_bytes, config.max_aspect_ratio) == (
      limits.max_pixels, limits.max_bytes, limits.max_aspect_ratio)
  assert config.fairness_thresholds == evaluation_defaults.FAIRNESS_THRESHOLDS
  assert config.warm_start == warm_start.NEVER and config.drift == drift_action.WARN
  from components.example_validator import component as example_validator  # TFDV: only where it is compared
  drift = example_validator.DriftSettings()
  assert (config.drift, config.drift_label_threshold, config.drift_distribution_threshold) == (
      drift.action, drift.label_threshold, drift.distribution_threshold)


@pytest.mark.parametrize('name, modes, listed', [
    ('warm_start', warm_start.MODES, "'never', 'auto' or 'always'"),
    ('drift', drift_action.ACTIONS, "'warn' or 'fail'")])
def test_the_config_accepts_exactly_the_modes_the_components_define(name, modes, listed):
  for mode in modes:
    config_lib.PipelineConfig(**{name: mode}).validate()
  with pytest.raises(ValueError, match=re.escape(f"{name} must be {listed}, got 'sometimes'")):
    config_lib.PipelineConfig(**{name: 'sometimes'}).validate()
