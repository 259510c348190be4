"""The newest span a data pattern matches, as TFX's FileBasedExampleGen driver would pick it, and whether its
files have stopped changing: what `--on-new-span` watches.

Read without TensorFlow (the scheduler polls every few seconds for days): the pattern's specs are those of
tfx.components.example_gen.utils, `{SPAN}` (a number) or `{YYYY}`, `{MM}` and `{DD}` (a date, whose span is its
day count since 1970-01-01, as TFX numbers it). tests/pipeline/scheduling/test_spans.py checks the choice
against TFX's own.
"""
import dataclasses
import datetime
import glob
import os
import re
from typing import Optional, Tuple

_SPEC = re.compile(r'\{SPAN(?::[^}]*)?\}|\{YYYY\}|\{MM\}|\{DD\}|\{VERSION(?::[^}]*)?\}')
_GROUPS = {'{YYYY}': r'(?P<year>\d{4})', '{MM}': r'(?P<month>\d{2})', '{DD}': r'(?P<day>\d{2})'}
_EPOCH = datetime.date(1970, 1, 1)


@dataclasses.dataclass(frozen=True)
class Span:
  number: int
  files: Tuple[str, ...]  # the pattern's matches of this span
  in_own_folder: bool     # the span names the files' folder (span-{SPAN}/labels.csv): the folder is the span's

  def fingerprint(self) -> Tuple[Tuple[str, int, int], ...]:
    """(path, size, mtime in ns) of every file of the span: its CSV files and, where the span names a folder,
    everything under that folder (the images beside the CSV)."""
    entries = set()
    for path in self.files:
      entries.add(path)
      if self.in_own_folder:
        for root, _, names in os.walk(os.path.dirname(path)):
          entries.update(os.path.join(root, name) for name in names)
    found = []
    for path in sorted(entries):
      try:
        status = os.stat(path)
      except OSError:  # removed while looking: it changed
        found.append((path, -1, -1))
        continue
      found.append((path, status.st_size, status.st_mtime_ns))
    return tuple(found)


def is_pattern(path: Optional[str]) -> bool:
  return bool(path and _SPEC.search(path))


def _regex(pattern: str) -> re.Pattern:
  parts, position = [], 0
  for match in _SPEC.finditer(pattern):
    parts.append(re.escape(pattern[position:match.start()]))
    spec = match.group(0)
    if spec.startswith('{SPAN'):
      parts.append(r'(?P<span>\d+)' if '(?P<span>' not in ''.join(parts) else r'(?P=span)')
    elif spec.startswith('{VERSION'):
      parts.append(r'\d+')
    else:
      group = _GROUPS[spec]
      name = group[4:group.index('>')]
      parts.append(group if f'(?P<{name}>' not in ''.join(parts) else f'(?P={name})')
    position = match.end()
  parts.append(re.escape(pattern[position:]))
  return re.compile(''.join(parts))


def newest_span(pattern: str) -> Optional[Span]:
  """The newest span the pattern matches now, with its files; None where it matches none."""
  regex = _regex(pattern)
  spans: dict = {}
  for path in glob.glob(_SPEC.sub('*', pattern)):
    match = regex.fullmatch(path)
    if not match:
      continue
    found = match.groupdict()
    if found.get('span') is not None:
      number = int(found['span'])
    else:
      try:
        number = (datetime.date(int(found['year']), int(found['month']), int(found['day'])) - _EPOCH).days
      except (KeyError, TypeError, ValueError):
        continue
    spans.setdefault(number, []).append(path)
  if not spans:
    return None
  number = max(spans)
  return Span(number, tuple(sorted(spans[number])), bool(_SPEC.search(os.path.dirname(pattern))))


@dataclasses.dataclass
class SettleWatch:
  """A new span waits until its fingerprint has not changed for settle_s seconds."""
  settle_s: float
  _seen: Optional[Tuple[int, tuple, float]] = None  # (span, fingerprint, since)

  def settled(self, span: Span, now: float) -> bool:
    fingerprint = span.fingerprint()
    if self._seen is None or self._seen[:2] != (span.number, fingerprint):
      self._seen = (span.number, fingerprint, now)
    return now - self._seen[2] >= self.settle_s
