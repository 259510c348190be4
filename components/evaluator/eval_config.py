"""The TFMA evaluation config: what is measured on the test split, on which slices, and the blessing bar.

Measured: example count, accuracy, per-class (one-vs-rest) precision, recall, F1, AUC-ROC, AUC-PR and
calibration with their macro and micro averages, the multi-class confusion matrix, a calibration plot, and
Fairness Indicators (false positive/negative rates per class at thresholds). Slices: overall, the true class,
the image-size bucket, and any configured raw feature (extra CSV columns).

Blessed only when: overall accuracy >= min_accuracy; accuracy on every monitored slice >= min_slice_accuracy;
and, when a model is in production (the baseline), overall accuracy >= the baseline's - max_accuracy_drop.
"""
import dataclasses
import json
from typing import Sequence, Tuple

import tensorflow_model_analysis as tfma

from components import features

ACCURACY_METRIC = 'sparse_categorical_accuracy'
EXAMPLE_COUNT_METRIC = 'example_count'
FAIRNESS_MODULE = 'fairness_indicators.fairness_indicators_metrics'
FAIRNESS_METRIC = 'fairness_indicators_metrics'
# Per class (one-vs-rest) and averaged over classes.
CLASS_METRICS = ('Precision', 'Recall', 'F1Score', 'AUC', 'AUCPrecisionRecall')
AUC_METRICS = ('AUC', 'AUCPrecisionRecall')
# TFMA's default of 10,000 thresholds builds every AUC from 10,000 confusion matrices per class and slice in
# Python: half of an evaluation of the embedded digits (about 4.5 s of 9.5 on 2 cores). At 1,000 (Keras's
# own default is 200) the AUC is off the exact value by a median 0.0003 (0.004 at most) on simulated
# 10-class softmax outputs, against 0.00006 at 10,000. No blessing threshold reads an AUC.
AUC_THRESHOLDS = 1000
CALIBRATION_BUCKETS = 10
# Change thresholds compare to the baseline: a tiny slack so that an equally good model still passes.
_EPSILON = 1e-10


@dataclasses.dataclass(frozen=True)
class BlessingPolicy:
  min_accuracy: float = 0.8
  min_slice_accuracy: float = 0.0
  max_accuracy_drop: float = 0.0


def slice_feature_keys(extra_slice_features: Sequence[str]) -> Tuple[str, ...]:
  """The features every evaluation slices by, besides overall: true class, image size, configured extras."""
  keys = [features.LABEL, features.SIZE_BUCKET]
  return tuple(keys + [name for name in extra_slice_features if name not in keys])


def _lower_bound(value: float) -> tfma.GenericValueThreshold:
  return tfma.GenericValueThreshold(lower_bound={'value': value})


def _accuracy_thresholds(policy: BlessingPolicy, slice_keys: Sequence[str]) -> list:
  overall = tfma.MetricThreshold(
      value_threshold=_lower_bound(policy.min_accuracy),
      # Ignored by TFMA when there is no baseline (the first push).
      change_threshold=tfma.GenericChangeThreshold(
          direction=tfma.MetricDirection.HIGHER_IS_BETTER,
          absolute={'value': -policy.max_accuracy_drop - _EPSILON}))
  thresholds = [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=overall)]
  if policy.min_slice_accuracy > 0:
    thresholds.append(tfma.PerSliceMetricThreshold(
        slicing_specs=[tfma.SlicingSpec(feature_keys=[key]) for key in slice_keys],
        threshold=tfma.MetricThreshold(value_threshold=_lower_bound(policy.min_slice_accuracy))))
  return thresholds


def _metrics(names: Sequence[str], **config) -> list:
  return [tfma.MetricConfig(class_name=name, config=json.dumps(config) if config else '') for name in names]


def _class_metrics() -> list:
  return [tfma.MetricConfig(class_name=name, config=json.dumps({'num_thresholds': AUC_THRESHOLDS}))
          if name in AUC_METRICS else tfma.MetricConfig(class_name=name) for name in CLASS_METRICS]


def build_eval_config(labels: Sequence[str], policy: BlessingPolicy,
                      extra_slice_features: Sequence[str] = (),
                      fairness_thresholds: Sequence[float] = (0.5,)) -> tfma.EvalConfig:
  """The thresholds sit in per_slice_thresholds: a MetricConfig's plain threshold would apply to every slice."""
  class_ids = list(range(len(labels)))
  slice_keys = slice_feature_keys(extra_slice_features)
  unweighted_classes = {class_id: 1.0 for class_id in class_ids}  # TFMA's macro average needs them
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name=features.TF_EXAMPLE_SIGNATURE,
          preprocessing_function_names=[features.TRANSFORM_SIGNATURE],
          prediction_key=features.PROBABILITIES,
          label_key=features.LABEL_INDEX)],
      slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[key]) for key in slice_keys],
      metrics_specs=[
          tfma.MetricsSpec(metrics=[
              tfma.MetricConfig(class_name='ExampleCount'),
              tfma.MetricConfig(class_name='SparseCategoricalAccuracy',
                                per_slice_thresholds=_accuracy_thresholds(policy, slice_keys)),
              tfma.MetricConfig(class_name='MultiClassConfusionMatrixPlot'),
          ]),
          tfma.MetricsSpec(
              metrics=_class_metrics() + _metrics(['Calibration']) + [tfma.MetricConfig(
                  class_name='FairnessIndicators', module=FAIRNESS_MODULE,
                  config=json.dumps({'thresholds': list(fairness_thresholds)}))],
              binarize=tfma.BinarizationOptions(class_ids={'values': class_ids})),
          tfma.MetricsSpec(
              metrics=_class_metrics(),
              aggregate=tfma.AggregationOptions(macro_average=True, class_weights=unweighted_classes)),
          tfma.MetricsSpec(
              metrics=_class_metrics() + _metrics(['CalibrationPlot'], num_buckets=CALIBRATION_BUCKETS),
              aggregate=tfma.AggregationOptions(micro_average=True)),
      ])
