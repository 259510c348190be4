"""`visionflow runs`, `show`, `compare` and `ui`: the runs in the metadata store, read-only, without TensorFlow or
TFX."""
import argparse
import dataclasses
import json

from pipeline.commands import config_flags


def _store(args: argparse.Namespace):
  """(the metadata store, read-only; what the process of a run id is doing: run_process.process_state)."""
  from pipeline.inspect import runs as runs_lib
  from pipeline import run_process
  config = config_flags.config_from_args(args, validate=False)
  return (runs_lib.open_store(config.metadata_path, read_only=True),
          lambda run_id: run_process.process_state(config.log_dir, run_id))


def _runs(args: argparse.Namespace) -> int:
  from pipeline.inspect import runs as runs_lib
  from pipeline import run_process
  run_filter = runs_lib.RunFilter.parse(pipeline=args.pipeline, state=args.state, blessed=args.blessed,
                                        pushed=args.pushed, since=args.since, until=args.until)
  store, process_state = _store(args)
  log_dir = config_flags.config_from_args(args, validate=False).log_dir
  runs, _ = runs_lib.list_runs(store, run_filter, limit=args.limit, process_state=process_state)
  # 'started by' comes last: scripts that read the columns before it by position keep working.
  print('run id\tstarted\tduration\tstate\tblessed\tpushed\taccuracy\tstarted by')
  for run in runs:
    outcome = run.outcome
    blessed = '-' if outcome.blessed is None else ('yes' if outcome.blessed else 'no')
    accuracy = '-' if outcome.accuracy is None else f'{outcome.accuracy:.4f}'
    print(f'{run.run_id}\t{runs_lib.format_time(run.started_ms)}\t{run.duration_s:.0f}s\t{run.state_text}\t'
          f'{blessed}\t{outcome.pushed_version or "-"}\t{accuracy}\t{run_process.started_by(log_dir, run.run_id)}')
  return 0


def _show(args: argparse.Namespace) -> int:
  from pipeline.inspect import runs as runs_lib
  if bool(args.run) == bool(args.lineage):
    raise ValueError("give a run id, or --lineage VERSION for a pushed version's lineage")
  if args.lineage:
    return _show_lineage(args)
  from pipeline.inspect import live
  store, process_state = _store(args)
  view, nodes = runs_lib.run_details(store, args.run, process_state)
  if args.json:
    print(json.dumps([dict(dataclasses.asdict(node), duration_s=node.duration_s) for node in nodes], indent=2))
    return 0
  # What the run is doing now, as its UI page says: its state, the running step's time and the latest epoch.
  status = live.current_status(view, [(node.node_id, node) for node in nodes],
                               config_flags.config_from_args(args, validate=False).log_dir)
  texts = status.texts()
  for name in ('state', 'step', 'trial', 'epoch'):
    if texts[name]:
      print(f'State: {texts[name]}' if name == 'state' else texts[name])
  for node in nodes:
    reused = f' (reused from run {node.reused_from})' if node.reused_from else ''
    print(f'{node.node_id}: {node.state}{reused}, {node.duration_s:.1f}s')
    for artifact in node.outputs:
      print(f'  {artifact.key} ({artifact.type}): {artifact.uri}')
      for name, value in artifact.properties.items():
        if name not in runs_lib.BOILERPLATE_PROPERTIES:
          print(f'    {name}: {value}')
  return 0


def _compare(args: argparse.Namespace) -> int:
  """The runs side by side, tab-separated, `*` on the rows where they differ; an unknown run or a selection of
  fewer than two or more than four runs is a ValueError, one line with exit code 2."""
  from pipeline.inspect import compare as compare_lib
  store, process_state = _store(args)
  comparison = compare_lib.compare(store, args.runs, process_state)
  if args.json:
    print(json.dumps(dataclasses.asdict(comparison), indent=2))
    return 0
  print(comparison.test_sets.message)
  print('* marks the rows that differ')
  for section in comparison.sections:
    print(f'\n{section.title}' + (f' ({section.note})' if section.note else ''))
    print('\t'.join(['', ''] + [f'run {run_id}' for run_id in comparison.run_ids]))
    for row in section.rows:
      print('\t'.join(['*' if row.differs else '', row.name] + ['-' if value is None else value
                                                                 for value in row.values]))
  return 0


def _show_lineage(args: argparse.Namespace) -> int:
  """A pushed version's lineage, as the UI's /models/VERSION/lineage shows it; an unknown version is a
  ValueError (one line, exit 2)."""
  from pipeline.inspect import lineage
  from pipeline.inspect import runs as runs_lib
  config = config_flags.config_from_args(args, validate=False)
  store = runs_lib.open_store(config.metadata_path, read_only=True)
  found = lineage.version_lineage(store, config.serving_model_dir, args.lineage)
  print(json.dumps(dataclasses.asdict(found), indent=2) if args.json else '\n'.join(lineage.text_lines(found)))
  return 0


def _ui(args: argparse.Namespace) -> int:
  from pipeline.inspect import runs as runs_lib
  from pipeline.inspect import ui
  config = config_flags.config_from_args(args, validate=False)
  runs_lib.check_store(config.metadata_path)
  sources = ui.Sources(config.metadata_path, config.log_dir, config.serving_model_dir, config.output_dir)
  server = ui.make_server(sources, args.host, args.port)
  host, port = server.server_address[:2]
  print(f'visionflow UI on http://{host}:{port}/ (read-only; Ctrl+C stops it)', flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
  return 0


def add_parsers(commands: argparse._SubParsersAction) -> None:
  runs = commands.add_parser('runs', help='the pipeline runs in the metadata store, newest first, and what started '
                             'each')
  runs.add_argument('--config')
  runs.add_argument('--output-dir', dest='output_dir', default=None)
  # The values are checked by the filter the UI reads too, so that both say the same about a bad one.
  runs.add_argument('--pipeline', default='', help='only runs of this pipeline: training (`visionflow run`) or '
                    'monitoring (`visionflow evaluate`)')
  runs.add_argument('--state', default='', help='only runs in this state: complete, failed, running, abandoned')
  runs.add_argument('--blessed', nargs='?', const='yes', default='',
                    help='only runs whose model the Evaluator blessed; `--blessed no`: whose model it refused')
  runs.add_argument('--pushed', nargs='?', const='yes', default='',
                    help='only runs that pushed a model; `--pushed no`: that pushed none')
  runs.add_argument('--since', default='', help='only runs started on this day (YYYY-MM-DD, local time) or later')
  runs.add_argument('--until', default='', help='only runs started on this day (YYYY-MM-DD) or earlier')
  runs.add_argument('--limit', type=int, default=50)
  runs.set_defaults(handler=_runs)

  show = commands.add_parser('show', help="one run: each component's state, duration and outputs; or, with "
                             "--lineage, what made a pushed version and what came of it")
  show.add_argument('run', nargs='?', help='a run id from `visionflow runs`')
  show.add_argument('--lineage', metavar='VERSION', default='',
                    help="a pushed version's lineage instead: its run, data, artifacts, evaluation, the models it "
                         'was compared with and started from, and the later runs and versions that came of it')
  show.add_argument('--config')
  show.add_argument('--output-dir', dest='output_dir', default=None)
  show.add_argument('--json', action='store_true')
  show.set_defaults(handler=_show)

  compare = commands.add_parser('compare', help='runs side by side: settings, data, gates, accuracy per slice, '
                                                'training, steps and push, marking what differs')
  compare.add_argument('runs', nargs='+', help='2 to 4 run ids from `visionflow runs`')
  compare.add_argument('--config')
  compare.add_argument('--output-dir', dest='output_dir', default=None)
  compare.add_argument('--json', action='store_true', help='one JSON document')
  compare.set_defaults(handler=_compare)

  ui = commands.add_parser('ui', help='a read-only web UI over the runs: DAG, data, training, evaluation, models')
  ui.add_argument('--config')
  ui.add_argument('--output-dir', dest='output_dir', default=None)
  ui.add_argument('--host', default='127.0.0.1', help='the address to listen on; loopback by default')
  ui.add_argument('--port', type=int, default=8080, help='0 picks a free port')
  ui.set_defaults(handler=_ui)
