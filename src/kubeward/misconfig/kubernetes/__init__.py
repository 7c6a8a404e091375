"""Kubernetes manifests: loader with file:line, workload model, checks, exceptions, fixes."""
