"""The code fingerprint changes with any file of the components package, and with nothing else."""
import os
import shutil

from components import code_fingerprint

PACKAGE = os.path.dirname(code_fingerprint.__file__)


def test_an_edited_step_changes_the_fingerprint_and_bytecode_does_not(tmp_path):
  copy = tmp_path / 'components'
  shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns('__pycache__'))
  before = code_fingerprint.fingerprint(str(copy))
  assert before == code_fingerprint.fingerprint(PACKAGE) and len(before) == 16
  (copy / 'transform' / '__pycache__').mkdir()
  (copy / 'transform' / '__pycache__' / 'preprocessing.cpython-311.pyc').write_bytes(b'compiled')
  assert code_fingerprint.fingerprint(str(copy)) == before
  preprocessing = copy / 'transform' / 'preprocessing.py'
  preprocessing.write_text(preprocessing.read_text().replace('def ', 'def  ', 1))
  assert code_fingerprint.fingerprint(str(copy)) != before
