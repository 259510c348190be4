"""A run as it goes, for the UI's run page and the status its script polls: each step's state, how long the step
running now has run, and the Trainer's latest epoch and the Tuner's latest trial as the run's log has them so far.

Read-only. The log lines are the ones the local run's console shows (pipeline/runners/progress.py):
components/trainer/training.py's EpochLogger, 'Trainer epoch 3/40: accuracy 0.8792, loss 0.4665, val_accuracy
0.9634, val_loss 0.2114' (with ' (retry)' after the count when training starts over at a lower learning rate),
and components/trainer/tuner_fn.py's line per trial, 'Tuner trial 2/3: backbone small_cnn, ...; val_accuracy
0.9843' (or '; no score').
"""
import dataclasses
import math
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from pipeline import run_process
from pipeline.inspect import run_logs
from pipeline.inspect import runs as runs_lib

# search, not match: a Trainer worker's own process logs with absl's prefix, not the run's format.
_EPOCH = re.compile(r'Trainer epoch (\d+)/(\d+)( \(retry\))?: (.*)$')
_TRIAL = re.compile(r'Tuner trial (\d+)(?:/(\d+))?: .*; (?:no score|(\S+) (\S+))$')
EVAL_ACCURACY = 'val_accuracy'  # Keras' name for the eval split's value of the model's 'accuracy' metric
NOT_RUN = 'NOT RUN'


@dataclasses.dataclass(frozen=True)
class Epoch:
  """The Trainer's latest epoch: `number` of `epochs`, counted from 1, and its eval accuracy where logged."""
  number: int
  epochs: int
  eval_accuracy: Optional[float]
  retry: bool = False  # training started over from a new start (components/trainer/training.py: run_learning)

  def describe(self) -> str:
    text = f'epoch {self.number} of {self.epochs}{" (retry)" if self.retry else ""}'
    return text if self.eval_accuracy is None else f'{text}, eval accuracy {self.eval_accuracy:.4f}'


@dataclasses.dataclass(frozen=True)
class Trial:
  """The Tuner's latest finished trial: `number` of `trials` (None where the tuner sets no count, as
  Hyperband's), and its score on the tuner's objective (None where the trial has no score)."""
  number: int
  trials: Optional[int]
  objective: Optional[str]
  score: Optional[float]

  def describe(self) -> str:
    counted = f'trial {self.number}' + ('' if self.trials is None else f' of {self.trials}')
    return f'{counted}, no score' if self.score is None else f'{counted}, {self.objective} {self.score:.4f}'


@dataclasses.dataclass(frozen=True)
class LoggedProgress:
  epoch: Optional[Epoch] = None
  trial: Optional[Trial] = None


def _number(text: str) -> Optional[float]:
  """A logged value; None for one that is not a finite number (a loss of nan), which JSON cannot carry."""
  try:
    value = float(text)
  except ValueError:
    return None
  return value if math.isfinite(value) else None


def _epoch(line: str) -> Optional[Epoch]:
  match = _EPOCH.search(line)
  if not match:
    return None
  number, epochs, retry, shown = match.groups()
  metrics = dict(item.rsplit(' ', 1) for item in shown.split(', ') if ' ' in item)
  accuracy = metrics.get(EVAL_ACCURACY)
  return Epoch(int(number), int(epochs), None if accuracy is None else _number(accuracy), bool(retry))


def _trial(line: str) -> Optional[Trial]:
  match = _TRIAL.search(line)
  if not match:
    return None
  number, trials, objective, score = match.groups()
  score_value = None if score is None else _number(score)
  return Trial(int(number), None if trials is None else int(trials), objective if score_value is not None else None,
               score_value)


def read_progress(log_path: str) -> LoggedProgress:
  """The Trainer's latest epoch and the Tuner's latest trial in a run's log so far. The line still being written
  (no newline yet) is left for the next read, so a value cut in half is never shown."""
  epoch, trial = None, None
  with open(log_path, encoding='utf-8', errors='replace') as handle:
    for line in handle:
      if not line.endswith('\n'):
        break
      if 'Trainer epoch ' in line:
        epoch = _epoch(line.rstrip()) or epoch
      elif 'Tuner trial ' in line:
        trial = _trial(line.rstrip()) or trial
  return LoggedProgress(epoch, trial)


def process_goes_on(log_dir: str, run_id: str) -> Optional[bool]:
  """Whether the local process running the run still runs it: False once it recorded its end or died; None where
  no process is recorded for the run (not a local run, or a store copied from elsewhere)."""
  state = run_process.process_state(log_dir, run_id)
  return None if state is None else state == run_process.RUNNING


@dataclasses.dataclass(frozen=True)
class Step:
  node_id: str
  state: str  # the execution's, or NOT_RUN
  duration_s: Optional[float]  # None where it did not run


@dataclasses.dataclass(frozen=True)
class RunStatus:
  """A run as its page shows it: `following` while there is more to come, so that the page keeps polling; once
  the run completed, failed or was abandoned its page shows the final state and stops."""
  run_id: str
  state: str
  state_text: str  # as RunView.state_text: 'RUNNING at Trainer'
  following: bool
  steps: Tuple[Step, ...]  # every step of the DAG, in the pipeline's order; the running one's duration so far
  running_step: Optional[str]
  running_for_s: Optional[float]  # since the running step started
  epoch: Optional[Epoch]
  trial: Optional[Trial]

  def texts(self) -> Dict[str, str]:
    """{name: a line of the page ('' for none)}: the same words with and without the page's script."""
    return {'state': self.state_text, 'note': self._note(),
            'step': '' if self.running_step is None else
            f'{self.running_step} running for {self.running_for_s:.0f} s',
            'trial': '' if self.trial is None else f'Tuner: {self.trial.describe()}',
            'epoch': '' if self.epoch is None else f'Trainer: {self.epoch.describe()}'}

  def durations(self) -> Dict[str, float]:
    """{step: seconds} of each step that ran, the running one's so far (the store has none for it yet)."""
    return {step.node_id: step.duration_s for step in self.steps if step.duration_s is not None}

  def _note(self) -> str:
    if self.following:
      return 'This page follows the run as it goes, without a reload.'
    if self.state == runs_lib.ABANDONED:
      return ("The run's process is gone, so nothing will finish this run and this page no longer updates. Run "
              'the same command again to resume it: finished steps are reused.')
    if self.state == 'RUNNING':
      return "The run's process has ended without recording this step's end; this page no longer updates."
    return ''

  def as_json(self) -> Dict[str, Any]:
    return dict(dataclasses.asdict(self), texts=self.texts())


def run_status(view: runs_lib.RunView, steps: List[Tuple[str, Optional[runs_lib.NodeView]]],
               progress: LoggedProgress, goes_on: Optional[bool], now_ms: int) -> RunStatus:
  """The run's status from its metadata (`view`, and `steps`: each step of the DAG with its execution, None where
  it has none yet), its log's `progress`, and whether its process goes on (process_goes_on), at `now_ms`.

  Between two steps the store records none running and its view reads COMPLETE: while the process goes on, the
  run is RUNNING after the step that finished."""
  if view.state in ('FAILED', runs_lib.ABANDONED):
    following = False
  elif goes_on is None:  # no process to ask: the store alone tells
    following = view.state == 'RUNNING'
  else:
    following = goes_on
  if following and view.state == 'COMPLETE':
    view = dataclasses.replace(view, state='RUNNING')
  running = None
  if following:
    running = next((node for _, node in steps if node is not None and node.state == 'RUNNING'), None)
  running_for_s = max(0, now_ms - running.started_ms) / 1000 if running else None
  return RunStatus(
      run_id=view.run_id, state=view.state, state_text=view.state_text, following=following,
      steps=tuple(Step(node_id, NOT_RUN, None) if node is None
                  else Step(node_id, node.state, running_for_s if node is running else node.duration_s)
                  for node_id, node in steps),
      running_step=running.node_id if running else None, running_for_s=running_for_s,
      epoch=progress.epoch, trial=progress.trial)


def current_status(view: runs_lib.RunView, steps: List[Tuple[str, Optional[runs_lib.NodeView]]],
                   log_dir: str) -> RunStatus:
  """run_status now, from the run's log and process under log_dir: what the UI's run page and `visionflow show`
  say the run is doing."""
  log_path = run_logs.find_log(log_dir, view.run_id)
  return run_status(view, steps, read_progress(log_path) if log_path else LoggedProgress(),
                    process_goes_on(log_dir, view.run_id), int(time.time() * 1000))
