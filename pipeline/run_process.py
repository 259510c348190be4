"""The process behind a local run: who runs it, whether it still lives, and one run per output folder.

A run killed with `kill -9` leaves its executions RUNNING in the metadata store forever, because nothing
was left to record its end. Each run therefore records its process id, host and the process's start time
(so that a recycled pid is not taken for it) beside its log, and its end when it ends; a reader that finds
no end and the process gone shows the run as ABANDONED. A lock on the output folder, held for the whole run
and released by the kernel when the process dies however it dies, keeps two runs from writing one store, root
and log at once. It lives beside the runners, not among them: the local runner writes the records and holds the
lock, and the inspection (`runs`, `show`, the UI), which imports no runner, reads them.
"""
import dataclasses
import errno
import fcntl
import getpass
import json
import os
import socket
import time
from typing import IO, List, Optional

from pipeline.inspect import run_logs

LOCK_FILE = '.visionflow-run.lock'
LOCK_PATIENCE_S = 1.0  # how long taking a lock waits for a process that only looks whether it is held
# What started a run, set by `visionflow scheduler` for the runs it starts (pipeline/scheduling/scheduler.py).
TRIGGER_ENV = 'VISIONFLOW_TRIGGER'
_RECORD_NAME = 'run-{run_id}.json'


class RunInProgressError(ValueError):
  """Another run holds the output folder; the message names it."""


@dataclasses.dataclass(frozen=True)
class RunProcess:
  run_id: str
  pid: int
  host: str
  process_start: Optional[int]  # the process's start time in clock ticks since boot (Linux /proc)
  started: float = 0.0          # Unix time the run began
  ended: Optional[float] = None  # Unix time the run ended, with success or an error; None while it runs
  trigger: str = ''  # what started it: 'by <login>', or the schedule and its trigger; '' in older records

  @classmethod
  def current(cls, run_id: str) -> 'RunProcess':
    return cls(run_id, os.getpid(), socket.gethostname(), _process_start(os.getpid()), time.time(),
               trigger=os.environ.get(TRIGGER_ENV) or started_by_hand())

  def is_gone(self) -> bool:
    """True when this host has no such process any more; False for a live one or another host's."""
    if self.host != socket.gethostname():
      return False
    if self.process_start is not None and os.path.isdir('/proc'):
      return _process_start(self.pid) != self.process_start
    try:
      os.kill(self.pid, 0)
    except ProcessLookupError:
      return True
    except PermissionError:
      return False
    return False

  def describe(self) -> str:
    started = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.started))
    return f'run {self.run_id}, process {self.pid} on {self.host}, started {started}'


def started_by_hand() -> str:
  """What started a run that no schedule started: the person, by login name."""
  try:
    return f'by {getpass.getuser()}'
  except (KeyError, OSError):
    return 'by hand'


def _process_start(pid: int) -> Optional[int]:
  """Field 22 of /proc/<pid>/stat, or None where there is no such process or no /proc."""
  try:
    with open(f'/proc/{pid}/stat', encoding='ascii', errors='replace') as handle:
      # The command name (field 2) is in parentheses and may hold spaces: count fields after it.
      return int(handle.read().rsplit(')', 1)[1].split()[19])
  except (OSError, IndexError, ValueError):
    return None


def record_path(log_dir: str, run_id: str) -> str:
  return os.path.join(log_dir, _RECORD_NAME.format(run_id=run_id))


def record(log_dir: str, process: RunProcess) -> str:
  os.makedirs(log_dir, exist_ok=True)
  path = record_path(log_dir, process.run_id)
  with open(path, 'w', encoding='utf-8') as handle:
    json.dump(dataclasses.asdict(process), handle)
  return path


def recorded(log_dir: str, run_id: str) -> Optional[RunProcess]:
  """The process recorded for a run, or None (not a local run id, a store copied from elsewhere, or an
  unreadable record)."""
  if not run_logs.is_local_run_id(run_id):
    return None
  try:
    with open(record_path(log_dir, run_id), encoding='utf-8') as handle:
      return RunProcess(**json.load(handle))
  except (OSError, ValueError, TypeError):
    return None


def started_by(log_dir: str, run_id: str) -> str:
  """What started a run, as its process record says; '-' where none says (a Kubeflow run, or a local run recorded
  before runs recorded their trigger)."""
  process = recorded(log_dir, run_id)
  return process.trigger if process and process.trigger else '-'


def all_recorded(log_dir: str) -> List[RunProcess]:
  """Every run process recorded under log_dir, oldest first."""
  try:
    entries = os.listdir(log_dir)
  except OSError:
    return []
  prefix, suffix = _RECORD_NAME.split('{run_id}')
  found = [recorded(log_dir, entry[len(prefix):-len(suffix)]) for entry in entries
           if entry.startswith(prefix) and entry.endswith(suffix)]
  return sorted((process for process in found if process is not None), key=lambda process: process.started)


RUNNING, ENDED, ABANDONED = 'running', 'ended', 'abandoned'


def process_state(log_dir: str, run_id: str) -> Optional[str]:
  """What a run's process is doing: RUNNING it, ENDED (it recorded the run's end), or ABANDONED (gone without
  recording it: whatever the store says, nothing will finish the run); None where no process is recorded."""
  process = recorded(log_dir, run_id)
  if process is None:
    return None
  if process.ended is not None:
    return ENDED
  return ABANDONED if process.is_gone() else RUNNING


def lock_exclusively(handle: IO[str], patience_s: float = LOCK_PATIENCE_S) -> bool:
  """Takes the flock of an open lock file, waiting up to patience_s; False when another process holds it then.

  The scheduler and `schedule list` look whether a lock is held by taking it for an instant: the patience keeps
  a run or a scheduler starting in that instant from being refused."""
  deadline = time.monotonic() + patience_s
  while True:
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
      return True
    except OSError as error:
      if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        raise
    if time.monotonic() >= deadline:
      return False
    time.sleep(0.05)


class OutputLock:
  """An exclusive lock on an output folder for one run: `with OutputLock(folder, process):`.

  The second run on the folder is refused within a second, naming the run that holds it.
  """

  def __init__(self, output_dir: str, process: RunProcess):
    self._path = os.path.join(output_dir, LOCK_FILE)
    self._process = process
    self._handle: Optional[IO[str]] = None

  def __enter__(self) -> 'OutputLock':
    handle = open(self._path, 'a+', encoding='utf-8')
    if not lock_exclusively(handle):
      handle.seek(0)
      try:
        holder = RunProcess(**json.loads(handle.read())).describe()
      except (ValueError, TypeError):
        holder = 'another run'
      handle.close()
      raise RunInProgressError(
          f'{os.path.dirname(self._path)} is in use by {holder}: one run at a time per output folder; wait '
          f'for it to finish or give another --output-dir') from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(dataclasses.asdict(self._process)))
    handle.flush()
    self._handle = handle
    return self

  def __exit__(self, *exc_info) -> None:
    if self._handle is not None:
      self._handle.truncate(0)
      fcntl.flock(self._handle, fcntl.LOCK_UN)
      self._handle.close()
      self._handle = None
