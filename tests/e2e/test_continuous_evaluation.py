"""`visionflow evaluate`: the model in production measured on newly labelled images, recorded, and alerting.

A short run pushes a model; newly labelled images (other digits than it trained on) are evaluated with the
Evaluator's slices; the measurement lands in the metadata store and the history; a bar above what the model
reaches, or a weekly average below last week's, raises an alert and exits 1.
"""
import datetime
import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from components import names
from components.monitor import history
from pipeline import sample_data
from pipeline.config import PipelineConfig
from pipeline.inspect import runs as runs_lib

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')


def _visionflow(*args):
  return subprocess.run([VISIONFLOW, *args], capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope='module')
def production(tmp_path_factory):
  """(output dir, csv and labels of newly labelled images) after a run that pushed a model."""
  root = tmp_path_factory.mktemp('monitoring')
  train_csv, labels = sample_data.materialize_digits(str(root / 'train'), limit=600)
  output_dir = str(root / 'out')
  pushed = _visionflow('run', '--output-dir', output_dir, '--data-csv', train_csv, '--labels-file', labels,
                       '--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0')
  assert pushed.returncode == 0, pushed.stdout + pushed.stderr[-5000:]
  new_csv, _ = sample_data.materialize_digits(str(root / 'new'))
  with open(new_csv) as handle:
    rows = handle.read().splitlines()[600:]  # digits the model never saw
  with open(new_csv, 'w') as handle:
    handle.write('\n'.join(rows) + '\n')
  return output_dir, new_csv, labels


def test_the_model_in_production_is_measured_recorded_and_an_alert_exits_1(production):
  output_dir, new_csv, labels = production
  data = ('--output-dir', output_dir, '--data-csv', new_csv, '--labels-file', labels)
  calm = _visionflow('evaluate', *data, '--alert-min-accuracy', '0.5')
  assert calm.returncode == 0, calm.stdout + calm.stderr[-5000:]
  assert 'No alert.' in calm.stdout
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  nodes = runs_lib.run_nodes(store, runs_lib.newest_run_id(store))
  assert [node.node_id for node in nodes] == ['FileBasedExampleGen', 'ProductionMonitor']
  evaluation = runs_lib.outputs_by_key(nodes)[names.EVALUATION].properties
  pushed = sorted(os.listdir(os.path.join(output_dir, 'serving', 'image_classifier')))[-1]
  assert evaluation[names.MONITORED_MODEL].endswith(f'/image_classifier/{pushed}')
  assert 0.5 <= evaluation[names.ACCURACY] <= 1.0 and evaluation[names.ALERTS] == []

  history_path = PipelineConfig(output_dir=output_dir).monitoring_history_path
  [measured] = history.read_history(open(history_path, 'rb').read()).measurements
  assert measured.model_version == pushed and measured.slices['overall'].examples == 1197
  assert measured.slices['overall'].accuracy == pytest.approx(evaluation[names.ACCURACY])
  assert {name for name in measured.slices if name.startswith('label=')} == {
      f'label={label}' for label in open(labels).read().split()}

  # A week ago the model was perfect on these images: this week's average fell by more than allowed.
  perfect = history.Measurement(
      (measured.time - datetime.timedelta(days=8)).isoformat(), pushed,
      {'overall': history.SliceAccuracy(1.0, 1197)})
  with open(history_path, 'w') as handle:
    handle.write(perfect.to_json() + '\n' + measured.to_json() + '\n')
  alarmed = _visionflow('evaluate', *data, '--alert-min-accuracy', '0.9999', '--alert-max-weekly-drop', '0.0')
  assert alarmed.returncode == 1, alarmed.stdout + alarmed.stderr[-5000:]
  lines = alarmed.stdout.splitlines()
  alerts = lines[lines.index('Alerts:') + 1:]
  assert f'  - accuracy on slice overall is {measured.slices["overall"].accuracy:.4f} over 1197 images, below ' \
         f'the bar 0.9999' in alerts
  assert any(line.startswith('  - weekly average accuracy on slice overall fell from ') for line in alerts)
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  recorded = runs_lib.outputs_by_key(runs_lib.run_nodes(store, runs_lib.newest_run_id(store)))[names.EVALUATION]
  assert [f'  - {alert}' for alert in recorded.properties[names.ALERTS]] == alerts
  assert len(history.read_history(open(history_path, 'rb').read()).measurements) == 3
  json.dumps(recorded.properties)  # everything recorded reads back as JSON for `show --json` and the UI


def test_the_ui_production_page_shows_each_measurement_per_slice_with_rules_and_alerts(production):
  """Runs after the measurements above: the newest (alerting) one first."""
  output_dir, _, _ = production
  server = subprocess.Popen([VISIONFLOW, 'ui', '--output-dir', output_dir, '--port', '0'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    match = re.search(r'(http://127\.0\.0\.1:\d+)/', server.stdout.readline())
    assert match
    with urllib.request.urlopen(match.group(1) + '/production', timeout=60) as response:
      page = response.read().decode('utf-8')
  finally:
    server.terminate()
    server.wait(timeout=30)
  assert 'Alert rules: accuracy below 0.9999 on a slice of at least\n30 images' in page
  rows = re.findall(r'<tr><td><a href="/runs/[^"]+">([0-9T:-]+)</a></td>', page)
  assert len(rows) == 2 and rows == sorted(rows, reverse=True)
  newest, oldest = page.split('<tr><td><a href=')[1:3]
  assert 'below the bar 0.9999</div>' in newest and '<td class="alerts">none</td>' in oldest
  assert re.search(r'<th>overall</th>.*<th>label=zero</th>', page)
  assert re.search(r'<td class="number">[01]\.\d{4} \(1197\)</td>', newest)


def test_labels_with_a_class_the_model_does_not_know_are_refused_in_one_line(production, tmp_path):
  output_dir, new_csv, labels = production
  history_path = PipelineConfig(output_dir=output_dir).monitoring_history_path
  history_before = open(history_path, 'rb').read()
  known = open(labels).read().split()
  extended = tmp_path / 'labels.txt'
  extended.write_text('\n'.join([*known, 'ten']) + '\n')
  refused = _visionflow('evaluate', '--output-dir', output_dir, '--data-csv', new_csv, '--labels-file', str(extended))
  assert refused.returncode == 2, refused.stdout + refused.stderr[-5000:]
  pushed = sorted(os.listdir(os.path.join(output_dir, 'serving', 'image_classifier')))[-1]
  assert refused.stderr.strip().splitlines() == [
      f'visionflow evaluate: error: --labels-file {extended} has 1 class(es) that the model in production '
      f'{output_dir}/serving/image_classifier/{pushed} was not trained on: ten (it knows {", ".join(known)}); '
      'evaluate images of its classes only, or push a model trained on the new ones first']
  assert open(history_path, 'rb').read() == history_before


def test_a_reordered_labels_file_measures_the_same_and_a_damaged_history_is_set_aside(production, tmp_path):
  """Runs after the measurements above, on the same images: the model's own class order is measured."""
  output_dir, new_csv, labels = production
  history_path = PipelineConfig(output_dir=output_dir).monitoring_history_path
  earlier = history.read_history(open(history_path, 'rb').read()).measurements
  good_lines = open(history_path, 'rb').read().splitlines()
  cut, not_json = good_lines[-1][:50], b'<<<<<<< HEAD'
  with open(history_path, 'wb') as handle:
    handle.write(b'\n'.join([good_lines[0], cut, *good_lines[1:], not_json]) + b'\n')
  reordered = tmp_path / 'labels.txt'
  reordered.write_text('\n'.join(reversed(open(labels).read().split())) + '\n')
  measured = _visionflow('evaluate', '--output-dir', output_dir, '--data-csv', new_csv,
                         '--labels-file', str(reordered), '--alert-min-accuracy', '0', '--alert-max-weekly-drop', '1')
  assert measured.returncode == 0, measured.stdout + measured.stderr[-5000:]
  damaged_lines = (2, len(good_lines) + 2)
  assert (f'Warning: {history_path}: skipped 2 damaged line(s) (line {damaged_lines[0]}, {damaged_lines[1]}) that '
          f'hold no measurement; they are kept in {history_path}.damaged') in measured.stderr.splitlines()
  assert open(history_path + '.damaged', 'rb').read() == cut + b'\n' + not_json + b'\n'
  now = history.read_history(open(history_path, 'rb').read())
  assert now.damaged == [] and now.measurements[:-1] == earlier
  same_images = earlier[-1].slices
  assert set(now.measurements[-1].slices) == set(same_images)
  for name, value in now.measurements[-1].slices.items():
    assert value.examples == same_images[name].examples
    assert value.accuracy == pytest.approx(same_images[name].accuracy, abs=1e-6), name
