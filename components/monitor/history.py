"""The production model's accuracy over time, per slice, and the alerts it raises.

Each evaluation of production on newly labelled images is one Measurement. Alerts follow the continuous
evaluation of "Building Machine Learning Pipelines" (chapter 8): a slice whose accuracy is below a bar, and
a slice whose weekly moving average fell by more than an allowed drop since the week before. Slices with
fewer than `min_examples` images are reported but raise no alert, as with the blessing gates. No TensorFlow.
"""
import dataclasses
import datetime
import json
from typing import Dict, List, Optional, Sequence, Tuple

from components import evaluation_defaults

WEEK = datetime.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class SliceAccuracy:
  accuracy: float
  examples: int


@dataclasses.dataclass(frozen=True)
class Measurement:
  """One evaluation of the model in production: when, which version, and the accuracy of each slice."""
  measured_at: str  # ISO 8601, UTC
  model_version: str
  slices: Dict[str, SliceAccuracy]

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'Measurement':
    """Raises ValueError, KeyError, TypeError or AttributeError for a line that is no measurement."""
    values = json.loads(text)
    measurement = cls(str(values['measured_at']), str(values['model_version']),
                      {str(name): SliceAccuracy(float(value['accuracy']), int(value['examples']))
                       for name, value in values['slices'].items()})
    if measurement.time.tzinfo is None:  # could not be ordered among the others
      raise ValueError(f'measured_at {measurement.measured_at} has no time zone')
    return measurement

  @property
  def time(self) -> datetime.datetime:
    return datetime.datetime.fromisoformat(self.measured_at)


@dataclasses.dataclass(frozen=True)
class AlertRules:
  min_accuracy: float = 0.95
  max_weekly_drop: float = 0.01
  min_examples: int = evaluation_defaults.MIN_SLICE_EXAMPLES


@dataclasses.dataclass(frozen=True)
class History:
  """A history file as read: its measurements, oldest first, and the lines that are none (a line cut in half by
  a full disk or a kill, an edit gone wrong), kept as they were so that they can be set aside, not lost."""
  measurements: List[Measurement]
  damaged: List[Tuple[int, bytes]]  # (line number from 1, the line's bytes)


def read_history(data: bytes) -> History:
  """The measurements of a history file (one JSON object a line); a damaged line is skipped and listed."""
  measurements, damaged = [], []
  for number, line in enumerate(data.split(b'\n'), start=1):
    if not line.strip():
      continue
    try:
      measurements.append(Measurement.from_json(line.decode('utf-8')))
    except (ValueError, KeyError, TypeError, AttributeError):
      damaged.append((number, line))
  return History(sorted(measurements, key=lambda measurement: measurement.time), damaged)


def write_history(measurements: Sequence[Measurement]) -> bytes:
  return ''.join(measurement.to_json() + '\n' for measurement in measurements).encode('utf-8')


def weekly_average(history: Sequence[Measurement], slice_name: str, end: datetime.datetime) -> Optional[float]:
  """The mean accuracy of the slice over the measurements in the week up to `end`; None without any."""
  values = [measurement.slices[slice_name].accuracy for measurement in history
            if slice_name in measurement.slices and end - WEEK < measurement.time <= end]
  return sum(values) / len(values) if values else None


def alerts(history: Sequence[Measurement], latest: Measurement, rules: AlertRules) -> List[str]:
  """One sentence per alert on the latest measurement, given the earlier ones."""
  found = []
  everything = [*history, latest]
  for name, value in sorted(latest.slices.items()):
    if value.examples < rules.min_examples:
      continue
    if value.accuracy < rules.min_accuracy:
      found.append(f'accuracy on slice {name} is {value.accuracy:.4f} over {value.examples} images, below '
                   f'the bar {rules.min_accuracy:.4f}')
    this_week = weekly_average(everything, name, latest.time)
    last_week = weekly_average(everything, name, latest.time - WEEK)
    if this_week is not None and last_week is not None and last_week - this_week > rules.max_weekly_drop:
      found.append(f'weekly average accuracy on slice {name} fell from {last_week:.4f} to {this_week:.4f}, '
                   f'by more than {rules.max_weekly_drop:.4f}')
  return found
