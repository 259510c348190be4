"""A step's settings as one frozen dataclass: written as JSON into custom_config or an execution property, read
back by the dataclass's field types.

Every custom executor takes its settings this way, so none lists its fields or their types by hand, and a
settings value that does not fit (a key that is no field, a field without a default that is absent, a value of
the wrong type) fails in one line that names it. JSON, and the protobuf Struct ExampleGen carries, turn tuples
into lists and (Struct) ints into floats; the reader turns them back. Only a Kubeflow runtime parameter stays an
execution property of its own, as a runtime parameter can only replace a property whole.

Supported field types: bool, int, float, str, Any, Optional[X], Tuple[X, ...], Tuple[X, Y, ...], List[X],
Dict[str, X] and nested frozen dataclasses. Imports nothing heavy, so the config and the CLI can use it.
"""
import dataclasses
import json
import typing
from typing import Any, Dict, Mapping, Type, TypeVar

Settings = TypeVar('Settings')


def to_json_dict(settings: Any) -> Dict[str, Any]:
  """Every field of the dataclass, as JSON values (tuples as lists, nested dataclasses as dicts)."""
  return {field.name: _json_value(getattr(settings, field.name)) for field in dataclasses.fields(settings)}


def to_json(settings: Any) -> str:
  """to_json_dict as a JSON string, keys sorted so that equal settings give equal text (and cache keys)."""
  return json.dumps(to_json_dict(settings), sort_keys=True)


def from_json_dict(settings_type: Type[Settings], values: Mapping[str, Any]) -> Settings:
  """The dataclass back from JSON values; raises ValueError naming unknown keys, missing keys or a wrong type."""
  return _read_dataclass(settings_type, values, settings_type.__name__)


def from_json(settings_type: Type[Settings], text: str) -> Settings:
  """from_json_dict of a JSON string."""
  return from_json_dict(settings_type, json.loads(text))


def _json_value(value: Any) -> Any:
  if dataclasses.is_dataclass(value) and not isinstance(value, type):
    return to_json_dict(value)
  if isinstance(value, (tuple, list)):
    return [_json_value(item) for item in value]
  if isinstance(value, dict):
    return {key: _json_value(item) for key, item in value.items()}
  return value


def _read_dataclass(settings_type: type, values: Any, where: str) -> Any:
  if not isinstance(values, Mapping):
    raise ValueError(f'{where} must be an object of {settings_type.__name__} fields, got {values!r}')
  fields = {field.name: field for field in dataclasses.fields(settings_type)}
  unknown = sorted(set(values) - set(fields))
  missing = sorted(name for name, field in fields.items() if name not in values and _required(field))
  if unknown or missing:
    fields_of = '' if where == settings_type.__name__ else f' (fields of {settings_type.__name__})'
    raise ValueError(f'{where}: unknown keys {unknown}, missing keys {missing}{fields_of}')
  types = typing.get_type_hints(settings_type)
  return settings_type(**{name: _read(types[name], value, f'{where}.{name}') for name, value in values.items()})


def _required(field: dataclasses.Field) -> bool:
  return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _read(field_type: Any, value: Any, where: str) -> Any:
  """`value` as `field_type`; ValueError naming `where` when it is not one."""
  origin, arguments = typing.get_origin(field_type), typing.get_args(field_type)
  if field_type is Any:
    return value
  if origin is typing.Union:
    if value is None and type(None) in arguments:
      return None
    [inner] = [argument for argument in arguments if argument is not type(None)]
    return _read(inner, value, where)
  if dataclasses.is_dataclass(field_type):
    return _read_dataclass(field_type, value, where)
  if origin in (tuple, list):
    if not isinstance(value, (list, tuple)):
      raise _wrong_type(where, field_type, value)
    if origin is list:
      return [_read(arguments[0], item, f'{where}[{index}]') for index, item in enumerate(value)]
    if len(arguments) == 2 and arguments[1] is Ellipsis:
      return tuple(_read(arguments[0], item, f'{where}[{index}]') for index, item in enumerate(value))
    if len(value) != len(arguments):
      raise _wrong_type(where, field_type, value)
    return tuple(_read(item_type, item, f'{where}[{index}]')
                 for index, (item_type, item) in enumerate(zip(arguments, value)))
  if origin is dict:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
      raise _wrong_type(where, field_type, value)
    return {key: _read(arguments[1], item, f'{where}[{key!r}]') for key, item in value.items()}
  return _read_scalar(field_type, value, where)


def _read_scalar(field_type: Any, value: Any, where: str) -> Any:
  if field_type is bool and isinstance(value, bool):
    return value
  if field_type is int and not isinstance(value, bool) and (
      isinstance(value, int) or isinstance(value, float) and value.is_integer()):
    return int(value)  # a Struct holds every number as a float
  if field_type is float and isinstance(value, (int, float)) and not isinstance(value, bool):
    return float(value)
  if field_type is str and isinstance(value, str):
    return value
  raise _wrong_type(where, field_type, value)


def _wrong_type(where: str, field_type: Any, value: Any) -> ValueError:
  name = getattr(field_type, '__name__', None) if typing.get_origin(field_type) is None else None
  return ValueError(f'{where} must be {name or field_type}, got {value!r} ({type(value).__name__})')
