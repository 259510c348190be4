"""The read-only commands, the scheduler and config checking start without TensorFlow or TFX, which take seconds
to import and which `visionflow runs`, `show`, `ui` and `scheduler` do not need."""
import json
import subprocess
import sys

HEAVY_PACKAGES = ('tensorflow', 'tfx', 'keras', 'tf_keras', 'keras_tuner', 'tensorflow_transform',
                  'tensorflow_model_analysis', 'apache_beam')


def _imported_heavy_packages(code: str) -> list:
  script = (f'import sys, json\n{code}\n'
            f'print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY_PACKAGES!r}))))')
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  return json.loads(result.stdout.splitlines()[-1])


def test_the_cli_and_the_inspection_import_neither_tensorflow_nor_tfx():
  assert _imported_heavy_packages('import pipeline.cli, pipeline.inspect.ui, pipeline.inspect.runs, '
                                  'pipeline.inspect.run_logs') == []


def test_the_scheduler_imports_neither_tensorflow_nor_tfx():
  """It runs for days beside the runs it starts, looking at schedules, spans and alerts every few seconds."""
  assert _imported_heavy_packages('import pipeline.cli, pipeline.scheduling.scheduler, pipeline.scheduling.spans, '
                                  'pipeline.commands.local_schedules') == []


def test_validating_a_config_imports_no_tensorflow():
  assert _imported_heavy_packages(
      'from pipeline import config\n'
      "config.load_config(overrides={'backbone': 'mobilenet_v2', 'hyperparameters': {'learning_rate': 0.01}})"
  ) == []


def test_the_check_sees_tensorflow_when_it_is_imported():
  assert 'tensorflow' in _imported_heavy_packages('import components.trainer.model')


def test_predicting_imports_what_tensorflow_imports_and_nothing_more():
  """`visionflow predict` needs TensorFlow (with the Keras it loads) to run the SavedModel, and nothing of TFX,
  Beam, TFMA, tf.Transform or the tuner."""
  tensorflow_alone = _imported_heavy_packages(
      'import os\nos.environ.setdefault("TF_USE_LEGACY_KERAS", "1")\nimport tensorflow')
  assert 'tensorflow' in tensorflow_alone and 'tfx' not in tensorflow_alone
  assert _imported_heavy_packages('import pipeline.cli, pipeline.predict') == tensorflow_alone
