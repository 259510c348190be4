"""Which test examples a model got right, kept by each Evaluator so that any two runs on one test set can be
compared example by example later, not only a candidate against the model in production at the time.

The Evaluator writes one JSON file per evaluation: the slice features, and for each test example its path (as
ExampleGen stored it), whether the model's top class was its label, and its value of each slice feature.
`visionflow compare` (pipeline/inspect/compare.py) pairs two runs' files by path and counts, per slice, the
examples only one of the two got right: the counts the paired gate of components/evaluator/gates.py reads.
"""
import collections
import dataclasses
import json
from typing import Dict, List, Optional, Tuple

from components import accuracy_intervals

FILE_NAME = 'test_answers.json'  # in the evaluation artifact's report folder
OVERALL = 'overall'  # the slice of every example, as TFMA's slice names have it


@dataclasses.dataclass(frozen=True)
class Answer:
  path: str
  correct: bool
  slice_values: Tuple[Optional[str], ...]  # one per slice feature; None where the example has no value


@dataclasses.dataclass(frozen=True)
class TestAnswers:
  slice_features: Tuple[str, ...]
  answers: Tuple[Answer, ...]

  def to_json(self) -> str:
    return json.dumps({'slice_features': list(self.slice_features),
                       'answers': [[answer.path, int(answer.correct), list(answer.slice_values)]
                                   for answer in self.answers]})

  @classmethod
  def from_json(cls, text: str) -> 'TestAnswers':
    loaded = json.loads(text)
    return cls(tuple(loaded['slice_features']),
               tuple(Answer(path, bool(correct), tuple(values)) for path, correct, values in loaded['answers']))

  def slices_of(self, answer: Answer) -> List[str]:
    """The slices an example counts in, named as TFMA names them: overall, then 'feature=value' per feature."""
    return [OVERALL] + [f'{feature}={value}' for feature, value in zip(self.slice_features, answer.slice_values)
                        if value is not None]

  def keyed(self) -> Dict[Tuple[str, int], Answer]:
    """Each answer by (path, how many earlier examples had the same path): one CSV may list an image twice."""
    seen: Dict[str, int] = collections.Counter()
    keyed = {}
    for answer in self.answers:
      keyed[(answer.path, seen[answer.path])] = answer
      seen[answer.path] += 1
    return keyed


def paired_counts(candidate: TestAnswers, baseline: TestAnswers) -> Optional[List[accuracy_intervals.PairedCounts]]:
  """Per slice (overall first, then by name), the examples only one of the two got right; None unless both
  answered exactly the same examples with the same slice values, so that the pairs are the same examples."""
  candidate_keyed, baseline_keyed = candidate.keyed(), baseline.keyed()
  if candidate.slice_features != baseline.slice_features or candidate_keyed.keys() != baseline_keyed.keys():
    return None
  examples: Dict[str, List[int]] = {}  # slice: [examples, right only by the candidate, right only by the baseline]
  for key, answer in candidate_keyed.items():
    other = baseline_keyed[key]
    if other.slice_values != answer.slice_values:
      return None
    for slice_name in candidate.slices_of(answer):
      counts = examples.setdefault(slice_name, [0, 0, 0])
      counts[0] += 1
      counts[1] += answer.correct and not other.correct
      counts[2] += other.correct and not answer.correct
  order = sorted(examples, key=lambda name: (name != OVERALL, name))
  return [accuracy_intervals.PairedCounts(*examples[name], slice='' if name == OVERALL else name)
          for name in order]

