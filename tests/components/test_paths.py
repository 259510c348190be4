"""Local and scheme-qualified paths, told apart the one way every reader and writer uses."""
import pytest

from components import paths


@pytest.mark.parametrize('path', ['gs://bucket/visionflow', 's3://bucket/x.csv', 'hdfs://namenode/data'])
def test_scheme_qualified_paths_are_remote(path):
  assert paths.is_remote(path)


@pytest.mark.parametrize('path', ['/data/flowers/all_data.csv', 'visionflow_output', './a:b/c', 'gs:/one-slash'])
def test_local_paths_are_not_remote(path):
  assert not paths.is_remote(path)
