"""A local run's output: everything written to file descriptors 1 and 2 goes to the run's log file.

Libraries write to the console in three ways: Python logging, print() and warnings, which go through
sys.stdout and sys.stderr; and native code (TensorFlow's C++ logging, absl, the TFLite converter), which
writes straight to the file descriptors. Only redirecting the descriptors themselves catches all three, and
the child processes a step starts, which inherit them.
"""
import contextlib
import ctypes
import io
import os
import sys
import threading
from typing import Iterator, TextIO, Tuple

_STDOUT, _STDERR = 1, 2
_PUMP_CHUNK_BYTES = 65536
# How long leaving a teed run waits for the copy of what was written to reach the log and the console. It ends
# as soon as the last writer is gone; only a child process still holding the descriptors keeps it longer.
_PUMP_JOIN_S = 10.0


@contextlib.contextmanager
def output_to_log(log_path: str, tee: bool = False) -> Iterator[TextIO]:
  """While inside, whatever this process and its children write to descriptors 1 and 2 is appended to
  log_path (its folder created if missing); with `tee`, it is copied onto the console too. Yields a text stream
  on the console's stderr, for the lines the console is meant to show.

  On leaving, also on an exception or Ctrl+C, the descriptors are the console's again, so that the caller's
  summary or one-line error reaches it. Raises OSError, before anything is redirected, when the log file
  cannot be opened.
  """
  os.makedirs(os.path.dirname(log_path) or '.', exist_ok=True)
  log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
  saved = {fd: os.dup(fd) for fd in (_STDOUT, _STDERR)}
  console = os.fdopen(os.dup(saved[_STDERR]), 'w', buffering=1, encoding=sys.stderr.encoding or 'utf-8',
                      errors='backslashreplace')
  pump = None
  _flush_buffers()
  # Python buffers a print() to a pipe or file until 8 KiB have gathered: line by line, each lands in the log
  # among the log records of its time, inside its step's lines.
  line_buffering = {stream: stream.line_buffering for stream in (sys.stdout, sys.stderr)
                    if isinstance(stream, io.TextIOWrapper)}
  for stream in line_buffering:
    stream.reconfigure(line_buffering=True)
  try:
    if tee:
      target, pump = _start_pump(log_fd, saved[_STDERR])
    else:
      target = log_fd
    for fd in (_STDOUT, _STDERR):
      os.dup2(target, fd)
    if pump:
      os.close(target)  # the pipe's write end lives on as descriptors 1 and 2 only: restoring them ends the copy
    yield console
  finally:
    _flush_buffers()
    for fd in (_STDOUT, _STDERR):
      os.dup2(saved[fd], fd)
      os.close(saved[fd])
    for stream, buffering in line_buffering.items():
      with contextlib.suppress(OSError, ValueError):  # it flushes first, which a full disk or a closed stream fails
        stream.reconfigure(line_buffering=buffering)
    os.close(log_fd)
    console.close()
    if pump:
      pump.join(timeout=_PUMP_JOIN_S)


def _flush_buffers() -> None:
  """What Python and C's stdio hold in their buffers, written out where the descriptors point now. A write the
  log's full disk refuses is dropped, as the log handler drops its lines there."""
  for stream in (sys.stdout, sys.stderr):
    try:
      stream.flush()
    except (OSError, ValueError):  # a full disk; a stream a caller closed
      pass
  ctypes.CDLL(None).fflush(None)


def _start_pump(log_fd: int, console_fd: int) -> Tuple[int, threading.Thread]:
  """(the write end of a pipe, the thread copying what it receives into the log and onto the console). The
  thread works on its own duplicates of the descriptors and closes them when every write end is closed."""
  read_end, write_end = os.pipe()
  targets = (os.dup(log_fd), os.dup(console_fd))
  pump = threading.Thread(target=_copy_until_closed, args=(read_end, targets), name='run-output-tee', daemon=True)
  pump.start()
  return write_end, pump


def _copy_until_closed(source: int, targets: Tuple[int, ...]) -> None:
  try:
    while True:
      chunk = os.read(source, _PUMP_CHUNK_BYTES)
      if not chunk:
        return
      for target in targets:
        _write_all(target, chunk)
  finally:
    for fd in (source, *targets):
      os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
  """Writes all of data; drops it where the target refuses (a full disk, a closed terminal), so that the pump
  goes on draining the pipe and no writer blocks on it."""
  try:
    while data:
      data = data[os.write(fd, data):]
  except OSError:
    pass
