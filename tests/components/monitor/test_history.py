"""Alerts on the model in production: a slice below the bar, or a weekly average that fell too far."""
import datetime

from components.monitor import history
from components.monitor.history import AlertRules, Measurement, SliceAccuracy

NOW = datetime.datetime(2026, 12, 4, 6, 0, tzinfo=datetime.timezone.utc)


def _measured(days_ago: float, **accuracies) -> Measurement:
  return Measurement((NOW - datetime.timedelta(days=days_ago)).isoformat(), '17',
                     {name.replace('_', '='): SliceAccuracy(value, 200) for name, value in accuracies.items()})


def test_a_slice_below_the_bar_alerts_unless_it_is_too_small():
  latest = Measurement(NOW.isoformat(), '17', {'overall': SliceAccuracy(0.97, 400),
                                               'label=cat': SliceAccuracy(0.91, 200),
                                               'label=dog': SliceAccuracy(0.5, 12)})
  assert history.alerts([], latest, AlertRules(min_accuracy=0.95)) == [
      'accuracy on slice label=cat is 0.9100 over 200 images, below the bar 0.9500']


def test_a_weekly_average_that_fell_by_more_than_the_drop_alerts():
  earlier = [_measured(12, overall=0.99), _measured(9, overall=0.97), _measured(3, overall=0.97)]
  latest = _measured(0, overall=0.96)
  rules = AlertRules(min_accuracy=0.9, max_weekly_drop=0.01)
  # last week: (0.99 + 0.97) / 2 = 0.98; this week: (0.97 + 0.96) / 2 = 0.965
  assert history.alerts(earlier, latest, rules) == [
      'weekly average accuracy on slice overall fell from 0.9800 to 0.9650, by more than 0.0100']
  assert history.alerts(earlier, latest, AlertRules(min_accuracy=0.9, max_weekly_drop=0.02)) == []
  assert history.alerts([], latest, rules) == []  # no week before to compare with


def test_the_history_file_round_trips_oldest_first():
  measurements = [_measured(1, overall=0.9), _measured(5, overall=0.8)]
  assert history.read_history(history.write_history(measurements)) == history.History(
      list(reversed(measurements)), [])


def test_damaged_lines_are_skipped_and_listed_with_their_numbers_and_bytes():
  good = [_measured(3, overall=0.9), _measured(1, overall=0.8)]
  cut = good[1].to_json()[:40].encode()
  lines = [good[0].to_json().encode(), cut, b'not json at all', b'', b'\xe9t\xe9 {}', b'null',
           b'{"measured_at": "2026-12-04T06:00:00", "model_version": "1", "slices": {}}',  # no time zone
           good[1].to_json().encode(), b'']
  read = history.read_history(b'\n'.join(lines))
  assert read.measurements == good
  assert read.damaged == [(2, cut), (3, b'not json at all'), (5, b'\xe9t\xe9 {}'), (6, b'null'), (7, lines[6])]
