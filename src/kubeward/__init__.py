"""kubeward: container and Kubernetes security, from the image layer to the running cluster."""

__version__ = "0.1.0"
