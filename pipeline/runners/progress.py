"""Readable progress for long runs: which component is running, which was cached, how long each took.

TFX and Beam log thousands of INFO lines, and libraries print and warn; all of that goes to the run's log file,
and the console gets one line per component step plus one per Tuner trial and per Trainer epoch.
"""
import contextlib
import logging
import sys
import time
from typing import Iterator, List, Optional, TextIO

from absl import logging as absl_logging

from pipeline.inspect import run_logs
from pipeline.runners import console as console_lib

_RUNNING = 'Component %s is running.'
_FINISHED = 'Component %s is finished.'
_CACHED = 'A cached execution %d is used.'
# The log lines the console shows as they are: components/trainer's training.EpochLogger and tuner_fn's trial line.
_SHOWN_PREFIXES = ('Trainer epoch', 'Tuner trial')
_LOG_FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'
_ERASE_LINE = '\r\x1b[K'


class ProgressHandler(logging.Handler):
  """Turns the runner's log records into console lines: `[k/N] Component done in 4.2s` (or `cached`) as each
  step ends, each Tuner trial and Trainer epoch as it ends, and `[k/N] Component running` for the step a run
  stopped in (close_running). The step that is running is shown as it starts: on a line of its own with
  `show_running`, else, on a terminal, on a status line that the next line replaces; one line per step keeps a
  default run's console short."""

  def __init__(self, total_components: int, stream: TextIO, show_running: bool = False):
    super().__init__(level=logging.INFO)
    self._total = total_components
    self._stream = stream
    self._show_running = show_running
    self._status_line = not show_running and stream.isatty()
    self._status_shown = False
    self._started = {}
    self._cached = set()
    self._current: Optional[str] = None
    self._running: Optional[str] = None

  @property
  def current(self) -> Optional[str]:
    """The component started last: the one running, or, between two, the one that just finished."""
    return self._current

  def emit(self, record: logging.LogRecord) -> None:
    if record.msg == _RUNNING:
      self._current = self._running = record.args[0]
      self._started[self._current] = time.monotonic()
      if self._show_running:
        self._write(self._running_line())
      self._show_status()
    elif record.msg == _CACHED and self._current:
      self._cached.add(self._current)
    elif record.msg == _FINISHED:
      name = record.args[0]
      seconds = time.monotonic() - self._started.get(name, time.monotonic())
      state = 'cached' if name in self._cached else 'done'
      self._running = None
      self._write(f'[{len(self._started)}/{self._total}] {name} {state} in {seconds:.1f}s')
    elif isinstance(record.msg, str) and record.msg.startswith(_SHOWN_PREFIXES):
      self._write(f'    {record.getMessage()}' if self._show_running else record.getMessage())
      self._show_status()

  def close_running(self) -> None:
    """Ends the console's progress: the step the run stopped in, if it stopped in one, keeps a line of its own,
    and no status line is left for the next line to run into."""
    if self._running and not self._show_running:
      self._write(self._running_line())
    self._running = None

  def _running_line(self) -> str:
    return f'[{len(self._started)}/{self._total}] {self._running} running'

  def _show_status(self) -> None:
    if self._status_line and self._running:
      self._stream.write(_ERASE_LINE + self._running_line())
      self._stream.flush()
      self._status_shown = True

  def _write(self, line: str) -> None:
    self._stream.write((_ERASE_LINE if self._status_shown else '') + line + '\n')
    self._stream.flush()
    self._status_shown = False


class _RunLogHandler(logging.FileHandler):
  """The run's log file. A line it cannot write (its disk is full) is dropped, not printed with a traceback on
  the console: the CLI says in one line why the run stopped. Any other logging error is reported as usual."""

  def handleError(self, record: logging.LogRecord) -> None:
    if not isinstance(sys.exc_info()[1], OSError):
      super().handleError(record)


@contextlib.contextmanager
def reporting(log_path: str, total_components: int, verbose: bool = False) -> Iterator[None]:
  """While inside, all INFO logs and everything written to file descriptors 1 and 2 (print()s, warnings, native
  code's logging) go to the run's log file at log_path, and the console gets the progress lines; with `verbose`
  it gets everything the log file gets as well. On leaving, also on an exception, the console is restored and
  the log file keeps receiving the process's logs."""
  with console_lib.output_to_log(log_path, tee=verbose) as console:
    progress = ProgressHandler(total_components, console, show_running=verbose)
    shown: List[logging.Handler] = [progress]
    if verbose:
      shown.append(logging.StreamHandler(console))
      shown[-1].setFormatter(logging.Formatter(_LOG_FORMAT))
    _configure(log_path, shown)
    try:
      yield
    finally:
      progress.close_running()
      for handler in shown:
        logging.getLogger().removeHandler(handler)


def _configure(log_path: str, console_handlers: List[logging.Handler]) -> None:
  """Sends all INFO logs to the run's file and the records the console shows to console_handlers."""
  absl_logging.set_verbosity(absl_logging.INFO)
  absl_logging.get_absl_handler().setLevel(logging.WARNING)
  root = logging.getLogger()
  root.setLevel(logging.INFO)
  for handler in list(root.handlers):
    if isinstance(handler, (ProgressHandler, logging.FileHandler)):
      root.removeHandler(handler)
      handler.close()
  _quiet_library_consoles(root)
  file_handler = _RunLogHandler(log_path, encoding='utf-8')
  file_handler.setFormatter(logging.Formatter(_LOG_FORMAT))
  root.addHandler(file_handler)
  for handler in console_handlers:
    root.addHandler(handler)
  _FAILURES.handlers = [file_handler]


def _quiet_library_consoles(root: logging.Logger) -> None:
  """Console handlers that libraries installed, on the root or on their own loggers (TensorFlow's, when it is
  imported before logging is configured), would write each record a second time into the log file through
  descriptor 2: the root's file handler already has every record that reaches the root."""
  loggers = [root] + [logger for logger in list(logging.Logger.manager.loggerDict.values())
                      if isinstance(logger, logging.Logger) and _reaches_root(logger)]
  for logger in loggers:
    for handler in logger.handlers:
      if logger is root or (isinstance(handler, logging.StreamHandler)
                            and not isinstance(handler, logging.FileHandler)):
        handler.setLevel(logging.CRITICAL)


def _reaches_root(logger: logging.Logger) -> bool:
  while logger.propagate and logger.parent is not None:
    logger = logger.parent
  return logger is logging.getLogger()


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
