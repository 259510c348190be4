"""The whole pipeline, as a user runs it: `visionflow run` on the embedded data, then `visionflow predict`."""
import getpass
import glob
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
import tensorflow as tf
from PIL import Image
import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2

from components import names
from components import accuracy_intervals
from components import evaluation_results
from components import features
from components.reports import report_format
from pipeline.inspect import runs as runs_lib
from pipeline import sample_data

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
COMPONENTS = {'FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'DataReport', 'Transform',
              'Tuner', 'Trainer', 'Evaluator', 'Pusher'}


def _visionflow(*args, timeout=1500):
  return subprocess.run([VISIONFLOW, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def first_run_process(tmp_path_factory):
  """(output dir, the finished `visionflow run` process) of the default run on the embedded data."""
  output_dir = str(tmp_path_factory.mktemp('visionflow_output'))
  result = _visionflow('run', '--output-dir', output_dir, '--tflite-quantize')
  assert result.returncode == 0, result.stdout + result.stderr[-6000:]
  return output_dir, result


@pytest.fixture(scope='module')
def first_run(first_run_process):
  output_dir, result = first_run_process
  return output_dir, result.stdout


def test_the_console_shows_progress_and_summary_and_the_log_file_the_rest(first_run_process):
  """What TensorFlow logs, KerasTuner prints and the TFLite converter's C++ writes to the file descriptors is in the
  run's log file, not on the console."""
  output_dir, result = first_run_process
  console = result.stdout + result.stderr
  assert len(console.splitlines()) <= 40, console
  for noise in ('WARNING', 'RuntimeWarning', 'absl::InitializeLog', 'struct2tensor', 'Search space summary'):
    assert noise not in console, console
  assert re.search(r'^\[10/10\] Pusher done in [0-9.]+s$', result.stderr, re.MULTILINE), result.stderr
  assert re.search(r'^Tuner trial 3/3: backbone \S+, .*; val_accuracy [0-9.]+$', result.stderr, re.MULTILINE)
  assert re.search(r'^Trainer epoch 1/\d+: ', result.stderr, re.MULTILINE), result.stderr
  [log_path] = glob.glob(os.path.join(output_dir, 'logs', 'run-*.log'))
  assert f'Full log: {log_path}' in result.stdout
  with open(log_path, encoding='utf-8', errors='replace') as handle:
    log = handle.read()
  # TensorFlow's Python logging, KerasTuner's print()s, and absl's C++ logging written straight to descriptor 2.
  for line in ('struct2tensor is not available', 'Search space summary', 'absl::InitializeLog'):
    assert line in log, line


def _node_states(output_dir):
  """{component id: execution state} for the newest pipeline run."""
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  newest = store.get_context_by_type_and_name(runs_lib.PIPELINE_RUN_CONTEXT, runs_lib.newest_run_id(store))
  states = {}
  for execution in store.get_executions_by_context(newest.id):
    node_contexts = [context for context in store.get_contexts_by_execution(execution.id)
                     if store.get_context_types_by_id([context.type_id])[0].name == 'node']
    node_id = node_contexts[0].name.split('.')[-1]
    assert node_id not in states, f'{node_id} executed twice in one run'
    states[node_id] = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
  return states


def _pushed_versions(output_dir):
  return sorted(glob.glob(os.path.join(output_dir, 'serving', 'image_classifier', '*', 'saved_model.pb')))


def _test_split(output_dir):
  files = glob.glob(os.path.join(output_dir, 'pipeline_root', 'FileBasedExampleGen', 'examples', '*',
                                 'Split-test', '*'))
  return [record.numpy() for record in tf.data.TFRecordDataset(files)]


def _tfma_accuracy(output_dir):
  evaluations = glob.glob(os.path.join(output_dir, 'pipeline_root', 'Evaluator', 'evaluation', '*'))
  newest = max(evaluations, key=lambda path: int(os.path.basename(path)))
  return tfma.load_eval_result(newest).get_metrics_for_slice()[names.ACCURACY_METRIC]['doubleValue']


def test_every_component_executed_once(first_run):
  output_dir, _ = first_run
  assert _node_states(output_dir) == {name: 'COMPLETE' for name in COMPONENTS}


def test_a_blessed_model_was_pushed_in_the_tf_serving_layout(first_run):
  output_dir, stdout = first_run
  [saved_model] = _pushed_versions(output_dir)
  version_dir = os.path.dirname(saved_model)
  assert os.path.basename(version_dir).isdigit()
  match = re.search(r'^Pushed model: (\S+) \(test accuracy ([0-9.]+); no model in production yet\)$', stdout,
                    re.MULTILINE)
  assert match, stdout
  assert match.group(1) == version_dir
  assert float(match.group(2)) >= 0.90  # the default run's bar: a real model, ten classes, chance is 0.1
  rejects_csv = os.path.join(output_dir, 'pipeline_root', 'FileBasedExampleGen', 'examples', '1', 'rejects.csv')
  assert f'ExampleGen accepted 1797 rows and rejected 0; rejects report: {rejects_csv}' in stdout
  with open(rejects_csv) as handle:
    assert handle.read() == 'row,path,label,reason,csv\n'


def test_serving_on_raw_jpeg_bytes_matches_evaluation(first_run):
  output_dir, _ = first_run
  [saved_model] = _pushed_versions(output_dir)
  model = tf.saved_model.load(os.path.dirname(saved_model))
  serialized = _test_split(output_dir)
  parsed = [tf.train.Example.FromString(record).features.feature for record in serialized]
  image_bytes = [feature[features.IMAGE].bytes_list.value[0] for feature in parsed]
  true_labels = [feature[features.LABEL].bytes_list.value[0].decode() for feature in parsed]

  served = model.signatures['serving_default'](**{features.SERVING_INPUT: tf.constant(image_bytes)})
  evaluated = model.signatures[features.TF_EXAMPLE_SIGNATURE](examples=tf.constant(serialized))

  served_classes = served[features.CLASS_INDEX].numpy()
  np.testing.assert_array_equal(served_classes, np.argmax(evaluated[features.PROBABILITIES].numpy(), axis=1))
  np.testing.assert_allclose(served[features.PROBABILITIES].numpy(),
                             evaluated[features.PROBABILITIES].numpy(), atol=1e-5)
  names = [name.decode() for name in served[features.CLASS_NAME].numpy()]
  assert [sample_data.CLASS_NAMES[index] for index in served_classes] == names
  served_accuracy = np.mean([name == label for name, label in zip(names, true_labels)])
  assert served_accuracy == pytest.approx(_tfma_accuracy(output_dir), abs=1e-6)
  assert len(serialized) > 100


@pytest.mark.parametrize('file_name', [names.TFLITE_FILE, names.TFLITE_QUANTIZED_FILE])
def test_the_tflite_models_agree_with_the_saved_model_on_the_test_split(first_run, file_name):
  """Each TFLite model, fed as a device would (its own JPEG decoder, then tflite.device_input), answers the top-1
  class that TF Serving's SavedModel answers for at least 99% of the test images."""
  from components.pusher import tflite
  output_dir, _ = first_run
  version_dir = os.path.dirname(_pushed_versions(output_dir)[0])
  model = tf.saved_model.load(version_dir)
  image_bytes = [tf.train.Example.FromString(record).features.feature[features.IMAGE].bytes_list.value[0]
                 for record in _test_split(output_dir)]
  served = model.signatures['serving_default'](**{features.SERVING_INPUT: tf.constant(image_bytes)})
  interpreter = tflite.Interpreter(os.path.join(version_dir, file_name))
  device = [np.argmax(interpreter.probabilities(np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))))
            for data in image_bytes]
  agreement = np.mean(np.array(device) == served[features.CLASS_INDEX].numpy())
  sizes = {name: os.path.getsize(os.path.join(version_dir, name))
           for name in (names.SAVED_MODEL_FILE, names.TFLITE_FILE, names.TFLITE_QUANTIZED_FILE)}
  print(f'{file_name}: top-1 agreement {agreement:.4f} on {len(image_bytes)} test images; bytes {sizes}')
  assert agreement >= 0.99
  assert len(image_bytes) > 100


def _tuner_results(output_dir):
  """The Tuner's trials: a row per trial, with its score and hyperparameters."""
  [path] = glob.glob(os.path.join(output_dir, 'pipeline_root', 'Tuner', 'tuner_results', '*', 'tuner_results.json'))
  with open(path) as handle:
    return json.load(handle)


def test_the_pushed_version_holds_its_model_card(first_run):
  output_dir, stdout = first_run
  version_dir = os.path.dirname(_pushed_versions(output_dir)[0])
  with open(os.path.join(version_dir, names.MODEL_CARD_MARKDOWN_FILE)) as handle:
    card = handle.read()
  run_id = re.search(r'^Run (\S+) finished', stdout, re.MULTILINE).group(1)
  assert f'| pipeline run | {run_id} |' in card
  best = max(_tuner_results(output_dir), key=lambda trial: trial['score'])
  assert f"| backbone | {report_format.markdown_text(best['backbone'])} |" in card and '| rows rejected | 0 |' in card
  assert re.search(r'\| overall \| \d+ \| (0\.9\d+|1\.0000) \| 0\.\d+ to [01]\.\d+ \|', card), card
  assert '## Fairness Indicators' in card and 'Blessed by the Evaluator.' in card
  assert f'Model card: {version_dir}/{names.MODEL_CARD_HTML_FILE}' in stdout
  assert f'TFLite model: {version_dir}/{names.TFLITE_FILE}' in stdout


def test_predict_prints_the_class_of_a_sample_jpeg(first_run, tmp_path):
  """Files the model cannot take get ExampleGen's reasons, without reading a pipe or an endless device."""
  output_dir, _ = first_run
  feature = tf.train.Example.FromString(_test_split(output_dir)[0]).features.feature
  image_path = os.path.join(output_dir, 'sample_data', feature[features.PATH].bytes_list.value[0].decode())
  missing_path = os.path.join(output_dir, 'no_such.jpg')
  os.mkfifo(tmp_path / 'pipe.jpg')
  os.symlink('/dev/zero', tmp_path / 'zero.jpg')
  buffer = io.BytesIO()
  Image.new('RGB', (4000, 10)).save(buffer, format='PNG')
  (tmp_path / 'strip.png').write_bytes(buffer.getvalue())
  result = _visionflow('predict', '--output-dir', output_dir, image_path, missing_path, str(tmp_path / 'pipe.jpg'),
                       str(tmp_path / 'zero.jpg'), str(tmp_path / 'strip.png'), timeout=300)
  assert result.returncode == 1, result.stderr[-3000:]  # some inputs could not be classified
  first, *errors = result.stdout.splitlines()
  path, class_name, probability = first.split('\t')
  assert path == image_path and class_name in sample_data.CLASS_NAMES and 0.0 < float(probability) <= 1.0
  assert errors == [f'{missing_path}\tERROR\timage file not found',
                    f'{tmp_path / "pipe.jpg"}\tERROR\tnot a regular file (a named pipe): only regular image files '
                    'are read',
                    f'{tmp_path / "zero.jpg"}\tERROR\tnot a regular file (a character device): only regular image '
                    'files are read',
                    f'{tmp_path / "strip.png"}\tERROR\timage of 4000x10 pixels has an aspect ratio of 400.0:1, above '
                    'max_aspect_ratio=20']


def test_bad_data_fails_the_run_naming_counts_and_rejects(tmp_path):
  data = tmp_path / 'data'
  csv_path, labels_path = sample_data.materialize_digits(str(data), limit=30)
  with open(csv_path, 'a') as handle:
    handle.write('missing/one.jpg,zero\nmissing/two.jpg,nine\n')
  result = _visionflow('run', '--output-dir', str(tmp_path / 'out'), '--data-csv', csv_path,
                       '--labels-file', labels_path, '--max-reject-fraction', '0.05')
  assert result.returncode == 2, result.stdout + result.stderr[-3000:]
  assert 'Traceback' not in result.stderr  # the traceback is in the run's log, not on the console
  rejects_csv = glob.glob(str(tmp_path / 'out' / 'pipeline_root' / '*' / 'examples' / '*-refused' / 'rejects.csv'))
  assert len(rejects_csv) == 1
  assert (f'ExampleGen refused the data: {csv_path}: accepted 30, rejected 2 of 32 rows (6.2%), above '
          f'max_reject_fraction=0.05. Reasons per row: {rejects_csv[0]}') in result.stderr
  with open(rejects_csv[0]) as handle:
    assert handle.read().splitlines()[1:] == [f'31,missing/one.jpg,zero,image file not found,{csv_path}',
                                              f'32,missing/two.jpg,nine,image file not found,{csv_path}']
  listed = _visionflow('runs', '--output-dir', str(tmp_path / 'out'))
  [row] = listed.stdout.splitlines()[1:]
  run_id, _, _, state, blessed, pushed, accuracy, _ = row.split('\t')
  assert (state, blessed, pushed, accuracy) == ('FAILED', '-', '-', '-')
  shown = json.loads(_visionflow('show', run_id, '--output-dir', str(tmp_path / 'out'), '--json').stdout)
  assert [(node['node_id'], node['state']) for node in shown] == [('FileBasedExampleGen', 'FAILED')]


def test_the_report_shows_tfma_accuracy_and_the_models_config_lists_the_model(first_run):
  output_dir, stdout = first_run
  report = re.search(r'^Evaluation report: (\S+)$', stdout, re.MULTILINE).group(1)
  page = open(report).read()
  assert f'<tr><td>overall</td><td>{len(_test_split(output_dir))}</td><td>{_tfma_accuracy(output_dir):.4f}</td>' \
      in page
  assert '<svg' in page and 'Fairness Indicators' in page
  with open(os.path.join(output_dir, 'serving', 'models.config')) as handle:
    assert f'base_path: "{os.path.join(output_dir, "serving", "image_classifier")}"' in handle.read()


def _worst_class_slice(output_dir):
  """(accuracy, slice, examples) of the class slice the newest evaluation found worst."""
  evaluations = glob.glob(os.path.join(output_dir, 'pipeline_root', 'Evaluator', 'evaluation', '*'))
  newest = max(evaluations, key=lambda path: int(os.path.basename(path)))
  values = evaluation_results.load_metric_values(newest)
  accuracy, worst = min((value, metric.slice) for metric, value in values.items()
                        if metric.name == names.ACCURACY_METRIC and metric.slice.startswith('label='))
  examples = values[evaluation_results.MetricId(worst, evaluation_results.CANDIDATE, 'example_count')]
  return accuracy, worst, int(examples)


def _newest_report_markdown(output_dir):
  reports = glob.glob(os.path.join(output_dir, 'pipeline_root', 'Evaluator', 'evaluation', '*', 'report',
                                   names.REPORT_MARKDOWN_FILE))
  return open(max(reports, key=lambda path: int(path.split(os.sep)[-3]))).read()


# Two epochs, so that some class is below perfect whatever the default model reaches (it is perfect on the digits).
IMPERFECT_RUN = ('--epochs', '2', '--tuner-epochs', '2', '--min-accuracy', '0')


@pytest.fixture(scope='module')
def imperfect_run(tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp('imperfect'))
  result = _visionflow('run', '--output-dir', output_dir, *IMPERFECT_RUN)
  assert result.returncode == 0, result.stdout + result.stderr[-6000:]
  return output_dir


def test_a_slice_floor_refuses_a_large_slice_below_it_and_only_reports_a_small_one(imperfect_run):
  """A floor just above the worst class's accuracy. With the default min_slice_examples (30), the class
  slices (about 18 test images each) are too small to gate: the model is pushed and the report says so.
  Counted as large enough, the worst class refuses the model, and the reason gives its size and interval."""
  output_dir = imperfect_run
  worst_accuracy, worst_slice, examples = _worst_class_slice(output_dir)
  assert worst_accuracy < 1.0 and examples < 30
  floor = worst_accuracy + 1e-3
  interval = accuracy_intervals.proportion_interval(round(worst_accuracy * examples), examples, 0.95)

  small = _visionflow('run', '--output-dir', output_dir, *IMPERFECT_RUN, '--min-slice-accuracy', str(floor))
  assert small.returncode == 0, small.stdout + small.stderr[-3000:]
  assert (f'| slice accuracy | {worst_slice} | {examples} | {worst_accuracy:.4f} | {interval.low:.4f} to '
          f'{interval.high:.4f} | &gt;= {floor:.4f} | too small to gate |') in _newest_report_markdown(output_dir)

  large = _visionflow('run', '--output-dir', output_dir, *IMPERFECT_RUN, '--min-slice-accuracy', str(floor),
                      '--min-slice-examples', '10')
  assert large.returncode == 1, large.stdout + large.stderr[-3000:]
  assert (f'  - sparse_categorical_accuracy on slice {worst_slice} is {worst_accuracy:.4f} (95% interval '
          f'{interval.low:.4f}-{interval.high:.4f}, {examples} examples), below the minimum {floor:.4f} by '
          ) in large.stdout
  assert 'compared with the model in production' in large.stdout  # the first run's push is the baseline
  assert 'on slice overall' not in large.stdout  # the same model: overall accuracy and its change pass
  states = _node_states(output_dir)
  assert {states[name] for name in COMPONENTS - {'Evaluator', 'Pusher'}} == {'CACHED'}
  assert states['Evaluator'] == states['Pusher'] == 'COMPLETE'
  assert len(_pushed_versions(output_dir)) == 1  # the same model again: not a new version


def test_runs_and_show_report_the_first_run_from_its_metadata(first_run):
  output_dir, stdout = first_run
  run_id = re.search(r'^Run (\S+) finished', stdout, re.MULTILINE).group(1)
  listed = _visionflow('runs', '--output-dir', output_dir)
  assert listed.returncode == 0, listed.stderr[-3000:]
  rows = {row.split('\t')[0]: row.split('\t') for row in listed.stdout.splitlines()[1:]}
  _, _, duration, state, blessed, pushed, accuracy, started_by = rows[run_id]
  [saved_model] = _pushed_versions(output_dir)
  assert (state, blessed, pushed) == ('COMPLETE', 'yes', os.path.basename(os.path.dirname(saved_model)))
  assert started_by == f'by {getpass.getuser()}'  # run by hand, not by a schedule
  assert int(duration.rstrip('s')) > 10
  first_evaluation = os.path.join(output_dir, 'pipeline_root', 'Evaluator', 'evaluation')
  evaluations = sorted(glob.glob(os.path.join(first_evaluation, '*')),
                       key=lambda path: int(os.path.basename(path)))
  first_accuracy = tfma.load_eval_result(evaluations[0]).get_metrics_for_slice()[names.ACCURACY_METRIC]
  assert accuracy == f"{first_accuracy['doubleValue']:.4f}"

  shown = _visionflow('show', run_id, '--output-dir', output_dir, '--json')
  nodes = {node['node_id']: node for node in json.loads(shown.stdout)}
  assert set(nodes) == COMPONENTS and {node['state'] for node in nodes.values()} == {'COMPLETE'}
  outputs = {artifact['key']: artifact['properties'] for node in nodes.values() for artifact in node['outputs']}
  assert outputs['examples']['accepted_rows'] == 1797 and outputs['examples']['rejected_rows'] == 0
  assert set(outputs['anomalies']['anomalies_per_split']) == {'train', 'eval', 'test'}
  assert set(outputs['best_hyperparameters']['best_hyperparameters']) >= {'learning_rate', 'dropout'}
  assert outputs['blessing']['blessed'] == 1 and json.loads(outputs['blessing']['blessing_reasons']) == []
  assert outputs['pushed_model']['pushed_version'] == pushed
  # The digits are grey 32 px scans. Transform resized them to the pretrained candidate's 96 px; the Tuner's first
  # trials compared the small CNN (averaging them down to 32 px) with the pretrained backbone, then augmentation on
  # and off with the better one; the model has what scored higher.
  tuner_results = _tuner_results(output_dir)
  assert {trial['backbone'] for trial in tuner_results} == {'small_cnn', 'efficientnet_lite0'}
  assert sorted(trial['augment'] for trial in tuner_results) == [False, False, True]
  best = tuner_results[0]  # the trial the Tuner chose: the defaults', unless another was clearly better
  settings = outputs['model']['model_settings']
  assert (settings['backbone'], settings['image_size'], settings['small_cnn_size']) == (best['backbone'], 96, 32)
  assert settings['augment_crop'] == settings['augment_flip'] == settings['augment_colour'] == best['augment']
  augmentation = 'crop+flip+colour' if best['augment'] else 'off'
  assert outputs['examples']['colour_images'] == 0
  model_line = (f"Model: {outputs['model']['model_choice']}\n")
  size = '32 px (averaged from 96)' if best['backbone'] == 'small_cnn' else '96 px'
  assert model_line.startswith(f"Model: {best['backbone']} ") and model_line in stdout
  assert f' at {size}, augmentation {augmentation}; chosen from the data (0 of 1,797 in colour, most at least 32 px' \
      in model_line
  for backbone in ('small_cnn', 'efficientnet_lite0'):
    top = max(trial['score'] for trial in tuner_results if trial['backbone'] == backbone)
    assert f'{backbone} {top:.4f}' in model_line.split("the Tuner's best eval accuracy with each: ")[1]
  # Training ran to its eval split's plateau, not to a fixed count, and says so.
  assert 0 < outputs['model']['epochs_trained'] < 40
  training_line = f"Training: {outputs['model']['training_outcome']}\n"
  assert re.match(r'Training: trained \d+ epochs, kept epoch \d+ \(eval accuracy (0\.9\d+|1\.0000)\); '
                  r'backbone \w+ and augmentation (on|off), as the Tuner chose on the eval split; stopped: no better '
                  r'eval accuracy or loss for 5 epochs$',
                  training_line.strip()) and training_line in stdout
  assert f"augmentation {'on' if settings['augment_crop'] else 'off'}, as the Tuner chose" in training_line
  text = _visionflow('show', run_id, '--output-dir', output_dir).stdout
  # What the run did last, then each component.
  status, components = text.split('\nFileBasedExampleGen: COMPLETE, ', 1)
  assert status.splitlines()[0] == 'State: COMPLETE' and '    accepted_rows: 1797' in components
  assert re.search(r'^Trainer: epoch \d+ of 40', status, re.MULTILINE), status


def _newest_outputs(output_dir):
  """{(component, output key): ArtifactView} of the newest run."""
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  nodes = runs_lib.run_nodes(store, runs_lib.newest_run_id(store))
  return {(node.node_id, artifact.key): artifact for node in nodes for artifact in node.outputs}


def test_the_data_and_evaluation_reports_are_html_and_markdown_artifacts(first_run):
  output_dir, _ = first_run
  outputs = _newest_outputs(output_dir)
  assert {outputs[('DataReport', key)].type for key in ('html_report', 'markdown_report')} == {
      'system.HTML', 'system.Markdown'}
  with open(outputs[('DataReport', 'html_report')].uri) as handle:
    data_page = handle.read()
  assert '<h1>Data report</h1>' in data_page and '<tr><td>accepted</td><td>1797</td></tr>' in data_page
  with open(outputs[('DataReport', 'markdown_report')].uri) as handle:
    assert '| rejected | 0 |' in handle.read()
  evaluation_artifact = outputs[('Evaluator', 'evaluation')]
  with open(outputs[('Evaluator', 'html_report')].uri) as artifact, \
      open(evaluation_artifact.properties['report_html']) as report_file:
    assert artifact.read() == report_file.read()
  with open(outputs[('Evaluator', 'markdown_report')].uri) as handle:
    assert '<svg' in handle.read()  # one file: the confusion matrix inline rather than linked


def test_the_evaluation_report_shows_heatmaps_of_right_and_wrong_test_images_of_every_class(first_run):
  """Integrated gradients, computed by the Evaluator on the CPU in seconds, whose attributions add up."""
  output_dir, _ = first_run
  evaluation = _newest_outputs(output_dir)[('Evaluator', 'evaluation')]
  report_dir = os.path.dirname(evaluation.properties[names.REPORT_MARKDOWN])
  with open(evaluation.properties[names.REPORT_MARKDOWN]) as handle:
    section = handle.read().split('## What the model looked at\n', 1)[1]
  rows = {row.split(' | ')[0][2:]: row for row in section.splitlines() if row.startswith('| ')}
  pictures = []
  for label in sample_data.CLASS_NAMES:
    right, wrong = rows[label].split(' | ')[1:3]
    assert re.search(r'\]\(explanations/example_\d+\.png\)', right), rows[label]  # each class has right answers
    pictures += re.findall(r'\]\((explanations/example_\d+\.png)\)', right + wrong)
  for path in pictures:
    with open(os.path.join(report_dir, path), 'rb') as handle:
      assert tf.io.decode_png(handle.read()).shape == (192, 192, 3)  # 96 px, enlarged twice
  for attribution_sum, output_difference in re.findall(r'sum (-?[0-9.]+) of (-?[0-9.]+)', section):
    assert float(attribution_sum) == pytest.approx(float(output_difference), abs=0.02)  # completeness
  assert evaluation.properties[names.EXPLAINED_IMAGES] == len(pictures) >= len(sample_data.CLASS_NAMES)
  assert 0 < evaluation.properties[names.EXPLANATION_SECONDS] < 60
  with open(evaluation.properties[names.REPORT_DETAILS]) as handle:  # what the UI shows: the PNGs inline
    assert handle.read().count('<img class="heatmap" src="data:image/png;base64,') == len(pictures)


def test_the_kubeflow_entrypoint_runs_the_data_report_step_as_the_compiled_spec_says(first_run, tmp_path):
  """The DataReport step as a Kubeflow pod runs it, minus the pod: the compiled command and arguments, with
  an executor input naming this run's artifacts; its outputs are typed system.HTML and system.Markdown."""
  output_dir, _ = first_run
  spec_path = tmp_path / 'pipeline.yaml'
  compiled = _visionflow('compile', '--output', str(spec_path), '--output-dir', output_dir)
  assert compiled.returncode == 0, compiled.stderr[-3000:]
  spec = next(yaml.safe_load_all(spec_path.read_text()))
  component = spec['components'][spec['root']['dag']['tasks']['DataReport']['componentRef']['name']]
  container = spec['deploymentSpec']['executors'][component['executorLabel']]['container']
  produced = {key: artifact for (_, key), artifact in _newest_outputs(output_dir).items()}
  task_dir = tmp_path / 'task'
  task_dir.mkdir()
  executor_input = {
      'inputs': {'artifacts': {
          key: {'artifacts': [{'name': key, 'type': definition['artifactType'], 'uri': produced[key].uri,
                               'metadata': produced[key].properties}]}
          for key, definition in component['inputDefinitions']['artifacts'].items()}},
      'outputs': {'artifacts': {
          key: {'artifacts': [{'name': key, 'type': definition['artifactType'], 'uri': str(task_dir / key)}]}
          for key, definition in component['outputDefinitions']['artifacts'].items()},
          'outputFile': str(task_dir / 'executor_output.json')}}
  command = [sys.executable if part == 'python' else part for part in container['command']]
  arguments = [json.dumps(executor_input) if part == '{{$}}' else part for part in container['args']]
  result = subprocess.run(command + arguments, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-5000:]
  html_report = (task_dir / 'html_report').read_text()
  assert '<tr><td>accepted</td><td>1797</td></tr>' in html_report and '<td>rejected</td><td>0</td>' in html_report
  assert (task_dir / 'markdown_report').read_text().startswith('# Data report')
  written = json.loads((task_dir / 'executor_output.json').read_text())
  assert set(written['artifacts']) == {'html_report', 'markdown_report'}


def test_a_fully_cached_rerun_says_whose_push_it_reused(first_run):
  """The first command again, twice: the first re-evaluates against production (the first run's push) and
  finds the model already served; the second reuses every step and must not present that push as new."""
  output_dir, _ = first_run
  settle = _visionflow('run', '--output-dir', output_dir)
  assert settle.returncode == 0, settle.stdout + settle.stderr[-3000:]
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  settled_run = runs_lib.newest_run_id(store)
  again = _visionflow('run', '--output-dir', output_dir)
  assert again.returncode == 0, again.stdout + again.stderr[-3000:]
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  nodes = runs_lib.run_nodes(store, runs_lib.newest_run_id(store))
  assert {node.state for node in nodes} == {'CACHED'}
  assert {node.node_id: node.reused_from for node in nodes}['Pusher'] == settled_run
  [version] = _pushed_versions(output_dir)
  assert (f'Nothing pushed by this run: every step through the Pusher was reused from run {settled_run}, which '
          f'pushed {os.path.dirname(version)} (test accuracy ') in again.stdout
  assert 'Pushed model:' not in again.stdout
  shown = _visionflow('show', runs_lib.newest_run_id(store), '--output-dir', output_dir).stdout
  assert f'Pusher: CACHED (reused from run {settled_run}), ' in shown
