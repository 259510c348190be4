"""Reading the text files a user gives: every line break counts, wherever a read block ends."""
import io

import pytest

from components import input_files


@pytest.mark.parametrize('block_bytes', [1, 2, 3, 5, 1 << 20])
def test_line_breaks_split_across_read_blocks_are_one_break(block_bytes):
  data = b'a,1\r\nbb,2\rccc,3\n\nd,4'
  lines = list(input_files._raw_lines(io.BytesIO(data), block_bytes))
  assert lines == [(0, b'a,1'), (5, b'bb,2'), (10, b'ccc,3'), (16, b''), (17, b'd,4')]
