"""Local and scheme-qualified paths, told apart the one way every reader and writer uses."""
import pytest

from components import paths


@pytest.mark.parametrize('path', ['gs://bucket/visionflow', 's3://bucket/x.csv', 'hdfs://namenode/data'])
def test_scheme_qualified_paths_are_remote(path):
  assert paths.is_remote(path)


@pytest.mark.parametrize('path', ['/data/flowers/all_data.csv', 'visionflow_output', './a:b/c', 'gs:/one-slash'])
def test_local_paths_are_not_remote(path):
  assert not paths.is_remote(path)


# Paths a CSV cell or a folder listing can hold that no file system call takes: a NUL byte, a file name's byte
# that is not UTF-8 (as Python decodes it, \udcff for 0xff), and a lone surrogate.
HOSTILE_PATHS = {'x/nul\x00byte.jpg': 'the path holds a NUL byte (\\x00), which no file name can hold',
                 'x/\udcff.jpg': 'the path is not valid UTF-8 (it holds \\xff): rename the file with a UTF-8 name',
                 'gs://b/\ud800.jpg': 'the path is not valid UTF-8 (it holds \\ud800): rename the file with a UTF-8 '
                                      'name'}


@pytest.mark.parametrize('path', sorted(HOSTILE_PATHS))
def test_a_path_no_file_can_have_is_named_with_the_reason(path):
  assert paths.path_problem(path) == HOSTILE_PATHS[path]


@pytest.mark.parametrize('path', ['flowers/daisy/1.jpg', '/data/über blüten/ß.jpg', 'gs://bucket/花/🌼.png',
                                  'with, comma.jpg', 'two\nlines.jpg'])
def test_paths_a_file_can_have_pass(path):
  assert paths.path_problem(path) is None


def test_printable_escapes_what_a_report_or_terminal_cannot_show_and_keeps_the_rest():
  assert paths.printable('x/nul\x00byte.jpg') == 'x/nul\\x00byte.jpg'
  assert paths.printable('x/\udcff\udce9.jpg') == 'x/\\xff\\xe9.jpg'
  assert paths.printable('a/\ud800.jpg') == 'a/\\ud800.jpg'
  assert paths.printable('two\nlines\t.jpg') == 'two\\nlines\\t.jpg'
  assert paths.printable('/data/über blüten/🌼.png') == '/data/über blüten/🌼.png'
  for path in HOSTILE_PATHS:
    paths.printable(path).encode('utf-8')  # raises for a path that is not printable


def test_two_spellings_of_one_local_folder_are_one_canonical_path_and_a_remote_path_stays_but_its_last_slash(tmp_path):
  (tmp_path / 'serving').mkdir()
  (tmp_path / 'link').symlink_to(tmp_path / 'serving')
  assert paths.canonical(str(tmp_path / 'link')) == paths.canonical(str(tmp_path / 'serving' / '.'))
  assert paths.canonical('gs://bucket/serving/../x') == 'gs://bucket/serving/../x'
  assert paths.canonical('gs://bucket/serving/') == 'gs://bucket/serving'
