"""Node benchmarks (CIS Kubernetes on a node): facts read from a node root, kubeward's own
packaged checks, kube-bench definitions, and tri-state results."""
