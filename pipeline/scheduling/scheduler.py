"""`visionflow scheduler`: the long-running process that fires an output folder's schedules, as `airflow
scheduler` or a Prefect worker does, on one machine.

Each tick it reads the schedules (pipeline/scheduling/schedules.py) and, while no run of its own is going and
the folder's run lock is free, fires the first schedule with something due: a run asked for now, a time slot,
a settled new span, or an evaluation that alerted. Firing is a child process, `visionflow run` (or `evaluate`)
with the schedule's config, told what started it; the run takes the folder's lock as any run does, so at most
one runs at a time whoever started it. The schedule's state is written before the child starts, so a
scheduler killed at any point fires nothing twice on restart; the child lives on, and ends as any run does.
"""
import dataclasses
import fcntl
import os
import shlex
import signal
import string
import socket
import subprocess
import sys
import time
from typing import IO, Callable, List, Optional

from components import names
from pipeline import config as config_lib
from pipeline import run_process
from pipeline.commands import config_flags
from pipeline.inspect import runs as runs_lib
from pipeline.scheduling import schedules as schedules_lib
from pipeline.scheduling import spans as spans_lib

TICK_S = 2.0
_UNIT_FILE = 'visionflow-scheduler.service'
_RECORD_WAIT_S = 300.0  # a fired run that has not recorded itself in this long never will


class SchedulerRunningError(ValueError):
  """Another scheduler holds the folder's schedules; the message names it."""


class SchedulerLock:
  """One scheduler per output folder: an exclusive lock, released by the kernel however the process dies."""

  def __init__(self, store: schedules_lib.ScheduleStore):
    self._path = os.path.join(store.folder, schedules_lib.SCHEDULER_LOCK_FILE)
    self._handle: Optional[IO[str]] = None

  def __enter__(self) -> 'SchedulerLock':
    os.makedirs(os.path.dirname(self._path), exist_ok=True)
    handle = open(self._path, 'a+', encoding='utf-8')
    if not run_process.lock_exclusively(handle):
      handle.seek(0)
      holder = handle.read().strip()
      handle.close()
      raise SchedulerRunningError(
          f'another scheduler runs the schedules of {os.path.dirname(os.path.dirname(self._path))} '
          f'({holder or "unknown process"}): one scheduler per output folder') from None
    handle.seek(0)
    handle.truncate()
    handle.write(f'process {os.getpid()} on {socket.gethostname()}, started '
                 f'{schedules_lib.describe_time(time.time())}')
    handle.flush()
    self._handle = handle
    return self

  def __exit__(self, *exc_info) -> None:
    if self._handle is not None:
      self._handle.close()
      self._handle = None


def systemd_unit(output_dir: str) -> str:
  """The shipped unit file, running this installation's `visionflow scheduler` on output_dir."""
  with open(os.path.join(os.path.dirname(__file__), _UNIT_FILE), encoding='utf-8') as handle:
    template = string.Template(handle.read())
  visionflow = os.path.join(os.path.dirname(sys.executable), 'visionflow')
  def quoted(path: str) -> str:  # systemd reads shell-like quotes, and % starts its specifiers
    return shlex.quote(path).replace('%', '%%')

  return template.substitute(visionflow=quoted(visionflow), output_dir=quoted(output_dir))


def _lock_holder(path: str) -> Optional[str]:
  """What the process holding the lock file wrote into it ('' if nothing), or None when no process holds it
  (tried and let go at once)."""
  if not os.path.exists(path):
    return None
  with open(path, 'a+', encoding='utf-8') as handle:
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      handle.seek(0)
      return handle.read().strip()
    fcntl.flock(handle, fcntl.LOCK_UN)
  return None


def scheduler_holding(store: schedules_lib.ScheduleStore) -> Optional[str]:
  """Who holds the folder's scheduler lock ('process N on HOST, started ...'), or None when no scheduler runs."""
  holder = _lock_holder(os.path.join(store.folder, schedules_lib.SCHEDULER_LOCK_FILE))
  return None if holder is None else holder or 'unknown process'


def folder_is_free(output_dir: str) -> bool:
  """Whether no run holds the output folder's run lock now."""
  return _lock_holder(os.path.join(output_dir, run_process.LOCK_FILE)) is None


@dataclasses.dataclass(frozen=True)
class Firing:
  schedule: schedules_lib.Schedule
  trigger: str                      # what the run will record as having started it
  state: schedules_lib.ScheduleState  # the schedule's state once this fires
  asked_by: Optional[str] = None      # for a run asked for now: who asked


def newest_alert(store) -> Optional[runs_lib.ProductionMeasurement]:
  """The newest measurement of the model in production, when it alerted and no training run started after it."""
  measurements = runs_lib.production_measurements(store)
  if not measurements or not measurements[0].alerts or not measurements[0].run_id:
    return None
  training, _ = runs_lib.list_runs(store, runs_lib.RunFilter(pipeline=runs_lib.TRAINING), limit=1)
  if training and training[0].started_ms > runs_lib.run_view(store, measurements[0].run_id).started_ms:
    return None
  return measurements[0]


def last_span_read(store) -> Optional[int]:
  """The span the newest training run that read one read (its ExampleGen output's)."""
  training, _ = runs_lib.list_runs(store, runs_lib.RunFilter(pipeline=runs_lib.TRAINING), limit=20)
  for view in training:
    examples = runs_lib.outputs_by_key(runs_lib.run_nodes(store, view.run_id, False)).get(names.EXAMPLES)
    span = examples.properties.get(names.SPAN) if examples else None
    if span is not None:
      return int(span)
  return None


class Scheduler:
  """Fires one output folder's schedules; `run` loops until stopped (SIGTERM or SIGINT)."""

  def __init__(self, output_dir: str, tick_s: float = TICK_S, say: Callable[[str], None] = print):
    self.output_dir = os.path.abspath(output_dir)
    self.store = schedules_lib.ScheduleStore(self.output_dir)
    self.tick_s = tick_s
    self.say = say
    self._child: Optional[subprocess.Popen] = None
    self._child_firing: Optional[Firing] = None
    self._child_started = 0.0
    self._state_before_child: Optional[schedules_lib.ScheduleState] = None
    self._settling: dict = {}  # schedule name: spans_lib.SettleWatch
    self._stopping = False
    self._reported: set = set()  # unreadable schedules, said once each

  @property
  def metadata_path(self) -> str:
    return config_lib.PipelineConfig(output_dir=self.output_dir).metadata_path

  @property
  def log_dir(self) -> str:
    return config_lib.PipelineConfig(output_dir=self.output_dir).log_dir

  def _process_state(self, run_id: str) -> Optional[str]:
    return run_process.process_state(self.log_dir, run_id)

  def _store(self):
    return runs_lib.open_store(self.metadata_path, read_only=True) if os.path.exists(self.metadata_path) else None

  def run(self) -> int:
    with SchedulerLock(self.store):
      for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, self._stop)
      self.say(f'Scheduler for {self.output_dir}: {len(self.store.names())} schedule(s); checking every '
               f'{self.tick_s:g} s. Stop with Ctrl-C or SIGTERM; a run it started goes on.')
      while not self._stopping:
        self.tick(time.time())
        time.sleep(self.tick_s)
      self.say('Scheduler stopped.' + (' Its run goes on.' if self._child and self._child.poll() is None else ''))
    return 0

  def _stop(self, *_) -> None:
    self._stopping = True

  def tick(self, now: float) -> Optional[Firing]:
    """Notes a finished child; then fires the first due schedule, when nothing runs on the folder."""
    self._adopt_orphans()
    if self._child is not None:
      if self._child.poll() is None:
        self._watch_spans(now)
        return None
      self._finished(self._child.returncode)
    if not folder_is_free(self.output_dir):
      self._watch_spans(now)
      return None
    store = self._store()
    for name, schedule, problem in self.store.all():
      if schedule is None:
        if problem not in self._reported:
          self._reported.add(problem)
          self.say(f'{schedules_lib.describe_time(now)} skipping schedule {name}: {problem}')
        continue
      firing = self._due(schedule, now, store)
      if firing is not None:
        self._fire(firing, now)
        return firing
    return None

  def _watch_spans(self, now: float) -> None:
    """Keeps timing new spans' files while a run goes, so that a span that settled fires as the run ends."""
    for _, schedule, _ in self.store.all():
      if schedule is not None and schedule.on_new_span and not schedule.paused:
        span = spans_lib.newest_span(schedule.on_new_span)
        if span is not None:
          self._watch(schedule).settled(span, now)

  def _watch(self, schedule: schedules_lib.Schedule) -> spans_lib.SettleWatch:
    watch = self._settling.get(schedule.name)
    if watch is None or watch.settle_s != schedule.settle_s:
      watch = self._settling[schedule.name] = spans_lib.SettleWatch(schedule.settle_s)
    return watch

  def _due(self, schedule: schedules_lib.Schedule, now: float, store) -> Optional[Firing]:
    """What fires for a schedule now, with its state after: a run asked for, the oldest due slot (catching up) or
    the newest, a settled new span, or an alert; None when nothing is due or it is paused or out of its window."""
    state = self.store.state(schedule)
    asked_by = self.store.take_run_now(schedule.name)
    if asked_by is not None:
      return Firing(schedule, f'schedule {schedule.name}: run now, asked {asked_by} at {schedule_time(now)}', state,
                    asked_by)
    if schedule.paused or (schedule.start is not None and now < schedule.start):
      return None
    due = schedule.due_slots(state.last_slot, now)  # slots up to the end: one missed before it still runs
    if due:
      slot = due[0] if schedule.catchup else due[-1]
      missed = '' if schedule.catchup or len(due) == 1 else f' ({len(due) - 1} earlier slot(s) missed, not caught up)'
      return Firing(schedule, f'schedule {schedule.name} at {schedule_time(slot)}{missed}',
                    dataclasses.replace(state, last_slot=slot))
    if schedule.ended(now):
      return None
    if schedule.on_new_span:
      span = spans_lib.newest_span(schedule.on_new_span)
      if span is not None and self._watch(schedule).settled(span, now):
        known = [number for number in (state.span, last_span_read(store) if store else None) if number is not None]
        if not known or span.number > max(known):
          return Firing(schedule, f'schedule {schedule.name}: new span {span.number}',
                        dataclasses.replace(state, span=span.number))
    if schedule.on_alert and store is not None:
      alerting = newest_alert(store)
      if alerting is not None and alerting.run_id != state.alert_run:
        return Firing(schedule, f'schedule {schedule.name}: alert in evaluation run {alerting.run_id} '
                                f'({alerting.alerts[0]})',
                      dataclasses.replace(state, alert_run=alerting.run_id))
    return None

  def command(self, schedule: schedules_lib.Schedule) -> List[str]:
    """The child's command line: the same CLI, with the schedule's config file and flags."""
    argv = [sys.executable, '-m', 'pipeline.cli', schedule.command]
    if schedule.config_file:
      argv += ['--config', schedule.config_file]
    for name, value in schedule.overrides.items():
      if name != 'output_dir':
        argv += config_flags.flags_for(name, value)
    return argv + ['--output-dir', schedule.output_dir or self.output_dir]

  def _fire(self, firing: Firing, now: float) -> None:
    name = firing.schedule.name
    self._state_before_child = self.store.state(firing.schedule)
    state = dataclasses.replace(firing.state, last_trigger=firing.trigger, last_outcome='started',
                                last_run=None, fired_at=now)
    self.store.put_state(name, state)  # before the child: a kill from here on fires nothing twice
    output_folder = os.path.join(self.store.folder, schedules_lib.OUTPUT_FOLDER)
    os.makedirs(output_folder, exist_ok=True)
    output_path = os.path.join(output_folder, f'{time.strftime("%Y%m%d-%H%M%S", time.localtime(now))}-{name}.txt')
    environment = dict(os.environ, **{run_process.TRIGGER_ENV: firing.trigger})
    with open(output_path, 'w', encoding='utf-8') as output:
      self._child = subprocess.Popen(self.command(firing.schedule), stdout=output, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=environment, start_new_session=True)
    self._child_firing = dataclasses.replace(firing, state=state)
    self._child_started = now
    self._child_output = output_path
    self.store.append_history(schedules_lib.TriggerRecord(time.time(), name, firing.trigger, 'started'))
    self.say(f'{schedules_lib.describe_time(now)} {firing.trigger}: started `visionflow {firing.schedule.command}` '
             f'(process {self._child.pid}; console output {output_path})')

  def _finished(self, returncode: int) -> None:
    firing, child = self._child_firing, self._child
    self._child, self._child_firing = None, None
    process = next((process for process in run_process.all_recorded(self.log_dir)
                    if process.pid == child.pid and process.started >= self._child_started - 1), None)
    if process is None and returncode == 2 and not folder_is_free(self.output_dir):
      self._defer(firing)
      return
    self._record_end(firing.schedule, firing.trigger, process.run_id if process else None,
                     _outcome_of_exit(returncode, self._child_output),
                     _last_line(self._child_output) if returncode == 2 else '')

  def _defer(self, firing: Firing) -> None:
    """A fired command that started no run because the folder was taken in the instant between the look and its
    start (a run started by hand): the schedule's state goes back to before the firing, so that what was due stays
    due and fires once the folder is free."""
    name = firing.schedule.name
    outcome = f'deferred: {_last_line(self._child_output)}'
    now = time.time()
    self.store.append_history(schedules_lib.TriggerRecord(now, name, firing.trigger, outcome))
    if name in self.store.names():
      self.store.put_state(name, dataclasses.replace(self._state_before_child, last_trigger=firing.trigger,
                                                     last_outcome=outcome, last_run=None))
      if firing.asked_by is not None:
        self.store.request_run_now(name, firing.asked_by)
    self.say(f'{schedules_lib.describe_time(now)} {firing.trigger}: {outcome}; it fires again once the folder is '
             'free')

  def _record_end(self, schedule: schedules_lib.Schedule, trigger: str, run_id: Optional[str],
                  without_run: str, refusal: str = '') -> None:
    """The outcome of a fired trigger in the history and the schedule's state: its run's (with the refusal that
    ended it, if one did), or `without_run`."""
    store = self._store() if run_id else None
    view = runs_lib.run_view(store, run_id, self._process_state) if store else None
    outcome = _outcome_of_run(schedule.command, view, store) if view else without_run
    if view and refusal and view.state != 'COMPLETE':
      outcome += f': {refusal}'
    now = time.time()
    self.store.append_history(schedules_lib.TriggerRecord(now, schedule.name, trigger, outcome, run_id))
    if schedule.name in self.store.names():
      self.store.put_state(schedule.name, dataclasses.replace(
          self.store.state(schedule), last_outcome=outcome, last_run=run_id))
    self.say(f'{schedules_lib.describe_time(now)} {trigger}: {outcome}' + (f' (run {run_id})' if run_id else ''))

  def _adopt_orphans(self) -> None:
    """A trigger fired by a scheduler that was killed: its run's outcome once the run ended (or was abandoned),
    so that the schedule's last outcome and the history say how it ended."""
    for _, schedule, _ in self.store.all():
      if schedule is None:
        continue
      state = self.store.state(schedule)
      if state.last_outcome != 'started' or (self._child_firing and self._child_firing.schedule.name == schedule.name):
        continue
      process = next((process for process in reversed(run_process.all_recorded(self.log_dir))
                      if process.trigger == state.last_trigger), None)
      if process is None:
        # The run records itself within seconds of its start; one that never did was killed with the scheduler.
        if time.time() - (state.fired_at or 0) > _RECORD_WAIT_S and folder_is_free(self.output_dir):
          self._record_end(schedule, state.last_trigger, None,
                           'unknown: the scheduler was stopped before its run recorded itself')
      elif process.ended is not None or process.is_gone():
        self._record_end(schedule, state.last_trigger, process.run_id, 'unknown')


def schedule_time(moment: float) -> str:
  return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(moment))


def _outcome_of_exit(returncode: int, output_path: str) -> str:
  """A fired command that started no run: why (`visionflow` exits 2 with one line saying why)."""
  if returncode < 0:
    return f'ended: killed by signal {-returncode} before its run started'
  return f'refused: {_last_line(output_path) or f"exit code {returncode}"}'


def _outcome_of_run(command: str, view: runs_lib.RunView, store) -> str:
  """A fired run's state and verdict, as its run records them."""
  if view.state != 'COMPLETE':
    return f'ended: {view.state_text}'
  if command == 'evaluate':
    alerts = next((measurement.alerts for measurement in runs_lib.production_measurements(store)
                   if measurement.run_id == view.run_id), ())
    return f'ended: COMPLETE, {"alert: " + alerts[0] if alerts else "no alert"}'
  outcome = view.outcome
  if outcome.pushed_version and outcome.push_reused_from:
    return f'ended: COMPLETE, version {outcome.pushed_version} in production (cached: pushed by run ' \
           f'{outcome.push_reused_from})'
  if outcome.pushed_version and outcome.already_served:
    return f'ended: COMPLETE, version {outcome.pushed_version} in production (already served these bytes)'
  if outcome.pushed_version:
    return f'ended: COMPLETE, pushed version {outcome.pushed_version}'
  return 'ended: COMPLETE, ' + ('blessed, not pushed' if outcome.blessed else 'not blessed')


def _last_line(path: str) -> str:
  try:
    with open(path, encoding='utf-8', errors='replace') as handle:
      lines = [line.strip() for line in handle if line.strip()]
  except OSError:
    return ''
  return lines[-1] if lines else ''
