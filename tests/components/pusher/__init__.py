"""Tests of components/pusher/."""
