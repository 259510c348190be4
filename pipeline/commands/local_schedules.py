"""`visionflow schedule ... --local` and `visionflow scheduler`: schedules kept in an output folder and fired
on this machine by a long-running scheduler (pipeline/scheduling/), without a cluster."""
import argparse
import dataclasses
import os
import time

from components import paths
from pipeline import config as config_lib
from pipeline import run_process
from pipeline.commands import config_flags

# Config keys that name files: kept absolute, so that the scheduler may start anywhere.
_PATH_KEYS = ('data_csv', 'labels_file', 'image_folder', 'output_dir', 'score_span', 'serving_dir')


def add_flags(schedule: argparse.ArgumentParser) -> None:
  schedule.add_argument('--local', nargs='?', const='', default=None, metavar='NAME',
                        help='a schedule of this machine, kept in --output-dir and fired by `visionflow scheduler`: '
                             '`schedule create --local NAME ...`')
  schedule.add_argument('--every', help='a time slot every 30s, 15m, 6h, 1d ... (on Kubeflow, in whole seconds)')
  schedule.add_argument('--on-new-span', dest='on_new_span', nargs='?', const='', default=None, metavar='PATTERN',
                        help='--local: run when the {SPAN} or date pattern (default: --data-csv, or '
                             '--evaluate-csv) matches a newer span than the last run read, once its files stopped '
                             'changing')
  schedule.add_argument('--settle', default='60s',
                        help='--local: how long a new span\'s files must stay unchanged before it triggers '
                             '(default 60s)')
  schedule.add_argument('--on-alert', dest='on_alert', action='store_true',
                        help='--local: retrain when the last `visionflow evaluate` of this folder alerted')
  schedule.add_argument('--evaluate-csv', dest='evaluate_csv', metavar='PATTERN',
                        help='--local: scheduled continuous evaluation of the model in production on this CSV '
                             '(or {SPAN} pattern), `visionflow evaluate`, instead of retraining')
  schedule.add_argument('--start',
                        help='no trigger fires before this time (ISO 8601, local time unless it names its zone)')
  schedule.add_argument('--end', help='nor after this one (--local: but for a slot missed before it)')


def add_parsers(commands: argparse._SubParsersAction) -> None:
  scheduler = commands.add_parser(
      'scheduler', help="fire the local schedules of an output folder until stopped (as `airflow scheduler`)")
  scheduler.add_argument('--output-dir', dest='output_dir', default=config_lib.PipelineConfig.output_dir)
  scheduler.add_argument('--tick', type=float, default=None,
                         help='seconds between two looks at the schedules, the spans and the alerts (default 2)')
  scheduler.add_argument('--systemd-unit', dest='systemd_unit', action='store_true',
                         help='print a systemd unit that runs this scheduler, instead of running it')
  scheduler.set_defaults(handler=_scheduler)


def _scheduler(args: argparse.Namespace) -> int:
  from pipeline.scheduling import scheduler as scheduler_lib
  if args.tick is not None and args.tick <= 0:
    raise ValueError(f'--tick {args.tick:g}: give a positive number of seconds')
  output_dir = os.path.abspath(args.output_dir)
  if args.systemd_unit:
    print(scheduler_lib.systemd_unit(output_dir), end='')
    return 0
  if not os.path.isdir(output_dir):
    raise ValueError(f'--output-dir {output_dir} is no folder: create a schedule there first '
                     f'(`visionflow schedule create --local NAME --output-dir {args.output_dir} ...`)')
  say = lambda line: print(line, flush=True)  # noqa: E731 (a journal or a terminal reads it line by line)
  return scheduler_lib.Scheduler(output_dir, args.tick or scheduler_lib.TICK_S, say).run()


def _store(args: argparse.Namespace):
  from pipeline.scheduling import schedules as schedules_lib
  config = config_flags.config_from_args(args, validate=False)
  return schedules_lib.ScheduleStore(os.path.abspath(config.output_dir))


def _given(args: argparse.Namespace) -> dict:
  """The config flags given, file paths made absolute."""
  overrides = {}
  for name in config_lib.field_names():
    value = getattr(args, name, None)
    if value is None:
      continue
    if name in _PATH_KEYS and isinstance(value, str) and not paths.is_remote(value):
      value = os.path.abspath(value)
    overrides[name] = list(value) if isinstance(value, tuple) else value
  return overrides


def _create(args: argparse.Namespace) -> int:
  from pipeline.scheduling import schedules as schedules_lib
  from pipeline.scheduling import spans as spans_lib
  if not args.id:
    raise ValueError('schedule create --local needs a NAME: `visionflow schedule create --local nightly ...`')
  overrides = _given(args)
  command = 'run'
  if args.evaluate_csv:
    if args.on_alert:
      raise ValueError('--on-alert retrains: give it to a retraining schedule, not to the evaluation '
                       '(--evaluate-csv) whose alerts it answers')
    command = 'evaluate'
    overrides['data_csv'] = os.path.abspath(args.evaluate_csv)
  config = config_lib.load_config(args.config, {name: (tuple(value) if isinstance(value, list) else value)
                                                for name, value in overrides.items()})
  if command == 'evaluate' and not config.labels_file:
    raise ValueError('--evaluate-csv needs --labels-file (the classes of the model in production)')
  watched = None
  if args.on_new_span is not None:
    watched = os.path.abspath(args.on_new_span) if args.on_new_span else config.data_csv
    if not spans_lib.is_pattern(watched):
      raise ValueError(f'--on-new-span watches a {{SPAN}} or {{YYYY}}/{{MM}}/{{DD}} pattern; '
                       f'{watched or "no --data-csv"} has none: give --data-csv data/span-{{SPAN}}/labels.csv '
                       f'or --on-new-span PATTERN')
  now = time.time()
  schedule = schedules_lib.Schedule(
      name=args.id, command=command, config_file=os.path.abspath(args.config) if args.config else None,
      overrides=overrides, output_dir=os.path.abspath(config.output_dir), cron=args.cron,
      every_s=schedules_lib.parse_every(args.every) if args.every else None, on_new_span=watched,
      on_alert=args.on_alert, catchup=args.catchup,
      start=schedules_lib.parse_time(args.start) if args.start else None,
      end=schedules_lib.parse_time(args.end) if args.end else None,
      settle_s=schedules_lib.parse_every(args.settle), created=now)
  store = schedules_lib.ScheduleStore(schedule.output_dir)
  store.create(schedule, schedules_lib.ScheduleState(last_slot=schedule.anchor if schedule.start else now))
  next_slot = schedule.next_slot(schedule.anchor, now)
  print(f'Created schedule {schedule.name} in {store.folder}: {schedule.job()} on {schedule.triggers()}'
        + (f'; next slot {schedules_lib.describe_time(next_slot)}' if next_slot else '')
        + f'; {"catch-up" if schedule.catchup else "no catch-up"}.')
  print(_scheduler_note(store))
  return 0


def _scheduler_note(store) -> str:
  from pipeline.scheduling import scheduler as scheduler_lib
  holder = scheduler_lib.scheduler_holding(store)
  if holder:
    return f'The scheduler of this folder runs ({holder}).'
  return (f'No scheduler runs for this folder: start one with `visionflow scheduler --output-dir '
          f'{store.output_dir}` (or its systemd unit, see the README).')


def _list(args: argparse.Namespace) -> int:
  from pipeline.scheduling import schedules as schedules_lib
  store = _store(args)
  found = store.all()
  if not found:
    print(f'No schedules in {store.folder}.')
    return 0
  now = time.time()
  print('NAME\tSTATE\tJOB\tTRIGGERS\tNEXT SLOT\tLAST TRIGGER\tLAST OUTCOME\tLAST RUN')
  for name, schedule, problem in found:
    if schedule is None:
      print(f'{name}\tUNREADABLE\t-\t{problem}')
      continue
    state = store.state(schedule)
    print('\t'.join([name, schedule.status(now), schedule.job(), schedule.triggers(),
                     schedules_lib.describe_time(schedule.next_slot(state.last_slot, now)),
                     state.last_trigger or '-', state.last_outcome or '-', state.last_run or '-']))
  print(_scheduler_note(store))
  return 0


def _change(args: argparse.Namespace) -> int:
  store = _store(args)
  if not args.id:
    raise ValueError(f'schedule {args.action} --local needs the schedule NAME (see `visionflow schedule list '
                     f'--local`)')
  schedule = store.get(args.id)
  if args.action == 'delete':
    store.delete(args.id)
    print(f'Deleted schedule {args.id}; its runs and their history stay.')
  elif args.action == 'run-now':
    store.request_run_now(args.id, run_process.started_by_hand())
    print(f'Asked for a run of schedule {args.id} now. {_scheduler_note(store)}')
  else:
    store.put(dataclasses.replace(schedule, paused=args.action == 'pause'))
    print(f'Schedule {args.id} {"paused" if args.action == "pause" else "resumed"}'
          + ('' if args.action == 'pause' or not (schedule.cron or schedule.every_s) else
             f' (slots missed while paused run {"each, in order" if schedule.catchup else "once"})') + '.')
  return 0


def handle(args: argparse.Namespace) -> int:
  """The --local schedule actions; a mistake is one line (a ValueError, exit 2, from pipeline/cli.py)."""
  if args.local and args.id and args.local != args.id:
    raise ValueError(f'two schedule names, {args.local} and {args.id}: give one (`--local NAME`)')
  args.id = args.local or args.id
  if args.evaluate_only or args.param or args.name:
    flag = '--evaluate-only' if args.evaluate_only else '--param' if args.param else '--name'
    raise ValueError(f'{flag} is a Kubeflow flag: a local schedule evaluates with --evaluate-csv, and is named '
                     f'by its NAME')
  if args.action == 'create':
    return _create(args)
  if args.action == 'list':
    return _list(args)
  return _change(args)

