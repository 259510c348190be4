"""Pushing: a SavedModel copied into a new version folder of the serving directory, never seen half written.

The layout it writes (version folders, the staging prefix TF Serving skips, the files beside saved_model.pb) is
components/serving_dir.py's, which every reader of the serving directory shares.
"""
import os
import time
import uuid
from typing import Callable, Optional

import tensorflow as tf

from components import disk_space
from components import names
from components import serving_dir


def _copy_tree(source: str, destination: str) -> None:
  """Copies every file, saved_model.pb last: its presence marks a SavedModel complete to its readers."""
  saved_model_file = None
  for folder, _, file_names in tf.io.gfile.walk(source):
    relative = os.path.relpath(folder, source)
    target_folder = os.path.normpath(os.path.join(destination, relative))
    tf.io.gfile.makedirs(target_folder)
    for name in file_names:
      if relative == '.' and name == names.SAVED_MODEL_FILE:
        saved_model_file = os.path.join(folder, name)
        continue
      tf.io.gfile.copy(os.path.join(folder, name), os.path.join(target_folder, name), overwrite=True)
  if saved_model_file is None:
    raise FileNotFoundError(f'{source} holds no {names.SAVED_MODEL_FILE}: not a SavedModel')
  tf.io.gfile.copy(saved_model_file, os.path.join(destination, names.SAVED_MODEL_FILE), overwrite=True)


def push_version(saved_model_dir: str, model_dir: str, version: Optional[int] = None,
                 write_extras: Optional[Callable[[str, int], None]] = None) -> str:
  """Copies a SavedModel to `<model_dir>/<version>/` so that no server ever sees it half written.

  The copy goes to a hidden staging folder beside the versions, where `write_extras(folder, version)` adds the
  serving_dir.EXTRA_FILES, and is renamed into place when complete: atomic on local and POSIX file systems.
  Object stores (gs://) have no atomic rename; there the rename copies object by object, and saved_model.pb, the
  file servers wait for, is written last.
  The version is the Unix time in seconds (TFX's convention), bumped past any existing version.
  """
  existing = serving_dir.versions(model_dir)
  version = version or int(time.time())
  if existing and version <= existing[-1]:
    version = existing[-1] + 1
  tf.io.gfile.makedirs(model_dir)
  staging = os.path.join(model_dir, f'{serving_dir.STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}')
  final = os.path.join(model_dir, str(version))
  try:
    with disk_space.reporting_disk_full(model_dir, disk_space.tree_bytes(saved_model_dir), 'the model'):
      _copy_tree(saved_model_dir, staging)
      if write_extras:
        write_extras(staging, version)
    tf.io.gfile.rename(staging, final)
  finally:
    if tf.io.gfile.exists(staging):
      tf.io.gfile.rmtree(staging)
  return final
