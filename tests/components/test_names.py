"""The names TFX itself writes are spelled in components/names.py as TFX spells them, and the module imports
nothing, so readers without TensorFlow can use it."""
import ast
import inspect

from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.pusher import executor as pusher_executor
from tfx.orchestration.portable.mlmd import execution_lib
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

from components import names


def test_tfx_names_are_tfx_spellings():
  assert names.BLESSED == evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY
  assert names.PUSHED == pusher_executor._PUSHED_KEY
  assert names.PUSHED_DESTINATION == pusher_executor._PUSHED_DESTINATION_KEY
  assert names.PUSHED_VERSION == pusher_executor._PUSHED_VERSION_KEY
  assert names.EXECUTION_RESULT_PROPERTY == execution_lib._EXECUTION_RESULT
  assert names.SPAN == example_gen_utils.SPAN_PROPERTY_NAME
  assert names.INPUT_FINGERPRINT == example_gen_utils.FINGERPRINT_PROPERTY_NAME
  assert {names.SPAN, names.SPLIT_NAMES} <= set(standard_artifacts.Examples.PROPERTIES)
  for key in ('EXAMPLES', 'TRANSFORM_GRAPH', 'STATISTICS', 'ANOMALIES', 'MODEL_RUN', 'BEST_HYPERPARAMETERS',
              'TUNER_RESULTS', 'EVALUATION', 'BLESSING', 'PUSHED_MODEL'):
    assert getattr(names, key) == getattr(standard_component_specs, f'{key}_KEY'), key


def test_names_imports_nothing():
  tree = ast.parse(inspect.getsource(names))
  assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
