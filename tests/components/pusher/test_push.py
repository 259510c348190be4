"""Pushing into the serving directory: every file copied, never seen half written, nothing left on failure."""
import os
import re
import threading

import pytest

from components import disk_space
from components import serving_dir
from components.pusher import push
from tests.components.test_serving_dir import _fake_saved_model


def test_push_copies_every_file_into_a_new_version(tmp_path):
  source = _fake_saved_model(tmp_path / 'trained')
  model_dir = str(tmp_path / 'serving' / 'm')

  first = push.push_version(source, model_dir, version=100)
  second = push.push_version(source, model_dir, version=100)  # same second: bumped past the first

  assert os.path.basename(first) == '100' and os.path.basename(second) == '101'
  for pushed in (first, second):
    copied = sorted(os.path.relpath(os.path.join(folder, name), pushed)
                    for folder, _, names in os.walk(pushed) for name in names)
    original = sorted(os.path.relpath(os.path.join(folder, name), source)
                      for folder, _, names in os.walk(source) for name in names)
    assert copied == original
  assert sorted(os.listdir(model_dir)) == ['100', '101']


def test_a_failed_push_leaves_no_version_and_no_staging(tmp_path):
  source = _fake_saved_model(tmp_path / 'broken', with_pb=False)
  model_dir = tmp_path / 'serving' / 'm'
  _fake_saved_model(model_dir / '5')
  with pytest.raises(FileNotFoundError, match='not a SavedModel'):
    push.push_version(source, str(model_dir), version=9)
  assert os.listdir(model_dir) == ['5']


def test_a_watcher_never_sees_a_half_written_version(tmp_path):
  """Polls the model folder, as TF Serving does, while large pushes run; every version seen is whole."""
  source = _fake_saved_model(tmp_path / 'trained', files=40, size=200_000)
  expected_files = sum(len(names) for _, _, names in os.walk(source))
  model_dir = str(tmp_path / 'serving' / 'm')
  os.makedirs(model_dir)
  incomplete, polls, done = [], [0], threading.Event()

  def watch():
    while not done.is_set():
      polls[0] += 1
      for name in os.listdir(model_dir):
        if name.isdigit():
          count = sum(len(names) for _, _, names in os.walk(os.path.join(model_dir, name)))
          if count != expected_files:
            incomplete.append((name, count))

  watcher = threading.Thread(target=watch)
  watcher.start()
  try:
    for version in range(1, 6):
      push.push_version(source, model_dir, version=version)
  finally:
    done.set()
    watcher.join()
  assert serving_dir.versions(model_dir) == [1, 2, 3, 4, 5]
  assert polls[0] > 5
  assert not incomplete


def test_a_push_onto_a_full_disk_fails_in_one_line_and_leaves_no_staging(tmp_path, small_disk):
  source = _fake_saved_model(tmp_path / 'trained', files=4, size=200_000)
  model_dir = os.path.join(small_disk, 'm')
  with pytest.raises(disk_space.DiskFullError) as error:
    push.push_version(source, model_dir, version=7)
  message = str(error.value)
  assert message.startswith(f'no space left on the device writing {model_dir}/.incoming-7-')
  assert re.search(r': the model needs about 0\.8 MB, 0\.[0-3] MB free there; free some space or write '
                   r'elsewhere$', message), message
  assert '\n' not in message
  assert os.listdir(model_dir) == []  # neither a version nor the half-written staging folder
