"""Schedules as stored, and their time slots: due, missed, caught up, bounded by a start and an end."""
import datetime
import json

import pytest

from pipeline.scheduling import schedules as schedules_lib

T0 = datetime.datetime(2026, 12, 6, 1, 0).astimezone().timestamp()


def _every(seconds, **fields):
  return schedules_lib.Schedule(name='s', command='run', every_s=seconds, created=T0, **fields)


def test_missed_slots_are_due_oldest_first_up_to_now_and_never_after_the_end():
  schedule = _every(60)
  assert schedule.due_slots(T0, T0 + 59) == []
  assert schedule.due_slots(T0, T0 + 185) == [T0 + 60, T0 + 120, T0 + 180]
  assert schedule.due_slots(T0 + 120, T0 + 185) == [T0 + 180]
  assert _every(60, end=T0 + 130).due_slots(T0, T0 + 1000) == [T0 + 60, T0 + 120]
  assert schedule.next_slot(T0 + 120, T0 + 150) == T0 + 180
  assert _every(60, end=T0 + 130).next_slot(T0 + 120, T0 + 125) is None


def test_slots_count_from_the_start_when_one_is_given():
  schedule = _every(3600, start=T0 + 90)
  assert schedule.anchor == T0 + 90
  assert schedule.due_slots(schedule.anchor, T0 + 90 + 7300) == [T0 + 90 + 3600, T0 + 90 + 7200]
  assert schedule.status(T0 + 10) == 'WAITING' and schedule.status(T0 + 100) == 'ACTIVE'


def test_cron_slots_are_local_times_and_kubeflow_six_fields_read_seconds_first():
  daily = schedules_lib.Schedule(name='d', command='run', cron='30 2 * * *', created=T0)
  slots = [datetime.datetime.fromtimestamp(slot) for slot in daily.due_slots(T0, T0 + 3 * 86400)]
  assert [(slot.day, slot.hour, slot.minute) for slot in slots] == [(6, 2, 30), (7, 2, 30), (8, 2, 30)]
  kubeflow = schedules_lib.Schedule(name='k', command='run', cron='0 30 2 * * *', created=T0)
  assert kubeflow.due_slots(T0, T0 + 3 * 86400) == daily.due_slots(T0, T0 + 3 * 86400)


@pytest.mark.parametrize('fields, message', [
    ({'cron': '61 * * * *'}, "--cron '61 * * * *' is not a cron expression"),
    ({'cron': 'every day'}, "--cron 'every day' is not a cron expression"),
    ({}, 'schedule s has no trigger'),
    ({'cron': '0 2 * * *', 'every_s': 60}, 'give --cron or --every, not both'),
    ({'every_s': 60, 'start': T0 + 10, 'end': T0}, 'is not after --start'),
])
def test_a_schedule_that_cannot_fire_is_refused_in_one_line(fields, message):
  with pytest.raises(schedules_lib.ScheduleError, match=message.replace('*', r'\*')):
    schedules_lib.Schedule(name='s', command='run', created=T0, **fields)


def test_durations_names_and_times_are_checked():
  assert [schedules_lib.parse_every(text) for text in ('30s', '15m', '6h', '1d', '1.5h')] == [
      30, 900, 21600, 86400, 5400]
  for bad in ('6', 'h', '-1h', '0s', '3w'):
    with pytest.raises(schedules_lib.ScheduleError, match='expected a positive number and a unit'):
      schedules_lib.parse_every(bad)
  for bad in ('', '../up', 'a b', '-x'):
    with pytest.raises(schedules_lib.ScheduleError, match='use letters, digits'):
      schedules_lib.check_name(bad)
  assert schedules_lib.parse_time('2026-12-06T01:00') == T0
  with pytest.raises(schedules_lib.ScheduleError, match="'tomorrow' is not a date and time"):
    schedules_lib.parse_time('tomorrow')


def test_a_store_keeps_definitions_states_requests_and_history_and_names_what_it_lacks(tmp_path):
  store = schedules_lib.ScheduleStore(str(tmp_path))
  schedule = _every(60, output_dir=str(tmp_path))
  store.create(schedule, schedules_lib.ScheduleState(last_slot=T0))
  with pytest.raises(schedules_lib.ScheduleError, match='schedule s exists'):
    store.create(schedule, schedules_lib.ScheduleState(last_slot=T0))
  assert store.get('s') == schedule and store.state(schedule).last_slot == T0
  with pytest.raises(schedules_lib.ScheduleError, match=r"no schedule 'nightly' in .* \(schedules there: s\)"):
    store.get('nightly')
  store.request_run_now('s', 'by ana')
  assert store.take_run_now('s') == 'by ana' and store.take_run_now('s') is None
  store.append_history(schedules_lib.TriggerRecord(T0, 's', 'schedule s at x', 'started'))
  with open(tmp_path / 'schedules' / 'history.jsonl', 'a') as handle:
    handle.write('{"time": 1, "sched')  # a line cut short by a kill
  assert [record.trigger for record in store.history('s')] == ['schedule s at x']
  (tmp_path / 'schedules' / 'broken.json').write_text(json.dumps({'name': 'broken', 'command': 'run'}))
  assert [(name, problem != '') for name, _, problem in store.all()] == [('broken', True), ('s', False)]
  store.delete('s')
  assert store.names() == ['broken']


def test_slots_missed_before_the_end_are_still_due_after_it():
  schedule = _every(60, end=T0 + 130)
  assert schedule.status(T0 + 500) == 'ENDED'
  assert schedule.due_slots(T0 + 60, T0 + 500) == [T0 + 120]
