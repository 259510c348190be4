"""Tests of components/trainer/."""
