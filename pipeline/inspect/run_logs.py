"""A local run's log file, read back per run and per component.

The local runner gives each run its own id (`new_run_id`) and logs everything to
<output_dir>/logs/run-<run id>.log (see pipeline/runners/progress.py), starting with the pipeline's DAG; TFX's
runner then brackets each component's lines with 'Component X is running.' and 'Component X is finished.'.
Between the log records are, as they were written, the lines libraries print or write to file descriptors 1 and
2 (pipeline/runners/console.py), without a timestamp.
"""
import collections
import json
import os
import re
import secrets
import time
from typing import Dict, List, Optional

DAG_MESSAGE = 'Pipeline DAG (component: upstream components): %s'
FAILURE_MESSAGE = 'The run failed'  # logged with the traceback of whatever stopped the run
_DAG_PREFIX = DAG_MESSAGE.split('%s')[0]
_LOG_NAME = 'run-{run_id}.log'
# Local run ids: the start time to the second and a random suffix, unique for runs started together.
_RUN_ID = re.compile(r'^\d{8}-\d{6}-[0-9a-f]{6}$')
MAX_NODE_LOG_LINES = 400


def new_run_id() -> str:
  return f'{time.strftime("%Y%m%d-%H%M%S")}-{secrets.token_hex(3)}'


def log_path(log_dir: str, run_id: str) -> str:
  return os.path.join(log_dir, _LOG_NAME.format(run_id=run_id))


def is_local_run_id(run_id: str) -> bool:
  """Whether the id is one `new_run_id` makes (and so safe to put in a file name)."""
  return bool(_RUN_ID.match(run_id))


def find_log(log_dir: str, run_id: str) -> Optional[str]:
  """The log file of a local run; None for any other run id, or when the file is gone."""
  if not is_local_run_id(run_id):
    return None
  path = log_path(log_dir, run_id)
  return path if os.path.isfile(path) else None


def logged_dag(log_path: str) -> Dict[str, List[str]]:
  """{component: upstream components} in the pipeline's order, as the runner logged it before running."""
  with open(log_path, encoding='utf-8', errors='replace') as handle:
    for line in handle:
      if _DAG_PREFIX in line:
        return json.loads(line.split(_DAG_PREFIX, 1)[1])
  return {}


def node_log(log_path: str, node_id: str) -> List[str]:
  """The component's log lines, from 'is running' to 'is finished' (or the end, for a run that stopped
  inside it); only the last MAX_NODE_LOG_LINES of a long log."""
  started, finished = f'Component {node_id} is running.', f'Component {node_id} is finished.'
  lines = collections.deque(maxlen=MAX_NODE_LOG_LINES)
  inside = False
  with open(log_path, encoding='utf-8', errors='replace') as handle:
    for line in handle:
      if not inside and line.rstrip().endswith(started):
        inside = True
      if inside:
        lines.append(line.rstrip('\n'))
        if line.rstrip().endswith(finished):
          break
  return list(lines)


def failure(log_path: str) -> Optional[str]:
  """The traceback the runner logged when the run stopped on an error; None for a run that did not."""
  lines: List[str] = []
  with open(log_path, encoding='utf-8', errors='replace') as handle:
    for line in handle:
      if lines or line.rstrip().endswith(FAILURE_MESSAGE):
        lines.append(line.rstrip('\n'))
  return '\n'.join(lines) or None
