"""The TFMA config: metrics, slices and blessing thresholds as TFMA reads them."""
import json

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs

from components import eval_config
from components import features

LABELS = ['cat', 'dog', 'fish']


def test_slices_and_paired_counts_are_measured_and_tfma_checks_no_threshold():
  config = eval_config.build_eval_config(LABELS, extra_slice_features=['camera', features.LABEL])
  assert [list(spec.feature_keys) for spec in config.slicing_specs] == [
      [], [features.LABEL], [features.SIZE_BUCKET], ['camera']]
  metrics = [metric for spec in config.metrics_specs for metric in spec.metrics]
  assert not [metric for metric in metrics if metric.HasField('threshold') or metric.per_slice_thresholds]
  [paired] = [metric for metric in metrics if metric.class_name == 'PairedAccuracy']
  assert paired.module == eval_config.PAIRED_MODULE == 'components.paired_accuracy'


def test_per_class_averaged_fairness_and_plot_metrics_are_requested():
  config = eval_config.build_eval_config(LABELS, fairness_thresholds=[0.3, 0.5])
  binarized, macro, micro = config.metrics_specs[1:]
  assert list(binarized.binarize.class_ids.values) == [0, 1, 2]
  [fairness] = [metric for metric in binarized.metrics if metric.class_name == 'FairnessIndicators']
  assert fairness.module == eval_config.FAIRNESS_MODULE
  assert json.loads(fairness.config) == {'thresholds': [0.3, 0.5]}
  assert dict(macro.aggregate.class_weights) == {0: 1.0, 1: 1.0, 2: 1.0}
  assert macro.aggregate.macro_average and micro.aggregate.micro_average
  for spec in (binarized, macro, micro):
    assert set(eval_config.CLASS_METRICS) <= {metric.class_name for metric in spec.metrics}
  assert 'MultiClassConfusionMatrixPlot' in {metric.class_name for metric in config.metrics_specs[0].metrics}
  assert 'CalibrationPlot' in {metric.class_name for metric in micro.metrics}


def test_tfma_builds_every_auc_with_the_configured_thresholds():
  config = eval_config.build_eval_config(LABELS)
  aucs = [metric_specs.metric_instance(metric) for spec in config.metrics_specs for metric in spec.metrics
          if metric.class_name in eval_config.AUC_METRICS]
  assert len(aucs) == 2 * len(config.metrics_specs[1:])
  assert {auc.get_config()['num_thresholds'] for auc in aucs} == {eval_config.AUC_THRESHOLDS}


def test_tfma_accepts_the_config_with_and_without_a_baseline():
  config = eval_config.build_eval_config(LABELS)
  with_baseline = tfma.utils.update_eval_config_with_defaults(config, has_baseline=True)
  tfma.utils.verify_eval_config(with_baseline)
  assert [(spec.name, spec.is_baseline) for spec in with_baseline.model_specs] == [
      (tfma.CANDIDATE_KEY, False), (tfma.BASELINE_KEY, True)]
  first_run = tfma.utils.update_eval_config_with_defaults(config, has_baseline=False, rubber_stamp=True)
  tfma.utils.verify_eval_config(first_run)
  assert len(first_run.model_specs) == 1
