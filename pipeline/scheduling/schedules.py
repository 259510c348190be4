"""Local schedules: what each one runs and when, what the scheduler last did for it, and the record of every
trigger, all kept in the output folder's `schedules/` so that they outlive the scheduler process.

A schedule's definition (`NAME.json`) is written by `visionflow schedule ... --local` and read by the scheduler
on every tick, so that pause, resume, delete and run-now take effect without signalling it; its state
(`NAME.state.json`) is written only by the scheduler. Every write replaces the file whole (write, then rename),
so a process killed with `kill -9` leaves the old file or the new one, never half of one.

Time slots follow KFP recurring runs and Airflow: a slot is due once its time has passed; slots missed (the
scheduler was down, the schedule paused, or a run still going) run once, for the newest, unless the schedule
catches up, when each runs in order.
"""
import dataclasses
import datetime
import json
import os
import re
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import croniter

from components import executor_settings

FOLDER = 'schedules'
HISTORY_FILE = 'history.jsonl'
SCHEDULER_LOCK_FILE = '.scheduler.lock'
OUTPUT_FOLDER = 'output'  # each fired command's console output
DEFAULT_SETTLE_S = 60.0   # a new span's files unchanged this long before it triggers a run
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
_EVERY = re.compile(r'^(\d+(?:\.\d+)?)([smhd])$')
_UNIT_S = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}


class ScheduleError(ValueError):
  """A schedule that cannot be made or found: one line for the user."""


def check_name(name: str) -> str:
  if not _NAME.match(name or ''):
    raise ScheduleError(f'schedule name {name!r}: use letters, digits, ".", "_" and "-" (at most 64, starting '
                        f'with a letter or digit)')
  return name


def parse_every(text: str) -> float:
  """'90s', '15m', '6h' or '1d' in seconds."""
  match = _EVERY.match(text.strip())
  if not match or float(match.group(1)) <= 0:
    raise ScheduleError(f'--every {text!r}: expected a positive number and a unit, e.g. 30s, 15m, 6h or 1d')
  return float(match.group(1)) * _UNIT_S[match.group(2)]


def croniter_expression(expression: str) -> str:
  """Standard 5-field cron as it is; Kubeflow's 6 fields (seconds first) with the seconds moved last, where
  croniter reads them. ScheduleError for anything else."""
  fields = expression.split()
  if len(fields) == 6:
    fields = fields[1:] + fields[:1]
  converted = ' '.join(fields)
  if len(fields) not in (5, 6) or not croniter.croniter.is_valid(converted):
    raise ScheduleError(f'--cron {expression!r} is not a cron expression: give 5 fields (minute hour day month '
                        f'weekday, e.g. "0 2 * * *" for 02:00 daily) or Kubeflow\'s 6 (seconds first)')
  return converted


def parse_time(text: str) -> float:
  """An ISO date or date and time (local time unless it names its zone) as Unix time."""
  try:
    moment = datetime.datetime.fromisoformat(text.strip())
  except ValueError:
    raise ScheduleError(f'{text!r} is not a date and time: give ISO 8601, e.g. 2026-12-24 or '
                        f'2026-12-24T02:00') from None
  return (moment if moment.tzinfo else moment.astimezone()).timestamp()


def check_window(start: Optional[float], end: Optional[float]) -> None:
  """--start and --end, of a local schedule or a Kubeflow recurring run: the end after the start."""
  if start is not None and end is not None and end <= start:
    raise ScheduleError(f'--end {describe_time(end)} is not after --start {describe_time(start)}')


def describe_time(moment: Optional[float]) -> str:
  return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(moment)) if moment is not None else '-'


@dataclasses.dataclass(frozen=True)
class Schedule:
  """One schedule's definition: the command it runs (`run`, or `evaluate` with evaluate_csv) with the config and
  flags given, and its triggers."""
  name: str
  command: str                          # 'run' or 'evaluate'
  config_file: Optional[str] = None     # --config, absolute
  overrides: Dict[str, Any] = dataclasses.field(default_factory=dict)  # the config flags given, paths absolute
  output_dir: str = ''                  # where the runs write, and where the schedule is kept
  cron: Optional[str] = None            # as given
  every_s: Optional[float] = None
  on_new_span: Optional[str] = None     # the {SPAN} or date pattern watched
  on_alert: bool = False
  catchup: bool = False
  start: Optional[float] = None
  end: Optional[float] = None
  settle_s: float = DEFAULT_SETTLE_S
  paused: bool = False
  created: float = 0.0

  def __post_init__(self):
    check_name(self.name)
    if self.cron and self.every_s:
      raise ScheduleError('give --cron or --every, not both')
    if self.cron:
      croniter_expression(self.cron)
    if not (self.cron or self.every_s or self.on_new_span or self.on_alert):
      raise ScheduleError(f'schedule {self.name} has no trigger: give --cron, --every, --on-new-span or --on-alert')
    check_window(self.start, self.end)

  @property
  def anchor(self) -> float:
    """The time slots count from: the start, or when the schedule was made."""
    return self.start if self.start is not None else self.created

  def slots_after(self, moment: float) -> Iterator[float]:
    """The time slots after `moment`, in order, from the anchor on (none without --cron or --every)."""
    if self.every_s:
      index = max(0, int((moment - self.anchor) // self.every_s) + 1)
      while True:
        yield self.anchor + index * self.every_s
        index += 1
    elif self.cron:
      base = datetime.datetime.fromtimestamp(max(moment, self.anchor - 1)).astimezone()
      iterator = croniter.croniter(croniter_expression(self.cron), base)
      while True:
        yield iterator.get_next(float)

  def ended(self, now: float) -> bool:
    return self.end is not None and now > self.end

  def status(self, now: float) -> str:
    """ACTIVE, PAUSED, WAITING (before its start) or ENDED."""
    if self.paused:
      return 'PAUSED'
    if self.ended(now):
      return 'ENDED'
    if self.start is not None and now < self.start:
      return 'WAITING'
    return 'ACTIVE'

  def due_slots(self, last_slot: float, now: float) -> List[float]:
    """The slots after last_slot up to now (and up to the end), oldest first."""
    due = []
    for slot in self.slots_after(last_slot):
      if slot > now or (self.end is not None and slot > self.end):
        break
      due.append(slot)
      if len(due) > 10_000:  # a catch-up of years of every-second slots is not one: keep the newest
        due = due[-1:]
    return due

  def next_slot(self, last_slot: float, now: float) -> Optional[float]:
    """The next time slot to come (after now), or None without one (no time trigger, or past the end)."""
    slot = next((slot for slot in self.slots_after(max(last_slot, now))), None)
    return None if slot is None or (self.end is not None and slot > self.end) else slot

  def triggers(self) -> str:
    """The triggers in words, as `schedule list` and the Schedules page show them."""
    parts = []
    if self.cron:
      parts.append(f'cron {self.cron}')
    if self.every_s:
      parts.append(f'every {_every_text(self.every_s)}')
    if self.on_new_span:
      parts.append(f'new span of {self.on_new_span}')
    if self.on_alert:
      parts.append('alert')
    return ', '.join(parts)

  def job(self) -> str:
    return 'evaluate' if self.command == 'evaluate' else 'retrain'


def _every_text(seconds: float) -> str:
  for unit in ('d', 'h', 'm'):
    if seconds % _UNIT_S[unit] == 0:
      return f'{int(seconds // _UNIT_S[unit])}{unit}'
  return f'{seconds:g}s'


@dataclasses.dataclass(frozen=True)
class ScheduleState:
  """What the scheduler has done for a schedule: the newest time slot it fired or let pass, the newest span and
  the alerting evaluation it fired on, and the last trigger's outcome."""
  last_slot: float
  span: Optional[int] = None
  alert_run: Optional[str] = None
  last_trigger: str = ''
  last_outcome: str = ''
  last_run: Optional[str] = None
  fired_at: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class TriggerRecord:
  """One line of the history: a trigger, the run it started (or why none ran), and how that run ended."""
  time: float
  schedule: str
  trigger: str
  outcome: str          # 'started', then 'ended: ...', 'refused: ...' or 'deferred: ...'
  run_id: Optional[str] = None


class ScheduleStore:
  """The schedules of one output folder."""

  def __init__(self, output_dir: str):
    self.output_dir = output_dir
    self.folder = os.path.join(output_dir, FOLDER)

  def _definition_path(self, name: str) -> str:
    return os.path.join(self.folder, f'{check_name(name)}.json')

  def _state_path(self, name: str) -> str:
    return os.path.join(self.folder, f'{check_name(name)}.state.json')

  def run_now_path(self, name: str) -> str:
    return os.path.join(self.folder, f'{check_name(name)}.run-now')

  def _write(self, path: str, data: Any) -> None:
    os.makedirs(self.folder, exist_ok=True)
    temporary = f'{path}.{os.getpid()}.tmp'
    with open(temporary, 'w', encoding='utf-8') as handle:
      json.dump(data, handle, indent=1)
      handle.flush()
      os.fsync(handle.fileno())
    os.replace(temporary, path)

  def names(self) -> List[str]:
    if not os.path.isdir(self.folder):
      return []
    return sorted(entry[:-len('.json')] for entry in os.listdir(self.folder)
                  if entry.endswith('.json') and not entry.endswith('.state.json') and _NAME.match(entry[:-5]))

  def get(self, name: str) -> Schedule:
    path = self._definition_path(name)
    try:
      with open(path, encoding='utf-8') as handle:
        return executor_settings.from_json_dict(Schedule, json.load(handle))
    except FileNotFoundError:
      known = ', '.join(self.names()) or 'none'
      raise ScheduleError(f'no schedule {name!r} in {self.folder} (schedules there: {known})') from None
    except (ValueError, TypeError) as error:
      raise ScheduleError(f'schedule {name}: {path} is unreadable: {error}') from None

  def all(self) -> List[Tuple[str, Optional[Schedule], str]]:
    """(name, schedule or None, why it is unreadable) for every schedule file: one bad file hides no other."""
    found = []
    for name in self.names():
      try:
        found.append((name, self.get(name), ''))
      except ScheduleError as error:
        found.append((name, None, str(error)))
    return found

  def put(self, schedule: Schedule) -> None:
    self._write(self._definition_path(schedule.name), executor_settings.to_json_dict(schedule))

  def create(self, schedule: Schedule, state: ScheduleState) -> None:
    if os.path.exists(self._definition_path(schedule.name)):
      raise ScheduleError(f'schedule {schedule.name} exists in {self.folder}: delete it first, or choose another '
                          f'name')
    self._write(self._state_path(schedule.name), executor_settings.to_json_dict(state))
    self.put(schedule)

  def delete(self, name: str) -> None:
    self.get(name)
    for path in (self._definition_path(name), self._state_path(name), self.run_now_path(name)):
      if os.path.exists(path):
        os.remove(path)

  def state(self, schedule: Schedule) -> ScheduleState:
    try:
      with open(self._state_path(schedule.name), encoding='utf-8') as handle:
        return executor_settings.from_json_dict(ScheduleState, json.load(handle))
    except (OSError, ValueError, TypeError):  # missing or damaged: start from when the schedule was made
      return ScheduleState(last_slot=schedule.anchor)

  def put_state(self, name: str, state: ScheduleState) -> None:
    self._write(self._state_path(name), executor_settings.to_json_dict(state))

  def request_run_now(self, name: str, requested_by: str) -> None:
    self.get(name)
    self._write(self.run_now_path(name), {'requested_by': requested_by, 'time': time.time()})

  def take_run_now(self, name: str) -> Optional[str]:
    """Who asked for a run now, consuming the request; None without one."""
    path = self.run_now_path(name)
    try:
      with open(path, encoding='utf-8') as handle:
        requested_by = json.load(handle).get('requested_by', '')
    except (OSError, ValueError):
      return None
    os.remove(path)
    return requested_by or 'a person'

  def append_history(self, record: TriggerRecord) -> None:
    os.makedirs(self.folder, exist_ok=True)
    with open(os.path.join(self.folder, HISTORY_FILE), 'a', encoding='utf-8') as handle:
      handle.write(json.dumps(dataclasses.asdict(record)) + '\n')
      handle.flush()
      os.fsync(handle.fileno())

  def history(self, name: Optional[str] = None) -> List[TriggerRecord]:
    """Every trigger recorded, oldest first (of one schedule, when named); a line cut short by a kill is
    skipped."""
    records = []
    try:
      with open(os.path.join(self.folder, HISTORY_FILE), encoding='utf-8') as handle:
        for line in handle:
          try:
            record = TriggerRecord(**json.loads(line))
          except (ValueError, TypeError):
            continue
          if name is None or record.schedule == name:
            records.append(record)
    except FileNotFoundError:
      pass
    return records
