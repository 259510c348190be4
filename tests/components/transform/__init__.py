"""Tests of components/transform/."""
