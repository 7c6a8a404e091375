"""Live-cluster audit (`kubeward k8s`): listing, streaming checks, cluster-level checks."""
