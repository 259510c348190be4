"""Component code of the visionflow pipeline: pure TensorFlow, Beam and TFX executor code."""
