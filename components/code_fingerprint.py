"""A fingerprint of the code the pipeline's steps run, for TFX's cache key.

TFX hashes a component's code into its cache key only for a `module_file`. Components named by module path,
as every step here is, and custom executors are keyed by the path string alone: an edited or upgraded
pipeline reused the outputs of the old code (its preprocessing, its model) and pushed nothing new. The
fingerprint covers every file of the `components` package, whose code the steps run, and the versions of
the libraries that compute their outputs. It sits in ExampleGen's settings, at the root of the DAG: a new
fingerprint re-runs ExampleGen, whose new artifacts miss every later step's cache. A change to any step's
code so re-runs all of them; code that no step runs (the inspection UI, the CLI) re-runs nothing.
"""
import hashlib
import os
from importlib import metadata

LIBRARIES = ('tfx', 'tensorflow', 'tensorflow-transform', 'tensorflow-model-analysis',
             'tensorflow-data-validation', 'apache-beam', 'tf-keras', 'keras-tuner')
_SKIPPED_FOLDERS = frozenset({'__pycache__'})


def fingerprint(package_dir: str = os.path.dirname(os.path.abspath(__file__))) -> str:
  """16 hex digits of SHA-256 over the package's files (relative path and bytes) and the library versions."""
  digest = hashlib.sha256()
  for folder, subfolders, files in sorted(os.walk(package_dir)):
    subfolders[:] = sorted(name for name in subfolders if name not in _SKIPPED_FOLDERS)
    for name in sorted(files):
      if name.endswith('.pyc'):
        continue
      path = os.path.join(folder, name)
      digest.update(os.path.relpath(path, package_dir).encode('utf-8') + b'\0')
      with open(path, 'rb') as handle:
        digest.update(handle.read() + b'\0')
  for library in LIBRARIES:
    try:
      version = metadata.version(library)
    except metadata.PackageNotFoundError:
      version = 'absent'
    digest.update(f'{library}=={version}\n'.encode('utf-8'))
  return digest.hexdigest()[:16]
