"""The TF Serving directory's layout: numbered versions, models.config, and the digests that tell copies apart."""
import os
import shutil

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from components import serving_dir


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
  assert serving_dir.versions(str(model_dir)) == [7, 12]
  assert serving_dir.newest_version_dir(str(model_dir)) == str(model_dir / '12')
  assert serving_dir.newest_version_dir(str(tmp_path / 'absent')) is None


def test_models_config_lists_each_model_with_versions(tmp_path):
  source = _fake_saved_model(tmp_path / 'trained')
  serving = tmp_path / 'serving'
  shutil.copytree(source, serving / 'flowers' / '1')
  shutil.copytree(source, serving / 'digits' / '1')
  os.makedirs(serving / 'empty_model')

  path = serving_dir.write_models_config(str(serving), base_path='/models/')

  assert path == str(serving / 'models.config')
  assert sorted(os.listdir(serving)) == ['digits', 'empty_model', 'flowers', 'models.config']
  assert open(path).read() == (
      'model_config_list {\n'
      '  config {\n    name: "digits"\n    base_path: "/models/digits"\n    model_platform: "tensorflow"\n  }\n'
      '  config {\n    name: "flowers"\n    base_path: "/models/flowers"\n    model_platform: "tensorflow"\n  }\n'
      '}\n')
  assert f'base_path: "{serving}/digits"' in serving_dir.models_config_text(str(serving))
  parsed = text_format.Parse(open(path).read(), model_server_config_pb2.ModelServerConfig())
  assert [(entry.name, entry.base_path, entry.model_platform) for entry in parsed.model_config_list.config] == [
      ('digits', '/models/digits', 'tensorflow'), ('flowers', '/models/flowers', 'tensorflow')]


def test_the_content_digest_tells_copies_from_other_models(tmp_path):
  source = _fake_saved_model(tmp_path / 'trained')
  copy = shutil.copytree(source, str(tmp_path / 'serving' / '3'))
  other = _fake_saved_model(tmp_path / 'other')
  assert serving_dir.content_digest(source) == serving_dir.content_digest(copy) != serving_dir.content_digest(other)
  assert serving_dir.version_with_content(source, str(tmp_path / 'serving')) == copy
  assert serving_dir.version_with_content(other, str(tmp_path / 'serving')) is None
