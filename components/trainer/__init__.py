"""The Tuner and Trainer steps: settings, model, tf.distribute strategies, local and TFJob workers, backbones."""
