"""The check engine every configuration scanner shares (Dockerfiles, images, later
Kubernetes, clusters and nodes): checks are small functions, their metadata is data."""
