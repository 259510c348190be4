"""A local run's log file, read back per run and per component.

The local runner logs everything to <output_dir>/logs/run-YYYYmmdd-HHMMSS.log (see progress.py), starting
with the pipeline's DAG; TFX's runner then logs the run id and brackets each component's lines with
'Component X is running.' and 'Component X is finished.'.
"""
import collections
import datetime
import glob
import json
import os
from typing import Dict, List, Optional

DAG_MESSAGE = 'Pipeline DAG (component: upstream components): %s'
FAILURE_MESSAGE = 'The run failed'  # logged with the traceback of whatever stopped the run
_DAG_PREFIX = DAG_MESSAGE.split('%s')[0]
_LOG_NAME = 'run-%Y%m%d-%H%M%S.log'
_HEAD_BYTES = 1 << 20            # the run id is logged within the first few hundred lines
_LOG_BEFORE_RUN_S = 600          # the log file is opened at most this long before TFX names the run
MAX_NODE_LOG_LINES = 400


def find_log(log_dir: str, run_id: str) -> Optional[str]:
  """The log file of the run, found by the run id TFX logs near its start; None when there is none."""
  try:
    started = datetime.datetime.fromisoformat(run_id)
  except ValueError:
    return None
  candidates = []
  for path in glob.glob(os.path.join(log_dir, 'run-*.log')):
    try:
      opened = datetime.datetime.strptime(os.path.basename(path), _LOG_NAME)
    except ValueError:
      continue
    lead = (started - opened).total_seconds()
    if -1 <= lead <= _LOG_BEFORE_RUN_S:
      candidates.append((lead, path))
  marker = f"pipeline_run_id='{run_id}'"
  for _, path in sorted(candidates):
    with open(path, encoding='utf-8', errors='replace') as handle:
      if marker in handle.read(_HEAD_BYTES):
        return path
  return None


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
