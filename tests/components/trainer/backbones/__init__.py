"""Tests of components/trainer/backbones/."""
