"""PairedAccuracy counts, from both models' predictions of the same examples, where only one of them is right."""
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from components import paired_accuracy


def _config(with_baseline: bool) -> tfma.EvalConfig:
  specs = [tfma.ModelSpec(name='candidate', label_key='label_index', prediction_key='probabilities')]
  if with_baseline:
    specs.append(tfma.ModelSpec(name='baseline', label_key='label_index', prediction_key='probabilities',
                                is_baseline=True))
  return tfma.EvalConfig(model_specs=specs)


def _one_hot(index: int) -> np.ndarray:
  return np.eye(3, dtype=np.float32)[index] * 0.8 + 0.2 / 3


def test_the_counts_of_examples_only_one_model_got_right():
  config = _config(with_baseline=True)
  [computation] = paired_accuracy.PairedAccuracy().computations(
      eval_config=config, model_names=['candidate', 'baseline'])
  combiner = computation.combiner
  # (label, candidate's top class, baseline's top class)
  examples = [(0, 0, 0), (1, 1, 2), (2, 2, 0), (0, 1, 0), (1, 2, 2), (2, 0, 1)]
  accumulators = []
  for half in (examples[:3], examples[3:]):  # two bundles, merged as Beam would
    accumulator = combiner.create_accumulator()
    for label, candidate, baseline in half:
      accumulator = combiner.add_input(accumulator, metric_types.StandardMetricInputs(
          labels=np.array([label]), predictions={'candidate': _one_hot(candidate), 'baseline': _one_hot(baseline)},
          example_weights=np.array([1.0])))
    accumulators.append(accumulator)
  output = {key.name: value for key, value in combiner.extract_output(
      combiner.merge_accumulators(accumulators)).items()}
  assert output == {paired_accuracy.PAIRED_EXAMPLES: 6, paired_accuracy.CANDIDATE_ONLY: 2,
                    paired_accuracy.BASELINE_ONLY: 1}
  assert {key.model_name for key in computation.keys} == {'candidate'}


def test_without_a_model_in_production_nothing_is_computed():
  assert paired_accuracy.PairedAccuracy().computations(eval_config=_config(with_baseline=False),
                                                       model_names=['candidate']) == []
