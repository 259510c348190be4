"""A run's process record and the output folder lock, with real processes."""
import dataclasses
import subprocess
import sys

import pytest

from pipeline.inspect import run_logs
from pipeline import run_process


def test_a_live_process_is_not_gone_and_a_killed_one_is(tmp_path):
  child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
  try:
    recorded = dataclasses.replace(run_process.RunProcess.current(run_logs.new_run_id()), pid=child.pid,
                                   process_start=run_process._process_start(child.pid))
    run_process.record(str(tmp_path), recorded)
    assert run_process.recorded(str(tmp_path), recorded.run_id) == recorded
    assert run_process.process_state(str(tmp_path), recorded.run_id) == run_process.RUNNING
  finally:
    child.kill()
    child.wait(timeout=30)
  assert run_process.process_state(str(tmp_path), recorded.run_id) == run_process.ABANDONED
  run_process.record(str(tmp_path), dataclasses.replace(recorded, ended=1.0))
  # it ended before it was killed
  assert run_process.process_state(str(tmp_path), recorded.run_id) == run_process.ENDED


def test_a_recycled_pid_or_another_host_is_not_the_run(tmp_path):
  me = run_process.RunProcess.current(run_logs.new_run_id())
  assert not me.is_gone()
  assert dataclasses.replace(me, process_start=me.process_start + 1).is_gone()  # same pid, another process
  assert not dataclasses.replace(me, pid=2 ** 22 + 7, host='elsewhere').is_gone()  # cannot tell: not gone
  assert run_process.recorded(str(tmp_path), 'not a local run id') is None
  assert run_process.process_state(str(tmp_path), run_logs.new_run_id()) is None  # nothing recorded


@pytest.mark.timeout(120)
def test_a_second_run_on_one_output_folder_is_refused_naming_the_first(tmp_path):
  holder = run_process.RunProcess.current(run_logs.new_run_id())
  with run_process.OutputLock(str(tmp_path), holder):
    # Another process, as a second `visionflow run` would be: the lock is per open file, across processes.
    script = ('import sys; from pipeline import run_process; from pipeline.inspect import run_logs\n'
              'try:\n'
              '  with run_process.OutputLock(sys.argv[1], run_process.RunProcess.current(run_logs.new_run_id())):\n'
              '    print("got the lock")\n'
              'except run_process.RunInProgressError as error:\n'
              '  print(error)\n')
    result = subprocess.run([sys.executable, '-c', script, str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == (
        f'{tmp_path} is in use by run {holder.run_id}, process {holder.pid} on {holder.host}, started '
        f'{holder.describe().rsplit("started ", 1)[1]}: one run at a time per output folder; wait for it to '
        f'finish or give another --output-dir'), result.stderr
  with run_process.OutputLock(str(tmp_path), holder):  # released on exit: the next run takes it
    pass


@pytest.mark.timeout(120)
def test_the_lock_of_a_killed_run_is_free_again(tmp_path):
  script = ('import sys, time; from pipeline import run_process; from pipeline.inspect import run_logs\n'
            'with run_process.OutputLock(sys.argv[1], run_process.RunProcess.current(run_logs.new_run_id())):\n'
            '  print("locked", flush=True); time.sleep(60)\n')
  child = subprocess.Popen([sys.executable, '-c', script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
  try:
    assert child.stdout.readline().strip() == 'locked'
    with pytest.raises(run_process.RunInProgressError, match=f'process {child.pid} on'):
      with run_process.OutputLock(str(tmp_path), run_process.RunProcess.current(run_logs.new_run_id())):
        pass
  finally:
    child.kill()  # SIGKILL: no clean-up runs in the child
    child.wait(timeout=30)
  with run_process.OutputLock(str(tmp_path), run_process.RunProcess.current(run_logs.new_run_id())):
    pass
