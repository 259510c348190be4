"""Transform's outputs of 200 digit scans, which the training and tuning tests train on; absl's INFO logs."""
import pytest
from absl import logging as absl_logging

from pipeline import pipeline as pipeline_lib
from pipeline import sample_data
from tests import transformed_data


@pytest.fixture(scope='session')
def transformed(tmp_path_factory):
  """Runs the pipeline up to Transform on 200 digit scans; returns (config, labels, root, csv_path)."""
  root = tmp_path_factory.mktemp('transformed')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'data'), limit=200)
  config = transformed_data.run_data_half(csv_path, labels_path, str(root))
  return config, pipeline_lib.read_class_labels(config), config.pipeline_root, csv_path


@pytest.fixture
def info_logs(caplog):
  """caplog with absl's INFO lines, which absl drops by default."""
  level = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  with caplog.at_level('INFO'):
    yield caplog
  absl_logging.set_verbosity(level)
