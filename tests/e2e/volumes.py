"""What AKS's CSI drivers would provision, made static for the e2e cluster: a PersistentVolume on a
folder of the node (the node is this machine), and the chart's shared claim (`ray-shared`, the e2e
values' rayCluster.sharedStorage.existingClaim) bound to one such volume by its label (a claim binds
one volume, and one namespace's claim serves only that namespace)."""

from __future__ import annotations

STORAGE_CLASS = "ray-aks-e2e-local"
LABEL = "ray-aks-e2e/volume"
SHARED_CLAIM = "ray-shared"


def host_volume(name: str, path: str, access: str, size: str) -> dict:
    """A PersistentVolume on the node's folder `path`, labelled with its name, bound by class."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {LABEL: name}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": [access],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "hostPath": {"path": path, "type": "Directory"},
        },
    }


def shared_claim(namespace: str, volume: str, size: str) -> dict:
    """The shared claim of `namespace`, on the ReadWriteMany volume named `volume`."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": SHARED_CLAIM, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": STORAGE_CLASS,
            "resources": {"requests": {"storage": size}},
            "selector": {"matchLabels": {LABEL: volume}},
        },
    }
