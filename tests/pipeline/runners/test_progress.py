"""The console during a run: progress lines, which step is running, and nothing else on a full disk."""
import io
import logging
import os
import subprocess
import sys

from pipeline.runners import progress

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Configures the run's logging with its log folder on the full disk, then logs as a step does.
LOG_ON_A_FULL_DISK = '''
import logging, sys
from pipeline.runners import progress
progress.configure(sys.argv[1], 'run-1', 3)
with open(sys.argv[1] + '/filler', 'wb') as filler:
  try:
    filler.write(b'x' * 1024 * 1024)
  except OSError:
    pass
logging.info('Trainer epoch 1/3: ' + 'x' * 10000)
print('logged')
'''


def _record(message, *args):
  return logging.LogRecord('absl', logging.INFO, __file__, 1, message, args, None)


def test_the_running_step_is_the_component_started_last():
  handler = progress.ProgressHandler(3, stream=io.StringIO())
  assert handler.current is None
  handler.emit(_record('Component %s is running.', 'Transform'))
  handler.emit(_record('Component %s is finished.', 'Transform'))
  assert handler.current == 'Transform'
  handler.emit(_record('Component %s is running.', 'Trainer'))
  assert handler.current == 'Trainer'


def test_a_log_file_on_a_full_disk_prints_no_traceback(small_disk):
  result = subprocess.run([sys.executable, '-c', LOG_ON_A_FULL_DISK, small_disk], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 0 and result.stdout == 'logged\n', result.stderr[-3000:]
  assert result.stderr == '    Trainer epoch 1/3: ' + 'x' * 10000 + '\n', result.stderr[-3000:]
