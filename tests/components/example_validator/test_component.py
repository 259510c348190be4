"""Drift between spans, measured by TFDV on the statistics StatisticsGen computes, on LocalDagRunner.

Spans of the embedded digits' zeros and ones: the first half and half, the second 90/10 (drift), the third
90/10 again, drawn from other images (no drift against the second).
"""
import csv
import os
import re
import subprocess
import sys

import pytest
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components import names
from components.reports import artifact_contents
from pipeline import pipeline as pipeline_lib
from pipeline import sample_data
from pipeline.config import PipelineConfig
from pipeline.inspect import runs as runs_lib

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
  """{'zero': [absolute image paths], 'one': [...]} of the embedded digits."""
  csv_path, _ = sample_data.materialize_digits(str(tmp_path_factory.mktemp('all_digits')))
  by_class = {'zero': [], 'one': []}
  with open(csv_path, newline='') as handle:
    for path, label in csv.reader(handle):
      if label in by_class:
        by_class[label].append(os.path.join(os.path.dirname(csv_path), path))
  return by_class


def _write_span(root, span, zeros, ones):
  folder = os.path.join(root, f'span-{span}')
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, 'all.csv'), 'w', newline='') as handle:
    csv.writer(handle).writerows([(path, 'zero') for path in zeros] + [(path, 'one') for path in ones])


def _validate_newest_span(root, drift='warn'):
  """ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator, as the pipeline wires them; returns the
  newest ExampleAnomalies artifact."""
  labels_path = os.path.join(root, 'labels.txt')
  with open(labels_path, 'w') as handle:
    handle.write('zero\none\n')
  config = PipelineConfig(data_csv=os.path.join(root, 'span-{SPAN}', 'all.csv'), labels_file=labels_path,
                          output_dir=os.path.join(root, 'out'), drift=drift)
  os.makedirs(config.output_dir, exist_ok=True)
  components = pipeline_lib.create_data_components(config, ['zero', 'one'])[:4]
  LocalDagRunner().run(tfx_pipeline.Pipeline(
      pipeline_name='drift', pipeline_root=config.pipeline_root, components=components,
      metadata_connection_config=runs_lib.sqlite_connection_config(config.metadata_path), enable_cache=False))
  store = runs_lib.open_store(config.metadata_path)
  return max(store.get_artifacts_by_type('ExampleAnomalies'), key=lambda artifact: artifact.id)


def test_a_shifted_label_mix_is_a_drift_and_spans_drawn_alike_are_not(digits, tmp_path):
  root = str(tmp_path)
  zeros, ones = digits['zero'], digits['one']
  _write_span(root, 1, zeros[:60], ones[:60])
  first = _validate_newest_span(root)
  assert runs_lib.artifact_properties(first)[names.DRIFT] == []
  assert names.DRIFT_PREVIOUS_SPAN not in first.custom_properties  # nothing to compare the first span with

  _write_span(root, 2, zeros[60:168], ones[60:72])
  second = _validate_newest_span(root)
  [drift] = runs_lib.artifact_properties(second)[names.DRIFT]
  assert drift['feature'] == 'label' and drift['measure'] == 'L-infinity' and drift['previous_span'] == 1
  assert 0.3 < drift['value'] < 0.5 and drift['threshold'] == 0.1  # 50/50 -> 90/10 on the train split
  # The anomaly sits with the schema anomalies, where the DataReport and the UI's Data page read them.
  [listed] = artifact_contents.anomalies(second.uri)['train']
  assert listed.feature == 'label' and 'Linfty distance between current and previous' in listed.description

  _write_span(root, 3, zeros[:108], ones[72:84])
  third = _validate_newest_span(root)
  assert runs_lib.artifact_properties(third)[names.DRIFT] == []
  assert third.custom_properties[names.DRIFT_PREVIOUS_SPAN].int_value == 2

  # The whole pipeline, from the command line, on a fourth span back at 50/50: refused in one line.
  _write_span(root, 4, zeros[:60], ones[:60])
  data = ('--data-csv', os.path.join(root, 'span-{SPAN}', 'all.csv'), '--labels-file', os.path.join(root, 'labels.txt'))
  result = subprocess.run([VISIONFLOW, 'run', '--output-dir', os.path.join(root, 'out'), *data, '--drift', 'fail'],
                          capture_output=True, text=True, timeout=900)
  assert result.returncode == 2, result.stdout + result.stderr[-3000:]
  assert 'Traceback' not in result.stderr
  assert re.search(r'^visionflow run: ExampleValidator refused the data: span 4 drifted from span 3: label: '
                   r'L-infinity distance 0\.\d{4} from span 3, above 0\.1000 \(drift: fail; anomalies: \S+\)$',
                   result.stderr, re.MULTILINE), result.stderr[-3000:]
