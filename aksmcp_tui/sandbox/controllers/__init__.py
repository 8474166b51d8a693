"""In-process controllers: deployment, replicaset, endpoints, namespace and garbage collection."""
