"""What a drift between spans does to the run, free of TensorFlow so that the config checks its value.

warn: the drift is recorded and reported; fail: the run also stops at the ExampleValidator.
"""
WARN, FAIL = 'warn', 'fail'
ACTIONS = (WARN, FAIL)
