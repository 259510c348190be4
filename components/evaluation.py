"""The TFMA evaluation config: test-split metrics, overall and per true class, and the blessing bar."""
import tensorflow_model_analysis as tfma

from components import features

ACCURACY_METRIC = 'sparse_categorical_accuracy'


def build_eval_config(min_accuracy: float) -> tfma.EvalConfig:
  """A model is blessed only when its overall accuracy on the evaluated split is >= min_accuracy.

  The threshold is on the overall slice only: a value threshold in a MetricConfig would apply to every
  slice, per-class slices included.
  """
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name=features.TF_EXAMPLE_SIGNATURE,
          preprocessing_function_names=[features.TRANSFORM_SIGNATURE],
          label_key=features.LABEL_INDEX)],
      slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.LABEL])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          tfma.MetricConfig(class_name='SparseCategoricalAccuracy', per_slice_thresholds=[
              tfma.PerSliceMetricThreshold(
                  slicing_specs=[tfma.SlicingSpec()],
                  threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
                      lower_bound={'value': min_accuracy})))]),
      ])])
