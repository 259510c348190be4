"""Whether a path is on this machine's file system or behind a scheme (gs://, s3://, hdfs://) that only
tf.io.gfile reaches, how a TFRecord file is compressed, and whether a path can name a file at all. It imports
nothing heavy, so readers that must not import TensorFlow can ask too."""
import os
from typing import Optional

# Python decodes a file name's bytes that are not UTF-8 as these lone surrogates (PEP 383, surrogateescape).
_ESCAPED_BYTES = range(0xDC80, 0xDD00)
_SURROGATES = range(0xD800, 0xE000)


def is_remote(path: str) -> bool:
  """`gs://bucket/x` and other scheme-qualified paths; a local path has no scheme."""
  return '://' in path


def canonical(path: str) -> str:
  """A local path with symbolic links resolved, so that two spellings of one directory compare equal; a remote
  path without a trailing slash."""
  return path.rstrip('/') if is_remote(path) else os.path.realpath(path)


def record_compression(path: str) -> str:
  """A TFRecord file's compression as TFX's readers tell it, from the name: 'GZIP' for `.gz`, else ''."""
  return 'GZIP' if path.endswith('.gz') else ''


def path_problem(path: str) -> Optional[str]:
  """Why `path` cannot name a file that every reader here can open; None when it can.

  A NUL byte ends a path in the operating system, so os.stat and open raise ValueError. A name that is not
  UTF-8 (a folder's file with a Latin-1 name, or a lone surrogate) makes tf.io.gfile raise UnicodeEncodeError
  or TypeError, and could not be written into the UTF-8 examples and reports anyway. Asked before any file
  system call, so that such a path fails alone, with this reason, instead of failing a whole run.
  """
  if '\0' in path:
    return 'the path holds a NUL byte (\\x00), which no file name can hold'
  not_utf8 = next((char for char in path if ord(char) in _SURROGATES), None)
  if not_utf8 is not None:
    return f'the path is not valid UTF-8 (it holds {_escape(not_utf8)}): rename the file with a UTF-8 name'
  return None


def printable(path: str) -> str:
  """The path as text that every report and terminal can hold: control characters (a NUL byte, a line break)
  and bytes that are not UTF-8 written as `\\x00`, `\\n`-style escapes; any other path unchanged."""
  return ''.join(_escape(char) for char in path)


def _escape(char: str) -> str:
  code = ord(char)
  if code in _ESCAPED_BYTES:
    return f'\\x{code - 0xDC00:02x}'
  if code in _SURROGATES:
    return f'\\u{code:04x}'
  if code < 0x20 or 0x7F <= code < 0xA0:
    return char.encode('unicode_escape').decode('ascii')
  return char
