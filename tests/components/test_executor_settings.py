"""A step's settings survive JSON (and a protobuf Struct) by their field types, and a value that does not fit
fails naming its key."""
import dataclasses
import json
from typing import Any, Dict, List, Optional, Tuple

import pytest
from google.protobuf import json_format
from google.protobuf import struct_pb2

from components import executor_settings


@dataclasses.dataclass(frozen=True)
class Rules:
  threshold: float = 0.5
  count: int = 30


@dataclasses.dataclass(frozen=True)
class Every:
  name: str
  size: int
  ratio: float
  strict: bool
  labels: Tuple[str, ...]
  pair: Tuple[int, str]
  sizes: List[int]
  placement: Dict[str, str]
  rules: Rules
  anything: Any
  maybe: Optional[int] = None
  columns: Optional[Tuple[str, ...]] = None
  thresholds: Tuple[float, ...] = (0.5,)


EVERY = Every(name='digits', size=224, ratio=20.0, strict=True, labels=('cat', 'dog'), pair=(3, 'x'),
              sizes=[96, 128], placement={'pool': 'gpu'}, rules=Rules(0.9, 12), anything={'nested': [1, 'a']},
              maybe=7, columns=None)


def test_every_kind_of_field_comes_back_from_json_as_it_was():
  text = executor_settings.to_json(EVERY)
  assert json.loads(text)['labels'] == ['cat', 'dog'] and json.loads(text)['rules'] == {'threshold': 0.9, 'count': 12}
  assert executor_settings.from_json(Every, text) == EVERY


def test_every_kind_of_field_comes_back_from_a_struct_which_holds_every_number_as_a_float():
  packed = struct_pb2.Struct()
  packed.update(executor_settings.to_json_dict(EVERY))
  read = executor_settings.from_json_dict(Every, json_format.MessageToDict(packed))
  assert read == EVERY
  assert type(read.size) is int and type(read.pair[0]) is int and type(read.rules.count) is int


def test_equal_settings_give_equal_text():
  assert executor_settings.to_json(EVERY) == executor_settings.to_json(dataclasses.replace(EVERY))


def test_fields_with_defaults_may_be_left_out():
  values = executor_settings.to_json_dict(EVERY)
  for name in ('maybe', 'columns', 'thresholds'):
    del values[name]
  assert executor_settings.from_json_dict(Every, values) == dataclasses.replace(EVERY, maybe=None)


def test_an_unknown_key_is_named():
  with pytest.raises(ValueError, match=r"^Every: unknown keys \['colour'\], missing keys \[\]$"):
    executor_settings.from_json_dict(Every, dict(executor_settings.to_json_dict(EVERY), colour=True))


def test_a_missing_key_is_named():
  values = executor_settings.to_json_dict(EVERY)
  del values['labels']
  with pytest.raises(ValueError, match=r"^Every: unknown keys \[\], missing keys \['labels'\]$"):
    executor_settings.from_json_dict(Every, values)


def test_a_missing_key_of_a_nested_settings_is_named_with_its_path():
  @dataclasses.dataclass(frozen=True)
  class Outer:
    rules: Rules

  message = r"^Outer.rules: unknown keys \['counts'\], missing keys \[\] \(fields of Rules\)$"
  with pytest.raises(ValueError, match=message):
    executor_settings.from_json_dict(Outer, {'rules': {'counts': 3}})


@pytest.mark.parametrize('name, value, message', [
    ('size', '224', r"Every.size must be int, got '224' \(str\)"),
    ('size', 2.5, r'Every.size must be int, got 2.5 \(float\)'),
    ('size', True, r'Every.size must be int, got True \(bool\)'),
    ('ratio', 'wide', r"Every.ratio must be float, got 'wide' \(str\)"),
    ('strict', 1, r'Every.strict must be bool, got 1 \(int\)'),
    ('name', None, r'Every.name must be str, got None \(NoneType\)'),
    ('labels', 'cat', r"Every.labels must be typing.Tuple\[str, ...\], got 'cat' \(str\)"),
    ('labels', ['cat', 3], r'Every.labels\[1\] must be str, got 3 \(int\)'),
    ('pair', [3], r'Every.pair must be typing.Tuple\[int, str\], got \[3\] \(list\)'),
    ('placement', {'pool': 1}, r"Every.placement\['pool'\] must be str, got 1 \(int\)"),
    ('rules', {'count': 'many'}, r"Every.rules.count must be int, got 'many' \(str\)"),
    ('maybe', 'seven', r"Every.maybe must be int, got 'seven' \(str\)"),
    ('rules', [0.9, 12], r'Every.rules must be an object of Rules fields, got \[0.9, 12\]'),
])
def test_a_value_of_the_wrong_type_is_named(name, value, message):
  values = dict(executor_settings.to_json_dict(EVERY), **{name: value})
  with pytest.raises(ValueError, match=f'^{message}$'):
    executor_settings.from_json_dict(Every, values)
