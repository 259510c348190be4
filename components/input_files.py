"""Reading the text files a user gives (CSVs, labels files) line by line: a file that is not a regular UTF-8
file stops the run with the file, line and byte at fault."""
import csv
import os
import re
import stat
from typing import Iterator, List, Optional, Tuple

import tensorflow as tf

from components import paths

_LINE_BREAK = re.compile(rb'\r\n|\r|\n')
_FILE_KINDS = ((stat.S_ISFIFO, 'a named pipe'), (stat.S_ISCHR, 'a character device'),
               (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'))


class InputFileError(ValueError):
  """A CSV or labels file that cannot be read as text; the message names the file, line and byte."""


def _raw_lines(handle, block_bytes: int = 1 << 20) -> Iterator[Tuple[int, bytes]]:
  """(byte offset, line without its break) for each line of a binary stream, in blocks of block_bytes.

  Lines end at \\n, \\r\\n or a lone \\r. (GFile's own line iteration splits at \\n only and drops
  every \\r, which would join all the lines of an old Mac file into one.)
  """
  pending, offset, finished = b'', 0, False
  while not finished:
    block = handle.read(block_bytes)
    finished = not block
    data, start = pending + block, 0
    for match in _LINE_BREAK.finditer(data):
      if not finished and match.end() == len(data) and data.endswith(b'\r'):
        break  # the \r may be the first half of a \r\n in the next block
      yield offset + start, data[start:match.start()]
      start = match.end()
    pending, offset = data[start:], offset + start
  if pending:
    yield offset, pending


def text_lines(path: str) -> Iterator[str]:
  """The lines of a UTF-8 text file without their line breaks (\\n, \\r\\n, or old Macs' lone \\r).

  A leading byte-order mark is dropped. Raises InputFileError for anything but a regular file (a named
  pipe would block forever), and at the first byte that is not UTF-8, naming the line and the byte offset.
  """
  problem = paths.path_problem(path)
  if problem:
    raise InputFileError(f'{paths.printable(path)}: {problem}')
  if not paths.is_remote(path):
    try:
      mode = os.stat(path).st_mode
    except FileNotFoundError:
      raise InputFileError(f'{path}: file not found') from None
    except OSError as error:
      raise InputFileError(f'{path}: unreadable: {error.strerror}') from None
    if not stat.S_ISREG(mode):
      raise InputFileError(f'{path}: not a regular file ({file_kind(mode)})')
  try:
    with tf.io.gfile.GFile(path, 'rb') as handle:
      for line_number, (offset, raw) in enumerate(_raw_lines(handle), start=1):
        try:
          text = raw.decode('utf-8')
        except UnicodeDecodeError as error:
          raise InputFileError(
              f'{path}: line {line_number}, byte {offset + error.start}: byte 0x{raw[error.start]:02x} is not '
              f'UTF-8 (a Latin-1 or Windows-1252 file?); re-save it as UTF-8, e.g. with '
              f'iconv -f latin1 -t utf-8') from None
        yield text.lstrip('\ufeff') if offset == 0 else text
  except (tf.errors.NotFoundError, FileNotFoundError):
    raise InputFileError(f'{path}: file not found') from None


def check_text(path: str) -> None:
  """Reads the whole file once as UTF-8 text: an encoding error then stops a run before any row is read."""
  for _ in text_lines(path):
    pass


def csv_rows(reader) -> Iterator[Tuple[int, List[str], Optional[str]]]:
  """(line number, cells, None), or (line number, [], what is wrong) for a row the csv module refuses,
  such as a cell above its field limit; the reader goes on with the next line."""
  while True:
    try:
      cells = next(reader)
    except StopIteration:
      return
    except csv.Error as error:
      yield reader.line_num, [], f'{error} (a cell of more than {csv.field_size_limit():,} characters is no path)'
      continue
    yield reader.line_num, cells, None


def file_kind(mode: int) -> str:
  """What a file that is not a regular file is, from its stat mode, for a message: 'a named pipe'..."""
  default = 'a folder' if stat.S_ISDIR(mode) else 'a special file'
  return next((name for test, name in _FILE_KINDS if test(mode)), default)
