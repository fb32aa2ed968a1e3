"""Casemesh on Kubernetes (docs/kubernetes.md): a kustomize base and overlays, KEDA autoscaling on
consumer lag, the topics Job, and Strimzi ``KafkaTopic`` manifests.

``python -m deploy.k8s generate`` writes the manifests that follow from the code
(:mod:`deploy.k8s.manifests`); ``python -m deploy.k8s render OVERLAY`` prints an overlay as
kustomize would (:mod:`deploy.k8s.render`). Both need PyYAML (the ``test`` extra).
"""
