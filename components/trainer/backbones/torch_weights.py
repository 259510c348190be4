"""Reads PyTorch state dicts into numpy without PyTorch, and without running code from the file.

A .pth file is a pickle, and unpickling runs whatever callables the file names. The reader below admits only the
few globals that describe tensors and refuses the rest, so a tampered weights file fails instead of executing.

Only the legacy (non-zip) serialization is read: a magic number, a protocol version and system information, each
its own pickle; then the pickled state dict, whose tensors refer to storages by persistent id; then a pickle
listing the storage keys; then, for each key in that order, an 8-byte little-endian element count followed by
the storage's raw little-endian data.
"""
import collections
import dataclasses
import io
import pickle
import struct
from typing import Dict, Tuple

import numpy as np

_LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    'DoubleStorage': np.float64,
    'FloatStorage': np.float32,
    'HalfStorage': np.float16,
    'LongStorage': np.int64,
    'IntStorage': np.int32,
    'ShortStorage': np.int16,
    'CharStorage': np.int8,
    'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
}


@dataclasses.dataclass(frozen=True)
class _StorageType:
  """Stands in for a torch storage class: all the reader needs from it is the element type."""
  dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class _StorageRef:
  """A storage the state dict refers to; its bytes come after the pickle, so tensors are built afterwards."""
  key: str
  dtype: np.dtype
  view_offset: int


@dataclasses.dataclass(frozen=True)
class _TensorRef:
  """What torch._utils._rebuild_tensor_v2 would build, kept as metadata until the storages are read."""
  storage: _StorageRef
  offset: int
  shape: Tuple[int, ...]
  strides: Tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
  """Replaces torch's rebuild function; requires_grad, hooks and metadata do not matter for inference weights."""
  del requires_grad, backward_hooks, metadata
  return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
  """An unpickler that resolves only tensor-describing globals, to stand-ins of its own; anything else raises."""

  def find_class(self, module, name):
    if (module, name) == ('collections', 'OrderedDict'):
      return collections.OrderedDict
    if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
      return _rebuild_tensor_v2
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
    raise pickle.UnpicklingError(f'refusing to load global {module}.{name} from a weights file')

  def persistent_load(self, persistent_id):
    """Storages are pickled as ('storage', type, key, location, size, view_metadata)."""
    if not (isinstance(persistent_id, tuple) and len(persistent_id) == 6 and persistent_id[0] == 'storage'):
      raise pickle.UnpicklingError(f'unsupported persistent id {persistent_id!r}')
    _, storage_type, key, _, _, view_metadata = persistent_id
    if not isinstance(storage_type, _StorageType):
      raise pickle.UnpicklingError(f'unsupported storage type {storage_type!r}')
    view_offset = view_metadata[1] if view_metadata is not None else 0
    return _StorageRef(str(key), storage_type.dtype, view_offset)


def _load_pickle(stream):
  return _RestrictedUnpickler(stream).load()


def _read_storages(stream, keys, dtypes) -> Dict[str, np.ndarray]:
  """The flat storages that follow the pickles, in the order the key list gives."""
  storages = {}
  for key in keys:
    (count,) = struct.unpack('<q', stream.read(8))
    if key not in dtypes:
      raise ValueError(f'storage {key} is not referenced by any tensor, so its element type is unknown')
    dtype = dtypes[key].newbyteorder('<')
    raw = stream.read(count * dtype.itemsize)
    if len(raw) != count * dtype.itemsize:
      raise ValueError(f'weights file is truncated in storage {key}')
    storages[key] = np.frombuffer(raw, dtype=dtype)
  return storages


def _materialize(tensor: _TensorRef, storages: Dict[str, np.ndarray]) -> np.ndarray:
  """A contiguous copy of the strided view the tensor describes, bounds-checked against its storage."""
  flat = storages[tensor.storage.key]
  if any(size == 0 for size in tensor.shape):
    return np.zeros(tensor.shape, dtype=flat.dtype.newbyteorder('='))
  start = tensor.storage.view_offset + tensor.offset
  extent = 1 + sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.strides))
  if start < 0 or start + extent > flat.size or any(stride < 0 for stride in tensor.strides):
    raise ValueError(f'tensor view lies outside storage {tensor.storage.key}')
  view = np.lib.stride_tricks.as_strided(
      flat[start:], shape=tensor.shape, strides=[stride * flat.itemsize for stride in tensor.strides],
      writeable=False)
  return np.array(view, dtype=flat.dtype.newbyteorder('='))


def read_legacy_state_dict(path: str) -> Dict[str, np.ndarray]:
  """Parameter name -> numpy array, from a legacy-format PyTorch state dict file."""
  with open(path, 'rb') as f:
    stream = io.BytesIO(f.read())
  if stream.getvalue().startswith(b'PK') or _load_pickle(stream) != _LEGACY_MAGIC_NUMBER:
    raise ValueError(f'{path} is not a legacy PyTorch file (zip-format files, torch >= 1.6, are not supported)')
  protocol_version = _load_pickle(stream)
  if protocol_version != _LEGACY_PROTOCOL_VERSION:
    raise ValueError(f'{path}: unsupported PyTorch protocol version {protocol_version}')
  system_info = _load_pickle(stream)
  if not system_info.get('little_endian', True):
    raise ValueError(f'{path} was written on a big-endian machine')
  state_dict = _load_pickle(stream)
  storage_keys = _load_pickle(stream)
  if not isinstance(state_dict, dict) or not all(isinstance(t, _TensorRef) for t in state_dict.values()):
    raise ValueError(f'{path} does not hold a state dict of tensors')
  dtypes = {tensor.storage.key: tensor.storage.dtype for tensor in state_dict.values()}
  storages = _read_storages(stream, [str(key) for key in storage_keys], dtypes)
  return {name: _materialize(tensor, storages) for name, tensor in state_dict.items()}
