"""The local runner: the checks before a run, and its summary of a finished run, each decision in one line."""
import os

import pytest

from pipeline import config as config_lib
from pipeline.inspect import runs as runs_lib
from pipeline.runners import local

PUSHED = dict(accepted_rows=100, rejected_rows=0, rejects_uri='/out/rejects', accuracy=0.95, blessed=True,
              pushed_model_dir='/out/serving/image_classifier/2', training_outcome='trained 4 epochs, kept epoch 3',
              model_choice='small_cnn (from scratch) at 32 px')


def _summary(**outcome):
  return local.RunSummary(run_id='r', outcome=runs_lib.RunOutcome(**outcome), log_path='/out/logs/r.log')


def test_the_warm_start_decision_is_printed_after_the_training_line():
  lines = _summary(**PUSHED, warm_start='from scratch: no model in production').describe().splitlines()
  assert lines[:3] == ['Model: small_cnn (from scratch) at 32 px', 'Training: trained 4 epochs, kept epoch 3',
                       'Warm start: from scratch: no model in production']


def test_a_drift_is_printed_after_the_rows_taken_in():
  drift = 'the data drifted from span 1 (drift: warn, so the run went on): label: L-infinity distance 0.2500'
  assert _summary(**PUSHED, drift=drift).describe_data().splitlines() == [
      'ExampleGen accepted 100 rows and rejected 0; rejects report: /out/rejects', f'Drift: {drift}']


def test_a_run_without_drift_or_warm_start_decision_prints_neither():
  summary = _summary(**PUSHED)
  assert 'Drift' not in summary.describe_data() and 'Warm start' not in summary.describe()


def test_an_image_folder_holding_a_name_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
  (tmp_path / 'cats').mkdir()
  (tmp_path / 'cats' / 'ok.jpg').write_bytes(b'x')
  with open(os.path.join(os.fsencode(tmp_path / 'cats'), b'caf\xe9.jpg'), 'wb') as handle:
    handle.write(b'x')
  config = config_lib.PipelineConfig(image_folder=str(tmp_path))
  with pytest.raises(ValueError, match=r'cats/caf\\xe9\.jpg: the path is not valid UTF-8 \(it holds \\xe9\)'):
    local.check_inputs(config)
  os.remove(os.path.join(os.fsencode(tmp_path / 'cats'), b'caf\xe9.jpg'))
  local.check_inputs(config)
