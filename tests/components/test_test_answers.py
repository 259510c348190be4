"""Pairing two evaluations' answers example by example."""
from components import accuracy_intervals
from components import test_answers


def _answers(*rows, features=('label',)):
  return test_answers.TestAnswers(tuple(features), tuple(
      test_answers.Answer(path, correct, tuple(values)) for path, correct, values in rows))


def test_the_examples_only_one_model_got_right_are_counted_per_slice_overall_first():
  candidate = _answers(('a.jpg', True, ['cat']), ('b.jpg', True, ['dog']), ('c.jpg', False, ['dog']),
                       ('d.jpg', True, ['cat']))
  baseline = _answers(('d.jpg', True, ['cat']), ('c.jpg', True, ['dog']), ('b.jpg', False, ['dog']),
                      ('a.jpg', False, ['cat']))
  assert test_answers.paired_counts(candidate, baseline) == [
      accuracy_intervals.PairedCounts(4, 2, 1, ''),
      accuracy_intervals.PairedCounts(2, 1, 0, 'label=cat'),
      accuracy_intervals.PairedCounts(2, 1, 1, 'label=dog')]


def test_an_image_listed_twice_is_paired_occurrence_by_occurrence():
  candidate = _answers(('a.jpg', True, ['cat']), ('a.jpg', False, ['cat']))
  baseline = _answers(('a.jpg', True, ['cat']), ('a.jpg', True, ['cat']))
  assert test_answers.paired_counts(candidate, baseline)[0] == accuracy_intervals.PairedCounts(2, 0, 1, '')


def test_answers_on_other_examples_or_slices_are_not_paired():
  one = _answers(('a.jpg', True, ['cat']), ('b.jpg', True, ['dog']))
  assert test_answers.paired_counts(one, _answers(('a.jpg', True, ['cat']))) is None
  assert test_answers.paired_counts(one, _answers(('a.jpg', True, ['cat']), ('c.jpg', True, ['dog']))) is None
  assert test_answers.paired_counts(one, _answers(('a.jpg', True, ['cat']), ('b.jpg', True, ['cat']))) is None
  assert test_answers.paired_counts(one, _answers(('a.jpg', True, [None]), ('b.jpg', True, ['dog']),
                                                  features=('size_bucket',))) is None


def test_an_example_without_a_slice_value_counts_only_overall_and_survives_json():
  answers = _answers(('a.jpg', True, [None]), ('b.jpg', False, ['large']), features=('size_bucket',))
  again = test_answers.TestAnswers.from_json(answers.to_json())
  assert again == answers
  assert [counts.slice for counts in test_answers.paired_counts(again, answers)] == ['', 'size_bucket=large']
