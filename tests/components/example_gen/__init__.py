"""Tests of components/example_gen/."""
