"""The evaluation settings that the Evaluator's blessing, the monitor's alerts and the eval config share, each
default spelled once and free of TensorFlow, so that the config takes its defaults from here."""

# The fewest examples of a slice for its accuracy to be gated (the blessing) or to raise an alert (the monitor):
# smaller slices are reported, not judged.
MIN_SLICE_EXAMPLES = 30
# The probabilities at which Fairness Indicators reports false positive and negative rates per class.
FAIRNESS_THRESHOLDS = (0.5,)
