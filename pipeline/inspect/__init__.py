"""Read-only inspection of local runs: the metadata queries, run logs and the web UI. No TensorFlow, no TFX."""
