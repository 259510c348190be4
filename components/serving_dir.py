"""The TF Serving directory's layout: `<serving_dir>/<model_name>/<version>/` SavedModels and a `models.config`.

The Pusher writes it (components/pusher/push.py copies each version in); the Trainer, the Evaluator, the
monitor, batch inference and pipeline/ read its newest version as the model in production, so production is
whatever a server watching this directory serves, on every orchestrator. Paths go through tf.io.gfile, so local
paths and any file system TensorFlow writes (gs://, s3://, hdfs://) work alike.
"""
import hashlib
import os
import uuid
from typing import List, Optional

import tensorflow as tf

from components import disk_space
from components import names
from components.reports import artifact_contents

# Staging folders start with a dot: TF Serving loads only folders whose names are version numbers.
STAGING_PREFIX = '.incoming-'
# Files the Pusher adds beside saved_model.pb in a version folder (the TFLite models, the model card). TF
# Serving ignores them; the copies of a SavedModel are compared without them.
EXTRA_FILES = (names.TFLITE_FILE, names.TFLITE_QUANTIZED_FILE, names.MODEL_CARD_MARKDOWN_FILE,
               names.MODEL_CARD_HTML_FILE)


def versions(model_dir: str) -> List[int]:
  """The numeric version folders under `<serving_dir>/<model_name>/`, ascending; [] when none."""
  return artifact_contents.serving_versions(model_dir)


def newest_version_dir(model_dir: str) -> Optional[str]:
  """The highest complete version folder, which is what TF Serving's default version policy serves."""
  found = versions(model_dir)
  return os.path.join(model_dir, str(found[-1])) if found else None


def _saved_model_files(directory: str) -> List[str]:
  """Every file's path under a SavedModel or a version folder, sorted, without the Pusher's EXTRA_FILES."""
  found = []
  for folder, _, file_names in tf.io.gfile.walk(directory):
    at_top = os.path.normpath(folder) == os.path.normpath(directory)
    found += [os.path.join(folder, name) for name in file_names if not (at_top and name in EXTRA_FILES)]
  return sorted(found)


def _saved_model_bytes(directory: str) -> int:
  return sum(tf.io.gfile.stat(path).length for path in _saved_model_files(directory))


def content_digest(directory: str) -> str:
  """SHA-256 over every SavedModel file's relative path and bytes: equal for a SavedModel and its pushed copy."""
  digest = hashlib.sha256()
  for path in _saved_model_files(directory):
    digest.update(os.path.relpath(path, directory).encode('utf-8') + b'\0')
    with tf.io.gfile.GFile(path, 'rb') as handle:
      for block in iter(lambda: handle.read(1 << 20), b''):
        digest.update(block)
    digest.update(b'\0')
  return digest.hexdigest()


def version_with_content(saved_model_dir: str, model_dir: str) -> Optional[str]:
  """The newest version folder under model_dir holding exactly this SavedModel, or None.

  Sizes are compared first; the SavedModel's digest is computed once, and only if some version matches it.
  """
  size, digest = _saved_model_bytes(saved_model_dir), None
  for version in reversed(versions(model_dir)):
    candidate = os.path.join(model_dir, str(version))
    if _saved_model_bytes(candidate) != size:
      continue
    digest = digest or content_digest(saved_model_dir)
    if content_digest(candidate) == digest:
      return candidate
  return None


def models_config_text(serving_dir: str, base_path: Optional[str] = None) -> str:
  """TF Serving's --model_config_file: one entry per model folder holding at least one version.

  `base_path` is the serving directory as the server sees it (e.g. `/models` where a Kubernetes volume is
  mounted); by default the directory itself.
  """
  base_path = (base_path or serving_dir).rstrip('/')
  model_names = sorted(name.rstrip('/') for name in tf.io.gfile.listdir(serving_dir)
                 if versions(os.path.join(serving_dir, name.rstrip('/'))))
  entries = ''.join(
      f'  config {{\n    name: "{name}"\n    base_path: "{base_path}/{name}"\n'
      f'    model_platform: "tensorflow"\n  }}\n' for name in model_names)
  return f'model_config_list {{\n{entries}}}\n'


def write_models_config(serving_dir: str, base_path: Optional[str] = None) -> str:
  """Rewrites `<serving_dir>/models.config` atomically (servers re-read it with --model_config_file_poll)."""
  path = os.path.join(serving_dir, names.MODELS_CONFIG_FILE)
  staging = os.path.join(serving_dir, f'{STAGING_PREFIX}{names.MODELS_CONFIG_FILE}-{uuid.uuid4().hex[:8]}')
  text = models_config_text(serving_dir, base_path)
  try:
    with disk_space.reporting_disk_full(serving_dir, len(text), names.MODELS_CONFIG_FILE):
      with tf.io.gfile.GFile(staging, 'w') as handle:
        handle.write(text)
    tf.io.gfile.rename(staging, path, overwrite=True)
  finally:
    if tf.io.gfile.exists(staging):
      tf.io.gfile.remove(staging)
  return path
