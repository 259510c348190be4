"""A run's output: what this process and its children write to file descriptors 1 and 2 lands in the log file,
the console keeps only its own lines, and gets the rest too when teed; the console is back on leaving, also on
an exception or Ctrl+C."""
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Writes the ways libraries do, inside the redirection, then a line after it. argv: log path, 'tee' or 'quiet'.
WRITE_EVERY_WAY = '''
import os, subprocess, sys, warnings
from pipeline.runners import console
with console.output_to_log(sys.argv[1], tee=sys.argv[2] == 'tee') as terminal:
  terminal.write('progress line\\n')
  print('printed by python')
  warnings.warn('a python warning')
  os.write(1, b'native write to fd 1\\n')
  os.write(2, b'native write to fd 2\\n')
  subprocess.run(['sh', '-c', 'echo child process stdout; echo child process stderr >&2'], check=True)
print('summary after the run')
'''
# Fails inside the redirection, as a run's step does, and says so in one line once out of it.
FAIL_INSIDE = '''
import os, sys
from pipeline.runners import console
try:
  with console.output_to_log(sys.argv[1]):
    os.write(2, b'traceback of the failure\\n')
    raise ValueError('the data is bad')
except ValueError as error:
  print(f'visionflow run: error: {error}', file=sys.stderr)
'''
# Waits inside the redirection for Ctrl+C.
WAIT_FOR_CTRL_C = '''
import os, sys, time
from pipeline.runners import console
try:
  with console.output_to_log(sys.argv[1]):
    os.write(2, b'waiting\\n')
    time.sleep(120)
except KeyboardInterrupt:
  print('interrupted', file=sys.stderr)
'''
NATIVE_AND_LIBRARY_LINES = ['printed by python', 'a python warning', 'native write to fd 1', 'native write to fd 2',
                            'child process stdout', 'child process stderr']


def _run(script, *args):
  """The script's process, with Python's own buffering: a print() to a pipe or file waits in a buffer."""
  environment = {name: value for name, value in os.environ.items() if name != 'PYTHONUNBUFFERED'}
  return subprocess.run([sys.executable, '-c', script, *args], cwd=ROOT, env=environment, capture_output=True,
                        text=True, timeout=120)


def test_everything_written_inside_goes_to_the_log_and_the_console_gets_only_its_own_lines(tmp_path):
  log_path = str(tmp_path / 'logs' / 'run.log')
  result = _run(WRITE_EVERY_WAY, log_path, 'quiet')
  assert result.returncode == 0, result.stderr
  assert result.stdout == 'summary after the run\n'
  assert result.stderr == 'progress line\n'
  with open(log_path) as handle:
    log = handle.read()
  positions = [log.find(line) for line in NATIVE_AND_LIBRARY_LINES]
  assert -1 not in positions and positions == sorted(positions), log  # each line where it was written
  assert 'progress line' not in log and 'summary after the run' not in log


def test_teed_the_console_gets_everything_the_log_gets(tmp_path):
  log_path = str(tmp_path / 'run.log')
  result = _run(WRITE_EVERY_WAY, log_path, 'tee')
  assert result.returncode == 0, result.stderr
  assert result.stdout == 'summary after the run\n'
  assert all(line in result.stderr for line in NATIVE_AND_LIBRARY_LINES + ['progress line']), result.stderr
  with open(log_path) as handle:
    log = handle.read()
  assert all(line in log for line in NATIVE_AND_LIBRARY_LINES), log


def test_a_failure_inside_still_prints_its_one_line_on_the_console(tmp_path):
  log_path = str(tmp_path / 'run.log')
  result = _run(FAIL_INSIDE, log_path)
  assert result.returncode == 0, result.stderr
  assert result.stderr == 'visionflow run: error: the data is bad\n'
  with open(log_path) as handle:
    assert handle.read() == 'traceback of the failure\n'


def test_ctrl_c_inside_restores_the_console(tmp_path):
  log_path = tmp_path / 'run.log'
  # A job started in the background of a shell (as CI may run the suite) inherits SIGINT ignored, and Python
  # then installs no KeyboardInterrupt handler: the child gets the default disposition back, as a terminal's.
  process = subprocess.Popen([sys.executable, '-c', WAIT_FOR_CTRL_C, str(log_path)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  try:
    deadline = time.monotonic() + 60
    while not (log_path.exists() and 'waiting' in log_path.read_text()):
      if time.monotonic() > deadline or process.poll() is not None:
        pytest.fail(f'the child never waited inside the redirection: {process.communicate(timeout=10)}')
      time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
  finally:
    process.kill()
  assert (stdout, stderr) == ('', 'interrupted\n')
