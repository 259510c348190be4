"""Readable progress for long runs: which component is running, which was cached, how long each took.

TFX and Beam log thousands of INFO lines; those go to a log file, and the console gets one line per
component step plus the Trainer's per-epoch lines.
"""
import logging
import os
import sys
import time
from typing import Optional, TextIO

from absl import logging as absl_logging

from pipeline.inspect import run_logs

_RUNNING = 'Component %s is running.'
_FINISHED = 'Component %s is finished.'
_CACHED = 'A cached execution %d is used.'


class ProgressHandler(logging.Handler):
  """Turns the runner's log records into `[k/N] Component ...` lines on a stream."""

  def __init__(self, total_components: int, stream: TextIO = sys.stderr):
    super().__init__(level=logging.INFO)
    self._total = total_components
    self._stream = stream
    self._started = {}
    self._cached = set()
    self._current: Optional[str] = None

  @property
  def current(self) -> Optional[str]:
    """The component started last: the one running, or, between two, the one that just finished."""
    return self._current

  def emit(self, record: logging.LogRecord) -> None:
    if record.msg == _RUNNING:
      self._current = record.args[0]
      self._started[self._current] = time.monotonic()
      self._write(f'[{len(self._started)}/{self._total}] {self._current} running')
    elif record.msg == _CACHED and self._current:
      self._cached.add(self._current)
    elif record.msg == _FINISHED:
      name = record.args[0]
      seconds = time.monotonic() - self._started.get(name, time.monotonic())
      state = 'cached' if name in self._cached else 'done'
      self._write(f'[{len(self._started)}/{self._total}] {name} {state} in {seconds:.1f}s')
    elif isinstance(record.msg, str) and record.msg.startswith('Trainer epoch'):
      self._write(f'    {record.getMessage()}')

  def _write(self, line: str) -> None:
    self._stream.write(line + '\n')
    self._stream.flush()


class _RunLogHandler(logging.FileHandler):
  """The run's log file. A line it cannot write (its disk is full) is dropped, not printed with a traceback on
  the console: the CLI says in one line why the run stopped. Any other logging error is reported as usual."""

  def handleError(self, record: logging.LogRecord) -> None:
    if not isinstance(sys.exc_info()[1], OSError):
      super().handleError(record)


def configure(log_dir: str, run_id: str, total_components: int) -> str:
  """Sends all INFO logs to the run's file under log_dir and progress lines to stderr; returns its path."""
  os.makedirs(log_dir, exist_ok=True)
  log_path = run_logs.log_path(log_dir, run_id)
  absl_logging.set_verbosity(absl_logging.INFO)
  absl_logging.get_absl_handler().setLevel(logging.WARNING)
  root = logging.getLogger()
  root.setLevel(logging.INFO)
  for handler in list(root.handlers):
    if isinstance(handler, (ProgressHandler, logging.FileHandler)):
      root.removeHandler(handler)
      handler.close()
    else:  # a console handler some library installed: its warnings and errors are in the log file, and the
      handler.setLevel(logging.CRITICAL)  # CLI says in one line how the run ended
  file_handler = _RunLogHandler(log_path, encoding='utf-8')
  file_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
  root.addHandler(file_handler)
  root.addHandler(ProgressHandler(total_components))
  _FAILURES.handlers = [file_handler]
  return log_path


# Why a run stopped, with its traceback: for the run's log file only. The console gets the CLI's one line.
_FAILURES = logging.getLogger('visionflow.failure')
_FAILURES.propagate = False


def running_step() -> Optional[str]:
  """The component the run is in (or stopped in), for a message about it; None before the first."""
  handler = next((handler for handler in logging.getLogger().handlers if isinstance(handler, ProgressHandler)),
                 None)
  return handler.current if handler else None


def log_failure() -> None:
  """Logs the exception being handled, traceback included, to the run's log file alone."""
  _FAILURES.exception(run_logs.FAILURE_MESSAGE)
