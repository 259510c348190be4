"""A full disk, said in one line: which path could not be written, about how much was needed, how much is free.

TensorFlow reports a full disk as a ResourceExhaustedError ("<path>; No space left on device"), Python as
an OSError with errno ENOSPC (or EDQUOT, over quota). Steps that write a lot (the Trainer's checkpoints and
export, the Pusher's copy) wrap their writes in `reporting_disk_full`, which turns either into a
DiskFullError; their own clean-up (a push's staging folder) still runs on the way out. Every other write is
caught where a runner sees a step fail: `step_disk_full` finds the full disk in the step's error, which Beam may
have re-raised as a RuntimeError that keeps only the original's text.
"""
import contextlib
import errno
import os
import re
from typing import Iterator, Optional

import tensorflow as tf

from components import paths

_NO_SPACE = 'No space left on device'
_OP_PREFIX = re.compile(r'^\s*\{\{[^}]*\}\}')  # '{{function_node ...}} ' before a path, from inside a graph
# A full disk in an error's text: TensorFlow's '<path>; No space left on device' and Python's
# "[Errno 28] No space left on device: '<path>'" (122: over quota), as Beam quotes them in its own errors.
_TENSORFLOW_TEXT = re.compile(r'(?:^|: |\}\} )((?:/|[a-z][a-z0-9+.-]*://)[^;\n]*); ' + _NO_SPACE)
_PYTHON_TEXT = re.compile(rf'\[Errno (?:{errno.ENOSPC}|{errno.EDQUOT})\] [^:\n]*(?:: \'([^\'\n]*)\')?')


class DiskFullError(OSError):
  """No space left where a step writes; the message names the path, the space needed and the space free."""


def _failed_path(error: BaseException) -> Optional[str]:
  if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
    return error.filename or ''
  if isinstance(error, tf.errors.ResourceExhaustedError) and _NO_SPACE in (error.message or ''):
    return _OP_PREFIX.sub('', error.message.split(';')[0]).strip()
  return None


def free_bytes(path: str) -> Optional[int]:
  """Free space for unprivileged writers on the file system holding `path` (its nearest existing folder)."""
  if paths.is_remote(path):
    return None
  folder = os.path.abspath(path)
  while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
    folder = os.path.dirname(folder)
  try:
    stats = os.statvfs(folder)
  except OSError:
    return None
  return stats.f_bavail * stats.f_frsize


def tree_bytes(path: str) -> int:
  """The bytes of every file under a folder (any file system TensorFlow reads)."""
  return sum(tf.io.gfile.stat(os.path.join(folder, name)).length
             for folder, _, names in tf.io.gfile.walk(path) for name in names)


def _megabytes(count: Optional[int]) -> str:
  return 'an unknown amount' if count is None else f'{count / 1e6:.1f} MB'


@contextlib.contextmanager
def reporting_disk_full(destination: str, needed_bytes: int, what: str) -> Iterator[None]:
  """Raises DiskFullError naming the path that failed (else `destination`) when the disk fills up inside."""
  try:
    yield
  except (OSError, tf.errors.ResourceExhaustedError) as error:
    failed = _failed_path(error)
    if failed is None or isinstance(error, DiskFullError):
      raise
    path = failed or destination
    raise DiskFullError(
        f'no space left on the device writing {path}: {what} needs about {_megabytes(needed_bytes)}, '
        f'{_megabytes(free_bytes(path))} free there; free some space or write elsewhere') from None


def _failed_path_in_text(text: str) -> Optional[str]:
  for pattern in (_TENSORFLOW_TEXT, _PYTHON_TEXT):
    found = pattern.search(text)
    if found:
      return found.group(1) or ''
  return None


def step_disk_full(error: BaseException, step: str, written_under: str) -> Optional[DiskFullError]:
  """A DiskFullError naming the step, the path and the free space when the disk filled up under `error`.

  Looks through the errors it was raised from or while handling, and their text; None for any other failure.
  `written_under`, the folder the step writes in, is named and its free space measured when the error names no
  path (Beam's file sinks raise ENOSPC without one).
  """
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, DiskFullError):
      return DiskFullError(f'{step}: {error}')
    failed = _failed_path(error)
    if failed is None:
      failed = _failed_path_in_text(str(error))
    if failed is not None:
      where = f'writing {failed}' if failed else f'under {written_under}'
      return DiskFullError(f'{step}: no space left on the device {where}, '
                           f'{_megabytes(free_bytes(failed or written_under))} free there; free some space or '
                           f'write elsewhere, and run again')
    error = error.__cause__ or error.__context__
  return None
