"""Local schedules and the scheduler that fires them: continuous training on one machine. No TensorFlow."""
