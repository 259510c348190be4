"""The local runner's summary of a finished run: each decision the run made, one line each."""
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
