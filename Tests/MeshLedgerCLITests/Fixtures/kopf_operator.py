"""A minimal kopf operator: it marks every VirtualDestination it sees created."""
import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.posting.enabled = False
    settings.watching.server_timeout = 10


@kopf.on.create("networking.enterprise.mesh.gloo.solo.io", "v1alpha1", "virtualdestinations")
def mark(patch, name, **_):
    patch.metadata.annotations["operator.example/seen"] = "yes"
