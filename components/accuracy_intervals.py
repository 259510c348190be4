"""Counts of right answers and their exact intervals: a slice's accuracy, and the paired change between models.

A point estimate alone decides on noise (a 14-image slice with 6 right has a 95% interval of 0.18-0.71), so
every count carries its sample size: a slice's accuracy gets the exact (Clopper-Pearson) binomial interval, and
the accuracy change between two models on the same examples the interval that inverts McNemar's exact test.
The blessing gates, the model card and the reports read them. Plain Python and SciPy: no TensorFlow.
"""
import dataclasses

from scipy import stats


@dataclasses.dataclass(frozen=True)
class Interval:
  low: float
  high: float


def proportion_interval(successes: int, trials: int, confidence: float) -> Interval:
  """Clopper-Pearson: the exact binomial interval, never outside [0, 1], valid for any sample size."""
  if trials <= 0:
    return Interval(0.0, 1.0)
  tail = (1.0 - confidence) / 2
  low = 0.0 if successes <= 0 else float(stats.beta.ppf(tail, successes, trials - successes + 1))
  high = 1.0 if successes >= trials else float(stats.beta.ppf(1 - tail, successes + 1, trials - successes))
  return Interval(low, high)


@dataclasses.dataclass(frozen=True)
class SliceCounts:
  """How many of a slice's test examples the candidate classified right."""
  name: str
  examples: int
  correct: int

  @property
  def accuracy(self) -> float:
    return self.correct / self.examples if self.examples else float('nan')


@dataclasses.dataclass(frozen=True)
class PairedCounts:
  """The test examples on which the candidate and the model in production disagree about being right."""
  examples: int
  candidate_only: int  # right by the candidate, wrong by production
  production_only: int  # wrong by the candidate, right by production
  slice: str = ''  # what the examples are, when not the overall slice (the classes shared with production)

  @property
  def difference(self) -> float:
    """Candidate accuracy minus production accuracy on the same examples."""
    return (self.candidate_only - self.production_only) / self.examples if self.examples else 0.0

  def difference_interval(self, confidence: float) -> Interval:
    """Exact, conditional on the discordant examples: their share won by the candidate is binomial, and the
    difference is (discordant / examples) * (2 * share - 1). Its confidence interval inverts McNemar's exact
    test; with no discordant examples the two models are right on the same examples."""
    discordant = self.candidate_only + self.production_only
    if not self.examples or not discordant:
      return Interval(0.0, 0.0)
    share = proportion_interval(self.candidate_only, discordant, confidence)
    scale = discordant / self.examples
    return Interval(scale * (2 * share.low - 1), scale * (2 * share.high - 1))
