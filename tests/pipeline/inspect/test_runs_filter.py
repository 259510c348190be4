"""The runs list's filter (`visionflow runs`' flags, the UI's query) over a real ML Metadata store holding training
and monitoring runs written as TFX's runner writes them, and where a running run is."""
import datetime
import time

import pytest

from pipeline.inspect import runs as runs_lib
from tests.pipeline.inspect import stored_runs
from tests.pipeline.inspect.stored_runs import Step

TRAINING, MONITORING = 'visionflow', 'visionflow-monitoring'
# (pipeline, run id, steps), oldest first.
RUNS = (
    (TRAINING, 'train-pushed', (Step('FileBasedExampleGen'), stored_runs.blessed(True), stored_runs.pushed('7'))),
    (MONITORING, 'monitor-complete', (Step('FileBasedExampleGen'), Step('ProductionMonitor'))),
    (TRAINING, 'train-refused', (Step('FileBasedExampleGen'), stored_runs.blessed(False), stored_runs.pushed())),
    (TRAINING, 'train-failed', (Step('FileBasedExampleGen', 'FAILED'),)),
    (MONITORING, 'monitor-failed', (Step('FileBasedExampleGen', 'FAILED'),)),
    (MONITORING, 'monitor-running', (Step('FileBasedExampleGen'), Step('ProductionMonitor', 'RUNNING'))),
)
NEWEST_FIRST = [run_id for _, run_id, _ in reversed(RUNS)]


@pytest.fixture(scope='module')
def store(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('filtered') / 'metadata.sqlite')
  for pipeline_name, run_id, steps in RUNS:
    stored_runs.add_run(path, pipeline_name, run_id, steps)
    time.sleep(0.01)  # the list orders runs by when the store created them, to the millisecond
  return runs_lib.open_store(path, read_only=True)


def _listed(store, **filters):
  views, total = runs_lib.list_runs(store, runs_lib.RunFilter(**filters))
  assert total == len(views)
  return [view.run_id for view in views]


def test_the_pipeline_filter_tells_monitoring_runs_from_training_runs(store):
  views, total = runs_lib.list_runs(store, runs_lib.RunFilter(pipeline=runs_lib.MONITORING))
  assert [view.run_id for view in views] == ['monitor-running', 'monitor-failed', 'monitor-complete']
  assert total == 3 and {view.pipeline for view in views} == {runs_lib.MONITORING}
  assert _listed(store, pipeline=runs_lib.TRAINING) == ['train-failed', 'train-refused', 'train-pushed']
  assert _listed(store) == NEWEST_FIRST


def test_the_filters_combine(store):
  assert _listed(store, pipeline=runs_lib.MONITORING, state='FAILED') == ['monitor-failed']
  assert _listed(store, state='RUNNING') == ['monitor-running']
  assert _listed(store, blessed=True) == ['train-pushed']
  assert _listed(store, blessed=False) == ['train-refused']  # runs without a verdict are neither
  assert _listed(store, pushed=True) == ['train-pushed']
  assert _listed(store, pushed=False) == [run_id for run_id in NEWEST_FIRST if run_id != 'train-pushed']
  assert _listed(store, pipeline=runs_lib.MONITORING, pushed=True) == []


def test_a_page_of_runs_filtered_by_their_outcome_counts_every_match(store):
  views, total = runs_lib.list_runs(store, runs_lib.RunFilter(pushed=False), offset=1, limit=2)
  assert total == 5 and [view.run_id for view in views] == NEWEST_FIRST[1:3]


def test_the_date_filter_admits_the_days_the_runs_started(store):
  days = sorted({datetime.date.fromtimestamp(view.started_ms / 1000) for view in runs_lib.list_runs(store)[0]})
  one_day = datetime.timedelta(days=1)
  assert _listed(store, since=days[0], until=days[-1]) == NEWEST_FIRST
  assert _listed(store, since=days[-1] + one_day) == []
  assert _listed(store, until=days[0] - one_day) == []


def test_a_running_run_shows_the_step_it_is_in(store):
  views, _ = runs_lib.list_runs(store, runs_lib.RunFilter(state='RUNNING'))
  assert [view.state_text for view in views] == ['RUNNING at ProductionMonitor']


def test_the_filter_reads_back_its_own_text():
  run_filter = runs_lib.RunFilter(pipeline=runs_lib.MONITORING, state='FAILED', blessed=False, pushed=True,
                                  since=datetime.date(2026, 12, 1), until=datetime.date(2026, 12, 31))
  assert runs_lib.RunFilter.parse(**run_filter.as_text()) == run_filter
  assert runs_lib.RunFilter.parse(pipeline='Monitoring', state='failed', pushed='YES') == runs_lib.RunFilter(
      pipeline=runs_lib.MONITORING, state='FAILED', pushed=True)
  assert runs_lib.RunFilter.parse() == runs_lib.RunFilter()
  assert run_filter.describe() == 'failed, monitoring, not blessed, pushed, since 2026-12-01, until 2026-12-31'


@pytest.mark.parametrize('text, message', [
    (dict(pipeline='nightly'), "no pipeline 'nightly': choose one of training, monitoring"),
    (dict(state='done'), "no run state 'done': choose one of complete, failed, running, abandoned"),
    (dict(blessed='maybe'), "blessed 'maybe': choose yes or no"),
    (dict(pushed='1'), "pushed '1': choose yes or no"),
    (dict(since='2026-13-01'), "since '2026-13-01' is not a date: give it as YYYY-MM-DD"),
    (dict(until='yesterday'), "until 'yesterday' is not a date: give it as YYYY-MM-DD"),
    (dict(since='2026-12-05', until='2026-12-01'), 'since 2026-12-05 is after until 2026-12-01: no run can match'),
])
def test_a_bad_value_is_named_in_one_line(text, message):
  with pytest.raises(ValueError) as raised:
    runs_lib.RunFilter.parse(**text)
  assert str(raised.value) == message
