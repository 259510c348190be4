"""Exact intervals of a slice's accuracy, valid for any sample size."""
import pytest

from components import accuracy_intervals


def test_the_interval_is_clopper_pearson_and_covers_the_issues_14_image_slice():
  interval = accuracy_intervals.proportion_interval(6, 14, 0.95)
  assert interval.low == pytest.approx(0.1766, abs=1e-4) and interval.high == pytest.approx(0.7114, abs=1e-4)
  assert (accuracy_intervals.proportion_interval(0, 10, 0.95).low == 0.0
          and accuracy_intervals.proportion_interval(10, 10, 0.95).high == 1.0)
  assert accuracy_intervals.proportion_interval(0, 0, 0.95) == accuracy_intervals.Interval(0.0, 1.0)
