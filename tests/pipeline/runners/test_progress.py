"""The console during a run: a line per step, trial and epoch, which step is running, everything else in the log
file (and on the console too with verbose), and nothing else on a full disk."""
import io
import logging
import os
import re
import subprocess
import sys

from pipeline.runners import progress

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Reports a run with its log folder on the full disk, then logs as a step does.
LOG_ON_A_FULL_DISK = '''
import logging, sys
from pipeline.runners import progress
with progress.reporting(sys.argv[1] + '/run-1.log', 3):
  with open(sys.argv[1] + '/filler', 'wb') as filler:
    try:
      filler.write(b'x' * 1024 * 1024)
    except OSError:
      pass
  logging.info('Trainer epoch 1/3: ' + 'x' * 10000)
print('logged')
'''
# A run of two steps that stops in the second, each library writing its own way. argv: log path, 'verbose' or not.
STOPPED_RUN = '''
import logging, os, sys
from pipeline.runners import progress
try:
  with progress.reporting(sys.argv[1], 2, verbose=sys.argv[2] == 'verbose'):
    logging.info('Component %s is running.', 'Tuner')
    logging.info('Tuner trial %d/%d: %s; %s', 1, 2, 'backbone small_cnn', 'val_accuracy 0.9843')
    logging.warning('a library warning')
    print('a library print')
    os.write(2, b'a native log line\\n')
    logging.info('Component %s is finished.', 'Tuner')
    logging.info('Component %s is running.', 'Trainer')
    logging.info('Trainer epoch %d/%d: %s', 1, 40, 'accuracy 0.4382')
    raise OSError('no space left')
except OSError as error:
  print(f'visionflow run: error: {error}', file=sys.stderr)
'''
LIBRARY_LINES = ['a library warning', 'a library print', 'a native log line']


def _record(message, *args):
  return logging.LogRecord('absl', logging.INFO, __file__, 1, message, args, None)


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def _stopped_run(tmp_path, verbose):
  log_path = tmp_path / 'logs' / 'run-1.log'
  result = subprocess.run([sys.executable, '-c', STOPPED_RUN, str(log_path), 'verbose' if verbose else 'quiet'],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  return result, log_path.read_text()


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
  assert result.stderr == 'Trainer epoch 1/3: ' + 'x' * 10000 + '\n', result.stderr[-3000:]


def test_the_console_gets_a_line_per_step_trial_and_epoch_and_the_log_everything(tmp_path):
  result, log = _stopped_run(tmp_path, verbose=False)
  assert result.stdout == ''
  assert re.fullmatch(r'Tuner trial 1/2: backbone small_cnn; val_accuracy 0\.9843\n'
                      r'\[1/2\] Tuner done in \d+\.\ds\n'
                      r'Trainer epoch 1/40: accuracy 0\.4382\n'
                      r'\[2/2\] Trainer running\n'  # the step the run stopped in
                      r'visionflow run: error: no space left\n', result.stderr), result.stderr
  assert all(line in log for line in LIBRARY_LINES + ['Component Trainer is running.', 'Trainer epoch 1/40']), log


def test_verbose_the_console_gets_everything_the_log_gets_too(tmp_path):
  result, log = _stopped_run(tmp_path, verbose=True)
  console = result.stderr.splitlines()
  assert console[0] == '[1/2] Tuner running' and console[-1] == 'visionflow run: error: no space left'
  assert '    Tuner trial 1/2: backbone small_cnn; val_accuracy 0.9843' in console
  assert all(any(line in shown for shown in console) for line in LIBRARY_LINES + ['Component Tuner is running.'])
  assert all(line in log for line in LIBRARY_LINES + ['Component Trainer is running.'])


def test_on_a_terminal_the_running_step_is_a_status_line_the_next_line_replaces():
  terminal = _Terminal()
  handler = progress.ProgressHandler(2, terminal)
  handler.emit(_record('Component %s is running.', 'Trainer'))
  assert terminal.getvalue() == '\r\x1b[K[1/2] Trainer running'
  handler.emit(_record('Trainer epoch %d/%d: %s', 1, 40, 'accuracy 0.4382'))
  handler.emit(_record('Component %s is finished.', 'Trainer'))
  handler.close_running()
  assert re.fullmatch(r'\r\x1b\[K\[1/2\] Trainer running'
                      r'\r\x1b\[KTrainer epoch 1/40: accuracy 0\.4382\n\r\x1b\[K\[1/2\] Trainer running'
                      r'\r\x1b\[K\[1/2\] Trainer done in \d+\.\ds\n', terminal.getvalue()), terminal.getvalue()
