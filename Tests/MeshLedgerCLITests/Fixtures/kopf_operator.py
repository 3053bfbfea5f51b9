"""A minimal kopf operator: it marks every VirtualDestination it sees created, and, through
kopf's finalizer, records each one's deletion once in the file named by KOPF_DELETIONS."""
import os

import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.posting.enabled = False
    settings.watching.server_timeout = 10


@kopf.on.create("networking.enterprise.mesh.gloo.solo.io", "v1alpha1", "virtualdestinations")
def mark(patch, name, **_):
    patch.metadata.annotations["operator.example/seen"] = "yes"


@kopf.on.delete("networking.enterprise.mesh.gloo.solo.io", "v1alpha1", "virtualdestinations")
def deleted(name, meta, **_):
    path = os.environ.get("KOPF_DELETIONS")
    if path:
        with open(path, "a") as out:
            out.write(f"{name} {meta.get('deletionTimestamp')}\n")
