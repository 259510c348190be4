"""The TF Serving directory: versions, atomic pushes, models.config."""
import os
import re
import threading

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from components import disk_space
from components.pusher import serving


def _fake_saved_model(folder, files=3, size=1000, with_pb=True):
  """A folder shaped like a SavedModel: saved_model.pb, variables/, assets/ (content is irrelevant here)."""
  os.makedirs(folder / 'variables')
  os.makedirs(folder / 'assets')
  for index in range(files):
    (folder / 'variables' / f'variables.data-{index:05d}').write_bytes(os.urandom(size))
  (folder / 'assets' / 'labels.txt').write_text('a\nb\n')
  if with_pb:
    (folder / 'saved_model.pb').write_bytes(b'pb')
  return str(folder)


def test_versions_lists_only_complete_numbered_folders(tmp_path):
  model_dir = tmp_path / 'model'
  _fake_saved_model(model_dir / '7')
  _fake_saved_model(model_dir / '12')
  _fake_saved_model(model_dir / '13', with_pb=False)  # a copy in progress, as another pusher writes it
  _fake_saved_model(model_dir / '.incoming-14-abc')
  _fake_saved_model(model_dir / 'notes')
  assert serving.versions(str(model_dir)) == [7, 12]
  assert serving.newest_version_dir(str(model_dir)) == str(model_dir / '12')
  assert serving.newest_version_dir(str(tmp_path / 'absent')) is None


def test_push_copies_every_file_into_a_new_version(tmp_path):
  source = _fake_saved_model(tmp_path / 'trained')
  model_dir = str(tmp_path / 'serving' / 'm')

  first = serving.push_version(source, model_dir, version=100)
  second = serving.push_version(source, model_dir, version=100)  # same second: bumped past the first

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
    serving.push_version(source, str(model_dir), version=9)
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
      serving.push_version(source, model_dir, version=version)
  finally:
    done.set()
    watcher.join()
  assert serving.versions(model_dir) == [1, 2, 3, 4, 5]
  assert polls[0] > 5
  assert not incomplete


def test_models_config_lists_each_model_with_versions(tmp_path):
  source = _fake_saved_model(tmp_path / 'trained')
  serving_dir = tmp_path / 'serving'
  serving.push_version(source, str(serving_dir / 'flowers'))
  serving.push_version(source, str(serving_dir / 'digits'))
  os.makedirs(serving_dir / 'empty_model')

  path = serving.write_models_config(str(serving_dir), base_path='/models/')

  assert path == str(serving_dir / 'models.config')
  assert sorted(os.listdir(serving_dir)) == ['digits', 'empty_model', 'flowers', 'models.config']
  assert open(path).read() == (
      'model_config_list {\n'
      '  config {\n    name: "digits"\n    base_path: "/models/digits"\n    model_platform: "tensorflow"\n  }\n'
      '  config {\n    name: "flowers"\n    base_path: "/models/flowers"\n    model_platform: "tensorflow"\n  }\n'
      '}\n')
  assert f'base_path: "{serving_dir}/digits"' in serving.models_config_text(str(serving_dir))
  parsed = text_format.Parse(open(path).read(), model_server_config_pb2.ModelServerConfig())
  assert [(entry.name, entry.base_path, entry.model_platform) for entry in parsed.model_config_list.config] == [
      ('digits', '/models/digits', 'tensorflow'), ('flowers', '/models/flowers', 'tensorflow')]


def test_a_push_onto_a_full_disk_fails_in_one_line_and_leaves_no_staging(tmp_path, small_disk):
  source = _fake_saved_model(tmp_path / 'trained', files=4, size=200_000)
  model_dir = os.path.join(small_disk, 'm')
  with pytest.raises(disk_space.DiskFullError) as error:
    serving.push_version(source, model_dir, version=7)
  message = str(error.value)
  assert message.startswith(f'no space left on the device writing {model_dir}/.incoming-7-')
  assert re.search(r': the model needs about 0\.8 MB, 0\.[0-3] MB free there; free some space or write '
                   r'elsewhere$', message), message
  assert '\n' not in message
  assert os.listdir(model_dir) == []  # neither a version nor the half-written staging folder


def test_the_content_digest_tells_copies_from_other_models(tmp_path):
  source = _fake_saved_model(tmp_path / 'trained')
  copy = serving.push_version(source, str(tmp_path / 'serving'), version=3)
  other = _fake_saved_model(tmp_path / 'other')
  assert serving.content_digest(source) == serving.content_digest(copy) != serving.content_digest(other)
  assert serving.version_with_content(source, str(tmp_path / 'serving')) == copy
  assert serving.version_with_content(other, str(tmp_path / 'serving')) is None
