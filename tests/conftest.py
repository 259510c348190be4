"""Shared fixtures: small sets of real JPEGs written in the 5-flowers layout."""
import os

# TFX and TFMA need Keras 2; this must precede the first TensorFlow import in the test process.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import pytest

from pipeline import sample_data


@pytest.fixture(scope='session')
def small_digits(tmp_path_factory):
  """(csv_path, labels_path) of the first 120 digit scans as JPEG files."""
  return sample_data.materialize_digits(str(tmp_path_factory.mktemp('digits')), limit=120)


@pytest.fixture
def small_disk(tmp_path):
  """A real, nearly full file system: a 256 KiB tmpfs mounted under tmp_path (unmounted afterwards).

  Skipped only where mounting is not allowed (not root, or a sandbox without CAP_SYS_ADMIN).
  """
  import subprocess
  mount_point = tmp_path / 'small_disk'
  mount_point.mkdir()
  mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', str(mount_point)],
                           capture_output=True, text=True, timeout=30)
  if mounted.returncode != 0:
    pytest.skip(f'cannot mount a tmpfs here: {mounted.stderr.strip()}')
  try:
    yield str(mount_point)
  finally:
    subprocess.run(['umount', '-l', str(mount_point)], capture_output=True, timeout=30)


class SmallDisks:
  """Real tmpfs file systems of a chosen size, mounted on folders of a test's choosing."""

  def __init__(self):
    self.mounted = []

  def mount(self, folder, kib):
    """Mounts `kib` KiB on `folder` (created if missing); skips the test where mounting is not allowed."""
    import subprocess
    os.makedirs(folder, exist_ok=True)
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={kib}k', 'tmpfs', folder],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
      pytest.skip(f'cannot mount a tmpfs here: {result.stderr.strip()}')
    self.mounted.append(folder)

  def unmount(self, folder):
    import subprocess
    subprocess.run(['umount', '-l', folder], capture_output=True, timeout=30)
    self.mounted.remove(folder)


@pytest.fixture(scope='module')
def small_disks():
  """A module's SmallDisks; every disk still mounted is unmounted afterwards."""
  disks = SmallDisks()
  try:
    yield disks
  finally:
    for folder in list(disks.mounted):
      disks.unmount(folder)
