"""Shared fixtures: small sets of real JPEGs written in the 5-flowers layout."""
import os

# TFX and TFMA need Keras 2; this must precede the first TensorFlow import in the test process.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import pytest  # noqa: E402

from pipeline import sample_data  # noqa: E402


@pytest.fixture(scope='session')
def small_digits(tmp_path_factory):
  """(csv_path, labels_path) of the first 120 digit scans as JPEG files."""
  return sample_data.materialize_digits(str(tmp_path_factory.mktemp('digits')), limit=120)
