"""Tests of components/batch_inference/."""
