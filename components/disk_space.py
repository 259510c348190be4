"""A full disk, said in one line: which path could not be written, about how much was needed, how much is free.

TensorFlow reports a full disk as a ResourceExhaustedError ("<path>; No space left on device"), Python as
an OSError with errno ENOSPC (or EDQUOT, over quota). Steps that write a lot (the Trainer's checkpoints and
export, the Pusher's copy) wrap their writes in `reporting_disk_full`, which turns either into a
DiskFullError; their own clean-up (a push's staging folder) still runs on the way out.
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
