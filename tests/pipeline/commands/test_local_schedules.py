"""`visionflow schedule ... --local` and `visionflow scheduler`: what they keep, and one line and exit 2 for each
mistake (the schedules firing real runs are tested in tests/pipeline/scheduling/test_scheduler.py)."""
import configparser
import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from pipeline import cli
from pipeline.scheduling import schedules as schedules_lib

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')


@pytest.fixture
def folder(tmp_path):
  labels = tmp_path / 'labels.txt'
  labels.write_text('cat\ndog\n')
  (tmp_path / 'data' / 'span-1').mkdir(parents=True)
  (tmp_path / 'data' / 'span-1' / 'labels.csv').write_text('cat.jpg,cat\n')
  return tmp_path


def _flags(folder):
  return ['--output-dir', str(folder / 'out'), '--data-csv', str(folder / 'data' / 'span-{SPAN}' / 'labels.csv'),
          '--labels-file', str(folder / 'labels.txt')]


def _error_line(capsys):
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1, lines
  return lines[0]


def test_a_schedule_is_kept_in_the_output_folder_and_listed_paused_and_resumed(folder, capsys):
  assert cli.main(['schedule', 'create', '--local', 'nightly', '--cron', '0 2 * * *', '--on-new-span', '--on-alert',
                   '--epochs', '3', *_flags(folder)]) == 0
  created = capsys.readouterr().out
  assert created.startswith(f'Created schedule nightly in {folder / "out" / "schedules"}: retrain on cron 0 2 * * *, '
                            f'new span of {folder / "data" / "span-{SPAN}" / "labels.csv"}, alert; next slot ')
  assert 'No scheduler runs for this folder: start one with `visionflow scheduler --output-dir' in created
  schedule = schedules_lib.ScheduleStore(str(folder / 'out')).get('nightly')
  assert schedule.overrides['epochs'] == 3 and schedule.overrides['labels_file'] == str(folder / 'labels.txt')
  assert cli.main(['schedule', 'pause', '--local', 'nightly', '--output-dir', str(folder / 'out')]) == 0
  assert capsys.readouterr().out == 'Schedule nightly paused.\n'
  assert cli.main(['schedule', 'list', '--local', '--output-dir', str(folder / 'out')]) == 0
  listed = capsys.readouterr().out.splitlines()
  assert listed[0].split('\t')[:3] == ['NAME', 'STATE', 'JOB']
  assert listed[1].split('\t')[:3] == ['nightly', 'PAUSED', 'retrain']
  assert cli.main(['schedule', 'resume', 'nightly', '--local', '--output-dir', str(folder / 'out')]) == 0
  assert 'Schedule nightly resumed (slots missed while paused run once).' in capsys.readouterr().out
  assert cli.main(['schedule', 'create', '--local', 'watch', '--evaluate-csv', str(folder / 'new.csv'),
                   '--every', '6h', *_flags(folder)]) == 0
  assert schedules_lib.ScheduleStore(str(folder / 'out')).get('watch').command == 'evaluate'
  assert cli.main(['schedule', 'delete', '--local', 'nightly', '--output-dir', str(folder / 'out')]) == 0
  assert schedules_lib.ScheduleStore(str(folder / 'out')).names() == ['watch']


@pytest.mark.parametrize('arguments, message', [
    (['create', '--local', 'n', '--cron', '0 25 * * *'], "error: --cron '0 25 * * *' is not a cron expression"),
    (['create', '--local', 'n', '--every', 'daily'], "error: --every 'daily': expected a positive number and a unit"),
    (['create', '--local', 'n'], 'error: schedule n has no trigger: give --cron, --every, --on-new-span or --on-alert'),
    (['create', '--local', 'n', '--every', '1h', '--param', 'epochs=3'], 'error: --param is a Kubeflow flag'),
    (['create', '--local', 'n', '--every', '1h', '--start', 'soon'], "error: 'soon' is not a date and time"),
    (['create', '--local', 'n', '--on-new-span', '--data-csv', '/d/labels.csv', '--labels-file', '/d/labels.txt'],
     'error: --on-new-span watches a {SPAN} or {YYYY}/{MM}/{DD} pattern; /d/labels.csv has none'),
    (['create', '--local', 'n', '--every', '1h', '--epochs', '0'], 'error: epochs must be at least 1'),
    (['create', '--local', '--every', '1h'], 'error: schedule create --local needs a NAME'),
    (['pause', '--local', 'nightly'], "error: no schedule 'nightly' in "),
    (['run-now', '--local', 'nightly'], "error: no schedule 'nightly' in "),
    (['delete', '--local', 'nightly'], "error: no schedule 'nightly' in "),
    (['create', '--every', '1h'], 'error: schedule create needs --host (a Kubeflow Pipelines API), or --local'),
    (['create', '--host', 'http://127.0.0.1:9', '--on-alert'], 'error: --on-alert is a trigger of local schedules'),
])
def test_each_mistake_is_one_line_and_exit_2(folder, capsys, arguments, message):
  flags = [] if '--data-csv' in arguments else _flags(folder)
  assert cli.main(['schedule', *arguments, *flags]) == 2
  assert message in _error_line(capsys)


def test_a_second_scheduler_on_one_folder_is_refused_and_the_first_goes_on(folder):
  assert cli.main(['schedule', 'create', '--local', 'later', '--every', '1d', *_flags(folder)]) == 0
  first = subprocess.Popen([VISIONFLOW, 'scheduler', '--output-dir', str(folder / 'out'), '--tick', '0.2'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    assert first.stdout.readline().startswith(f'Scheduler for {folder / "out"}: 1 schedule(s)')
    second = subprocess.run([VISIONFLOW, 'scheduler', '--output-dir', str(folder / 'out')], capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f'visionflow scheduler: error: another scheduler runs the schedules of {folder / "out"} (process '
        f'{first.pid} on {os.uname().nodename}, started {second.stderr.split("started ")[1].split(")")[0]}): one '
        f'scheduler per output folder']
    listed = subprocess.run([VISIONFLOW, 'schedule', 'list', '--local', '--output-dir', str(folder / 'out')],
                            capture_output=True, text=True, timeout=120)
    assert listed.stdout.splitlines()[-1].startswith(f'The scheduler of this folder runs (process {first.pid} on ')
    time.sleep(0.5)
    assert first.poll() is None
  finally:
    first.terminate()
    assert first.wait(timeout=60) == 0
  assert first.stdout.read().strip().endswith('Scheduler stopped.')


def test_a_scheduler_needs_an_existing_folder(tmp_path, capsys):
  assert cli.main(['scheduler', '--output-dir', str(tmp_path / 'none')]) == 2
  assert _error_line(capsys) == (f'visionflow scheduler: error: --output-dir {tmp_path / "none"} is no folder: create '
                                 f'a schedule there first (`visionflow schedule create --local NAME --output-dir '
                                 f'{tmp_path / "none"} ...`)')


def test_the_systemd_unit_runs_this_installation_s_scheduler_on_the_folder(tmp_path):
  output_dir = tmp_path / 'my out%'
  printed = subprocess.run([VISIONFLOW, 'scheduler', '--output-dir', str(output_dir), '--systemd-unit'],
                           capture_output=True, text=True, timeout=120)
  assert printed.returncode == 0, printed.stderr
  unit = configparser.ConfigParser(interpolation=None, strict=False)
  unit.read_string(printed.stdout)
  command = shlex.split(unit['Service']['ExecStart'].replace('%%', '%'))
  assert command == [VISIONFLOW, 'scheduler', '--output-dir', str(output_dir)]
  assert unit['Service']['KillMode'] == 'process' and unit['Install']['WantedBy'] == 'default.target'
  if shutil.which('systemd-analyze'):
    (tmp_path / 'visionflow-scheduler.service').write_text(printed.stdout)
    verified = subprocess.run(['systemd-analyze', 'verify', str(tmp_path / 'visionflow-scheduler.service')],
                              capture_output=True, text=True, timeout=120)
    assert (verified.returncode, verified.stderr) == (0, '')
