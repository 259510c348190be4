"""The README's worked example of continuous training, on simulated days: spans of labelled digits arrive over
time, a nightly retrain with warm start `auto` reads the newest three, a scheduled continuous evaluation
measures the model in production on newly labelled images, and an alert retrains.

A day lasts --day seconds (the schedules' `--every`, standing for the README's `--cron '0 2 * * *'` and
`--every 6h`). At the end it serves the UI and writes its Schedules and Runs pages to docs/. Every run is real;
the script fails when a trigger did not fire.

    .venv/bin/python scripts/simulated_days.py --output-dir /tmp/days
"""
import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import time

from pipeline import run_process
from pipeline import sample_data
from pipeline.scheduling import schedules as schedules_lib

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs')
FIRST_SPAN_ROWS = 1000  # then SPAN_ROWS new labelled digits a day: under warm start auto's 10% while 3 spans
SPAN_ROWS = 80          # are read
FEEDBACK_ROWS = 150     # newly labelled images a day, for the evaluation
TRAINING = ('--epochs', '5', '--tuner-trials', '0', '--num-spans', '3', '--warm-start', 'auto')


def _visionflow(*args):
  done = subprocess.run([VISIONFLOW, *args], capture_output=True, text=True, timeout=1800)
  if done.returncode != 0:
    raise SystemExit(f'visionflow {" ".join(args)}: {done.stderr.strip()}')
  return done.stdout


def _write_span(folder, rows, image_root):
  """A span's CSV naming the images by absolute path, written beside and moved in whole."""
  incoming = f'{folder}.incoming'
  os.makedirs(incoming)
  with open(os.path.join(incoming, 'all_data.csv'), 'w', newline='') as handle:
    csv.writer(handle).writerows([os.path.join(image_root, path), label] for path, label in rows)
  os.rename(incoming, folder)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--output-dir', required=True)
  parser.add_argument('--day', type=float, default=240.0, help='seconds a simulated day lasts')
  parser.add_argument('--days', type=int, default=3)
  args = parser.parse_args()
  root = os.path.abspath(args.output_dir)
  shutil.rmtree(root, ignore_errors=True)
  csv_path, labels_path = sample_data.materialize_digits(os.path.join(root, 'digits'))
  with open(csv_path) as handle:
    rows = list(csv.reader(handle))
  image_root = os.path.dirname(csv_path)
  training_rows = rows[:FIRST_SPAN_ROWS + SPAN_ROWS * (args.days - 1)]
  feedback_rows = rows[len(training_rows):]
  output_dir = os.path.join(root, 'out')
  data_pattern = os.path.join(root, 'data', 'span-{SPAN}', 'all_data.csv')
  feedback_pattern = os.path.join(root, 'feedback', 'span-{SPAN}', 'all_data.csv')
  every = f'{args.day:g}s'
  start = time.time() + 5
  # The schedules end with the last day, so that no slot of a day after it fires while the pages are taken.
  end = time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(start + args.days * args.day - 2))
  _visionflow('schedule', 'create', '--local', 'nightly', '--every', every, '--on-new-span', '--settle', '5s',
              '--on-alert', '--start', time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(start)), '--end', end,
              '--output-dir', output_dir, '--data-csv', data_pattern, '--labels-file', labels_path, *TRAINING)
  # The evaluation's bar is above what five epochs reach, so that the alert and its retrain show.
  _visionflow('schedule', 'create', '--local', 'watch', '--every', every, '--evaluate-csv', feedback_pattern,
              '--start', time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(start - args.day / 2)), '--end', end,
              '--alert-min-accuracy', '0.995', '--output-dir', output_dir, '--labels-file', labels_path)
  log = open(os.path.join(root, 'scheduler.txt'), 'w')
  scheduler = subprocess.Popen([VISIONFLOW, 'scheduler', '--output-dir', output_dir], stdout=log,
                               stderr=subprocess.STDOUT)
  try:
    for day in range(1, args.days + 1):
      first = FIRST_SPAN_ROWS + SPAN_ROWS * (day - 2) if day > 1 else 0
      last = FIRST_SPAN_ROWS + SPAN_ROWS * (day - 1)
      _write_span(os.path.join(root, 'data', f'span-{day}'), training_rows[first:last], image_root)
      _write_span(os.path.join(root, 'feedback', f'span-{day}'),
                  feedback_rows[FEEDBACK_ROWS * (day - 1):FEEDBACK_ROWS * day], image_root)
      print(f'day {day}: span {day} of {last - first} training rows and {FEEDBACK_ROWS} newly labelled', flush=True)
      time.sleep(max(0.0, start + day * args.day - time.time()))
    store = schedules_lib.ScheduleStore(output_dir)
    deadline = time.time() + 1800
    while store.history() and any(state.last_outcome == 'started' for state in
                                  (store.state(schedule) for _, schedule, _ in store.all())):
      if time.time() > deadline:
        raise SystemExit('the last runs did not end in 30 minutes')
      time.sleep(2)
    triggers = [process.trigger for process in run_process.all_recorded(os.path.join(output_dir, 'logs'))]
    print('\n'.join(triggers))
    for kind in (': new span ', ' at ', ': alert in evaluation run '):
      if not any(kind in trigger for trigger in triggers):
        raise SystemExit(f'no run was started by a trigger "{kind.strip(": ")}"')
    _screenshots(output_dir)  # while the scheduler runs, as a user would see the pages
  finally:
    scheduler.terminate()
    scheduler.wait(timeout=60)
  return 0


def _screenshots(output_dir: str) -> None:
  from playwright.sync_api import sync_playwright
  server = subprocess.Popen([VISIONFLOW, 'ui', '--output-dir', output_dir, '--port', '0'], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
  try:
    url = re.search(r'(http://127\.0\.0\.1:\d+)/', server.stdout.readline()).group(1)
    with sync_playwright() as playwright:
      browser = playwright.chromium.launch(executable_path=shutil.which('chromium'), args=['--no-sandbox'])
      page = browser.new_page(viewport={'width': 1400, 'height': 1100})
      for path, name in (('/schedules', 'ui-schedules.png'), ('/', 'ui-runs-started-by.png')):
        page.goto(url + path)
        page.screenshot(path=os.path.join(DOCS, name), full_page=True)
      browser.close()
  finally:
    server.terminate()
    server.wait(timeout=30)


if __name__ == '__main__':
  sys.exit(main())
