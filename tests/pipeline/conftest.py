"""Real runs that several test modules read: five cheap runs in one store, for comparing runs."""
import dataclasses
import os
import re
import subprocess
import sys

import pytest

from pipeline import sample_data

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
CHEAP_RUN = ('--tuner-trials', '0', '--min-accuracy', '0', '--min-slice-accuracy', '0')


@dataclasses.dataclass(frozen=True)
class ComparedRuns:
  output_dir: str
  first: str       # 2 epochs, pushed with no model in production before it
  retrained: str   # the same data and one more epoch, measured against the first run's pushed model
  uncached: str    # the first run again without the cache: a new ExampleGen output from the same files
  other_data: str  # 150 other digit images: another test set
  refused_data: str  # ExampleGen refuses its data, so nothing after it runs


def _run(output_dir: str, data_dir: str, limit: int, epochs: int, *flags: str) -> str:
  """The id of a finished run on the first `limit` digit images; blessed or not, as long as it finished."""
  csv_path, labels_path = sample_data.materialize_digits(data_dir, limit=limit)
  finished = subprocess.run([VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', csv_path, '--labels-file',
                             labels_path, '--epochs', str(epochs), *CHEAP_RUN, *flags], capture_output=True,
                            text=True, timeout=1500)
  assert finished.returncode in (0, 1), finished.stdout + finished.stderr[-5000:]
  return re.search(r'^Run (\S+) finished', finished.stdout, re.MULTILINE).group(1)


def _refused_run(output_dir: str, data_dir: str) -> str:
  """The id of a run whose data ExampleGen refuses: 2 of its 22 rows name images that are not there."""
  csv_path, labels_path = sample_data.materialize_digits(data_dir, limit=20)
  with open(csv_path, 'a', encoding='utf-8') as handle:
    handle.write('missing/one.jpg,zero\nmissing/two.jpg,nine\n')
  refused = subprocess.run([VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', csv_path, '--labels-file',
                            labels_path, *CHEAP_RUN], capture_output=True, text=True, timeout=1500)
  assert refused.returncode == 2, refused.stdout + refused.stderr[-5000:]
  listed = subprocess.run([VISIONFLOW, 'runs', '--output-dir', output_dir, '--state', 'failed'], capture_output=True,
                          text=True, timeout=300)
  return listed.stdout.splitlines()[1].split('\t')[0]


@pytest.fixture(scope='session')
def compared_runs(tmp_path_factory) -> ComparedRuns:
  root = tmp_path_factory.mktemp('compared')
  output_dir = str(root / 'out')
  first = _run(output_dir, str(root / 'digits'), 200, epochs=2)
  retrained = _run(output_dir, str(root / 'digits'), 200, epochs=3)
  uncached = _run(output_dir, str(root / 'digits'), 200, 2, '--no-cache')
  other_data = _run(output_dir, str(root / 'other_digits'), 150, epochs=2)
  refused_data = _refused_run(output_dir, str(root / 'refused_digits'))
  return ComparedRuns(output_dir, first, retrained, uncached, other_data, refused_data)
