"""The TFMA evaluation config: what is measured on the test split, and on which slices.

Measured: example count, accuracy, per-class (one-vs-rest) precision, recall, F1, AUC-ROC, AUC-PR and
calibration with their macro and micro averages, the multi-class confusion matrix, a calibration plot, and
Fairness Indicators (false positive/negative rates per class at thresholds). Slices: overall, the true class,
the image-size bucket, and any configured raw feature (extra CSV columns).

With a model in production (the baseline), both are evaluated on the same examples, and PairedAccuracy counts
where they disagree. TFMA checks no thresholds: the blessing is decided from these counts by
components/evaluator/gates.py, which knows each slice's sample size. The Evaluator and the production monitor
both measure with this config.
"""
import json
from typing import Sequence, Tuple

import tensorflow_model_analysis as tfma

from components import evaluation_defaults
from components import features
from components import paired_accuracy

EXAMPLE_COUNT_METRIC = 'example_count'
FAIRNESS_MODULE = 'fairness_indicators.fairness_indicators_metrics'
FAIRNESS_METRIC = 'fairness_indicators_metrics'
PAIRED_MODULE = paired_accuracy.__name__
# Per class (one-vs-rest) and averaged over classes.
CLASS_METRICS = ('Precision', 'Recall', 'F1Score', 'AUC', 'AUCPrecisionRecall')
AUC_METRICS = ('AUC', 'AUCPrecisionRecall')
# Their keys in TFMA's output, and per-class recall's, which is NaN exactly where a slice holds none of a class.
AUC_METRIC_NAMES = ('auc', 'auc_precision_recall')
RECALL_METRIC_NAME = 'recall'
# TFMA's default of 10,000 thresholds builds every AUC from 10,000 confusion matrices per class and slice in
# Python: half of an evaluation of the embedded digits (about 4.5 s of 9.5 on 2 cores). At 1,000 (Keras's
# own default is 200) the AUC is off the exact value by a median 0.0003 (0.004 at most) on simulated
# 10-class softmax outputs, against 0.00006 at 10,000. No blessing threshold reads an AUC.
AUC_THRESHOLDS = 1000
CALIBRATION_BUCKETS = 10


def slice_feature_keys(extra_slice_features: Sequence[str]) -> Tuple[str, ...]:
  """The features every evaluation slices by, besides overall: true class, image size, configured extras."""
  keys = [features.LABEL, features.SIZE_BUCKET]
  return tuple(keys + [name for name in extra_slice_features if name not in keys])


def _metrics(names: Sequence[str], **config) -> list:
  return [tfma.MetricConfig(class_name=name, config=json.dumps(config) if config else '') for name in names]


def _class_metrics() -> list:
  return [tfma.MetricConfig(class_name=name, config=json.dumps({'num_thresholds': AUC_THRESHOLDS}))
          if name in AUC_METRICS else tfma.MetricConfig(class_name=name) for name in CLASS_METRICS]


def build_eval_config(labels: Sequence[str], extra_slice_features: Sequence[str] = (),
                      fairness_thresholds: Sequence[float] = evaluation_defaults.FAIRNESS_THRESHOLDS
                      ) -> tfma.EvalConfig:
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
              tfma.MetricConfig(class_name='SparseCategoricalAccuracy'),
              tfma.MetricConfig(class_name=paired_accuracy.PairedAccuracy.__name__, module=PAIRED_MODULE),
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
