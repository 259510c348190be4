"""A code change invalidates the cache, as a user sees it: the project's code is a copy first on PYTHONPATH.

An unchanged re-run is fully cached; an edit of the preprocessing re-runs Transform and every step after it;
an edit of code that no step runs (the inspection UI) re-runs nothing.
"""
import os
import shutil
import subprocess
import sys
import time

import pytest

from pipeline.inspect import runs as runs_lib

pytestmark = pytest.mark.slow

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
AFTER_TRANSFORM = ('Transform', 'Tuner', 'Trainer', 'Evaluator', 'Pusher')


def _states(output_dir):
  store = runs_lib.open_store(os.path.join(output_dir, 'metadata.sqlite'))
  return {node.node_id: node.state for node in runs_lib.run_nodes(store, runs_lib.newest_run_id(store))}


def _append(path, text):
  with open(path, 'a') as handle:
    handle.write(text)


def test_code_changes_invalidate_the_cache_and_nothing_else_does(tmp_path):
  code = tmp_path / 'code'
  for package in ('components', 'pipeline'):
    shutil.copytree(os.path.join(REPOSITORY, package), code / package, ignore=shutil.ignore_patterns('__pycache__'))
  environment = dict(os.environ, PYTHONPATH=str(code))
  output_dir = str(tmp_path / 'out')

  def run():
    started = time.monotonic()
    # Nothing reaches the bar, so nothing is pushed: production, part of the Evaluator's key, stays the same.
    result = subprocess.run([VISIONFLOW, 'run', '--output-dir', output_dir, '--tuner-trials', '0', '--epochs', '2',
                             '--min-accuracy', '1.0'],
                            capture_output=True, text=True, timeout=1500, env=environment, cwd=str(tmp_path))
    assert result.returncode == 1 and 'No model pushed' in result.stdout, result.stdout + result.stderr[-5000:]
    return _states(output_dir), time.monotonic() - started

  first, _ = run()
  assert set(first.values()) == {'COMPLETE'}

  unchanged, seconds = run()
  assert set(unchanged.values()) == {'CACHED'}, unchanged
  assert seconds < 30

  _append(code / 'components' / 'transform' / 'preprocessing.py', '\nEDITED = True  # a change to the step\n')
  edited, _ = run()
  assert {edited[node] for node in AFTER_TRANSFORM if node in edited} == {'COMPLETE'}, edited

  _append(code / 'pipeline' / 'inspect' / 'ui.py', '\nEDITED = True  # no step runs this\n')
  untouched, _ = run()
  assert set(untouched.values()) == {'CACHED'}, untouched
