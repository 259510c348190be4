"""The blessing gates decide from counts, knowing each slice's size and the paired comparison's uncertainty."""
import pytest
from scipy import stats

from components import accuracy_intervals
from components.accuracy_intervals import PairedCounts, SliceCounts
from components.evaluator import gates
from components.evaluator.gates import BlessingPolicy

OVERALL = SliceCounts('overall', 200, 180)


def _verdicts(checked):
  return {(gate.kind, gate.slice): gate.verdict for gate in checked}


def test_a_small_slice_below_the_floor_is_reported_not_gated_and_a_large_one_refuses():
  policy = BlessingPolicy(min_accuracy=0.5, min_slice_accuracy=0.5, min_slice_examples=30)
  tiny, large = SliceCounts('label=cat', 14, 6), SliceCounts('label=dog', 60, 24)
  checked = gates.check(policy, OVERALL, [tiny, large], paired=None)
  assert _verdicts(checked)[(gates.SLICE_ACCURACY, 'label=cat')] == gates.TOO_SMALL
  assert _verdicts(checked)[(gates.SLICE_ACCURACY, 'label=dog')] == gates.FAILED
  [reason] = gates.refusals(checked)
  interval = accuracy_intervals.proportion_interval(24, 60, 0.95)
  low, high = interval.low, interval.high
  assert reason == (f'sparse_categorical_accuracy on slice label=dog is 0.4000 (95% interval {low:.4f}-{high:.4f}, '
                    f'60 examples), below the minimum 0.5000 by 0.1000')


def test_strict_mode_gates_every_slice_and_any_drop_on_the_point_estimates():
  policy = BlessingPolicy(min_accuracy=0.5, min_slice_accuracy=0.5, strict=True)
  one_short = PairedCounts(200, candidate_only=3, production_only=4)
  checked = gates.check(policy, OVERALL, [SliceCounts('label=cat', 14, 6)], one_short)
  assert _verdicts(checked) == {(gates.OVERALL_ACCURACY, 'overall'): gates.PASSED,
                                (gates.CHANGE, 'overall'): gates.FAILED,
                                (gates.SLICE_ACCURACY, 'label=cat'): gates.FAILED}
  lenient = gates.check(BlessingPolicy(min_accuracy=0.5, min_slice_accuracy=0.5), OVERALL,
                        [SliceCounts('label=cat', 14, 6)], one_short)
  assert gates.refusals(lenient) == []


def test_an_equally_good_retrain_passes_whichever_way_it_lands():
  policy = BlessingPolicy()
  for candidate_only, production_only in ((5, 5), (4, 6), (2, 7), (9, 3)):
    change = gates.check(policy, OVERALL, [], PairedCounts(200, candidate_only, production_only))[1]
    assert change.kind == gates.CHANGE and change.verdict == gates.PASSED, (candidate_only, production_only)


def test_a_clearly_worse_candidate_is_refused_and_the_reason_names_the_pairs_and_interval():
  policy = BlessingPolicy()
  paired = PairedCounts(200, candidate_only=2, production_only=20)
  change = gates.check(policy, OVERALL, [], paired)[1]
  assert change.verdict == gates.FAILED
  assert change.value == pytest.approx(-0.09)
  # The interval's upper end below 0 is McNemar's exact test rejecting equality at the 5% level.
  assert change.interval.high < 0
  assert stats.binomtest(2, 22, 0.5).pvalue < 0.05
  assert change.reason() == (
      f'sparse_categorical_accuracy on slice overall changed by -0.0900 against the model in production (95% '
      f'interval {change.interval.low:+.4f} to {change.interval.high:+.4f} over 200 paired examples: 2 right '
      f'only by the candidate, 20 only by production); it may drop by at most 0.0000')


def test_the_paired_interval_matches_mcnemars_exact_test_at_the_boundary():
  """With no allowed drop, refusal happens exactly where the two-sided exact binomial test on the discordant
  examples rejects: the interval is that test inverted."""
  policy = BlessingPolicy(significance=0.05)
  for production_only in range(0, 30):
    paired = PairedCounts(500, candidate_only=3, production_only=production_only)
    refused = gates.check(policy, OVERALL, [], paired)[1].verdict == gates.FAILED
    rejects = stats.binomtest(3, 3 + production_only, 0.5).pvalue <= 0.05 if production_only > 3 else False
    assert refused == rejects, production_only


def test_an_allowed_drop_tolerates_a_significant_but_small_loss():
  paired = PairedCounts(1000, candidate_only=0, production_only=15)  # significantly worse by 0.015
  assert gates.check(BlessingPolicy(), OVERALL, [], paired)[1].verdict == gates.FAILED
  assert gates.check(BlessingPolicy(max_accuracy_drop=0.03), OVERALL, [], paired)[1].verdict == gates.PASSED


def test_the_overall_floor_and_an_empty_test_split():
  assert gates.refusals(gates.check(BlessingPolicy(min_accuracy=0.95), OVERALL, [], None))[0].startswith(
      'sparse_categorical_accuracy on slice overall is 0.9000 (95% interval ')
  empty = gates.check(BlessingPolicy(), SliceCounts('overall', 0, 0), [], None)
  assert gates.refusals(empty) == ['no test examples on slice overall, so the model could not be checked']
