"""The blessing gates: whether a candidate may be pushed, decided from the test counts and their uncertainty.

Point estimates decide on noise: a 14-image slice with 6 right (95% interval 0.18-0.71) refused a model, and
a retrain exactly as good as production was refused whenever it landed one test image short. So each gate
sees its sample size:
- overall accuracy >= min_accuracy, shown with its exact (Clopper-Pearson) interval;
- a slice's floor (min_slice_accuracy) applies only to slices of at least min_slice_examples test examples;
  smaller ones are reported as too small to gate;
- against production, on the same test examples, the comparison is paired: the candidate is refused only when
  the exact interval of the paired difference (McNemar's exact test, conditional on the examples the two
  models disagree on) lies wholly below -max_accuracy_drop.
Strict mode gates the point estimates, every slice and any drop beyond max_accuracy_drop, as TFMA's fixed
thresholds did. The counts and their intervals are components/accuracy_intervals.py's. Plain Python and SciPy:
no TensorFlow.
"""
import dataclasses
from typing import List, Optional, Sequence

from components import evaluation_defaults
from components import names
from components import accuracy_intervals

OVERALL_ACCURACY = 'overall accuracy'
SLICE_ACCURACY = 'slice accuracy'
CHANGE = 'change against production'
PASSED = 'passed'
FAILED = 'failed'
TOO_SMALL = 'too small to gate'


@dataclasses.dataclass(frozen=True)
class BlessingPolicy:
  min_accuracy: float = 0.8
  min_slice_accuracy: float = 0.5
  max_accuracy_drop: float = 0.0
  min_slice_examples: int = evaluation_defaults.MIN_SLICE_EXAMPLES
  significance: float = 0.05  # 1 - the intervals' confidence, and the paired test's level
  strict: bool = False

  @property
  def confidence(self) -> float:
    return 1.0 - self.significance


@dataclasses.dataclass(frozen=True)
class Gate:
  """One check of the blessing, with what it saw and its verdict."""
  kind: str
  slice: str
  examples: int
  value: float
  interval: accuracy_intervals.Interval
  bound: float
  verdict: str
  confidence: float
  detail: str = ''  # the paired counts, for the change against production

  def describe(self) -> str:
    """The gate's value, interval and sample size; `reason` adds why it failed."""
    share = f'{self.confidence:.0%} interval'
    if self.kind == CHANGE:
      return (f'{names.ACCURACY_METRIC} on slice {self.slice} changed by {self.value:+.4f} against the model in '
              f'production ({share} {self.interval.low:+.4f} to {self.interval.high:+.4f} over '
              f'{self.examples} paired examples: {self.detail})')
    return (f'{names.ACCURACY_METRIC} on slice {self.slice} is {self.value:.4f} ({share} {self.interval.low:.4f}-'
            f'{self.interval.high:.4f}, {self.examples} examples)')

  def reason(self) -> str:
    if self.kind == CHANGE:
      return f'{self.describe()}; it may drop by at most {self.bound:.4f}'
    return f'{self.describe()}, below the minimum {self.bound:.4f} by {self.bound - self.value:.4f}'


def _accuracy_gate(kind: str, counts: accuracy_intervals.SliceCounts, bound: float, policy: BlessingPolicy,
                   gated: bool) -> Gate:
  verdict = TOO_SMALL if not gated else FAILED if counts.accuracy < bound else PASSED
  return Gate(kind, counts.name, counts.examples, counts.accuracy,
              accuracy_intervals.proportion_interval(counts.correct, counts.examples, policy.confidence), bound,
              verdict, policy.confidence)


def _change_gate(overall_name: str, paired: accuracy_intervals.PairedCounts, policy: BlessingPolicy) -> Gate:
  interval = paired.difference_interval(policy.confidence)
  # Strict: the point estimate; otherwise the whole interval must lie below the allowed drop.
  worst_plausible = paired.difference if policy.strict else interval.high
  verdict = FAILED if worst_plausible < -policy.max_accuracy_drop else PASSED
  detail = (f'{paired.candidate_only} right only by the candidate, {paired.production_only} only by '
            f'production')
  return Gate(CHANGE, overall_name, paired.examples, paired.difference, interval, policy.max_accuracy_drop,
              verdict, policy.confidence, detail)


def check(policy: BlessingPolicy, overall: accuracy_intervals.SliceCounts,
          slices: Sequence[accuracy_intervals.SliceCounts],
          paired: Optional[accuracy_intervals.PairedCounts]) -> List[Gate]:
  """Every gate, in the order the report lists them: overall, the change against production, each slice."""
  gates = [_accuracy_gate(OVERALL_ACCURACY, overall, policy.min_accuracy, policy, overall.examples > 0)]
  if paired is not None:
    gates.append(_change_gate(paired.slice or overall.name, paired, policy))
  if policy.min_slice_accuracy > 0:
    for counts in slices:
      gated = counts.examples > 0 and (policy.strict or counts.examples >= policy.min_slice_examples)
      gates.append(_accuracy_gate(SLICE_ACCURACY, counts, policy.min_slice_accuracy, policy, gated))
  return gates


def refusals(gates: Sequence[Gate]) -> List[str]:
  """One sentence per failed gate; an empty test split refuses too, since nothing could be checked."""
  reasons = [gate.reason() for gate in gates if gate.verdict == FAILED]
  overall = gates[0]
  if overall.examples == 0:
    reasons.insert(0, f'no test examples on slice {overall.slice}, so the model could not be checked')
  return reasons
