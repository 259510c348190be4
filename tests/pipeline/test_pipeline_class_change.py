"""The allow_class_change setting reaches the Evaluator in its settings, off by default."""
import pytest

from components import executor_settings
from components.evaluator import component as evaluator_lib
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.pipeline import read_class_labels
from pipeline.runners import local as local_runner


@pytest.mark.parametrize('allowed', [None, True])
def test_allow_class_change_reaches_the_evaluator(small_digits, tmp_path, allowed):
  csv_path, labels_path = small_digits
  settings = {} if allowed is None else {'allow_class_change': allowed}
  config = local_runner.resolve_data(PipelineConfig(
      data_csv=csv_path, labels_file=labels_path, output_dir=str(tmp_path), **settings))
  pipeline = create_pipeline(config, read_class_labels(config))
  [evaluator] = [component for component in pipeline.components if component.id == 'Evaluator']
  received = executor_settings.from_json(evaluator_lib.EvaluatorSettings,
                                        evaluator.exec_properties[evaluator_lib.SETTINGS])
  assert received.allow_class_change is bool(allowed)
