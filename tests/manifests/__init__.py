"""Tests of the Kubernetes manifests under kubeflow/."""
