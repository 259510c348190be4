"""What counts as a drift between spans and what it does to the run, free of TensorFlow so that the config takes
its defaults from here and checks its values.

warn: the drift is recorded and reported; fail: the run also stops at the ExampleValidator.
"""
WARN, FAIL = 'warn', 'fail'
ACTIONS = (WARN, FAIL)
# Above these, a feature has drifted: the L-infinity distance between two spans' value frequencies (the label,
# slice_features), and the Jensen-Shannon divergence of the image sizes and formats.
LABEL_THRESHOLD = 0.1
DISTRIBUTION_THRESHOLD = 0.1
