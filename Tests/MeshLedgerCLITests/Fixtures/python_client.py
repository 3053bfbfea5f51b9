"""The official Python Kubernetes client against `meshledger serve`: list, writes, then a watch
from the list's resourceVersion that must see exactly those writes in order; a time-travel list;
a watch older than the retention window. Prints one JSON object with what it saw."""
import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

G, V, P = "networking.enterprise.mesh.gloo.solo.io", "v1alpha1", "virtualdestinations"
config.load_kube_config(config_file=sys.argv[1])
api = client.CustomObjectsApi()
out = {}

listed = api.list_cluster_custom_object(G, V, P)
rv = listed["metadata"]["resourceVersion"]
out["listed"] = sorted(item["metadata"]["name"] for item in listed["items"])
out["listRV"] = rv

body = lambda name, host: {
    "apiVersion": f"{G}/{V}", "kind": "VirtualDestination",
    "metadata": {"name": name, "namespace": "bookinfo"},
    "spec": {"hostname": host, "port": {"number": 9080, "protocol": "HTTP"},
             "virtualMesh": {"name": "bookinfo-federation", "namespace": "gloo-mesh"},
             "static": {"destinations": [{"kubeService": {"name": "reviews", "namespace": "bookinfo", "clusterName": "cluster-1"}}]}},
}
created = api.create_namespaced_custom_object(G, V, "bookinfo", P, body("py-one", "py-one.global"))
api.patch_namespaced_custom_object(G, V, "bookinfo", P, "py-one", {"metadata": {"labels": {"from": "python"}}})
api.delete_namespaced_custom_object(G, V, "bookinfo", P, "py-one")
out["createdRV"] = created["metadata"]["resourceVersion"]

seen = []
for event in watch.Watch().stream(api.list_cluster_custom_object, G, V, P, resource_version=rv, timeout_seconds=3):
    obj = event["object"]
    seen.append([event["type"], obj["metadata"]["name"], obj["metadata"]["resourceVersion"]])
out["watched"] = seen

try:
    replaced = dict(created)
    api.replace_namespaced_custom_object(G, V, "bookinfo", P, "reviews-global", {**body("reviews-global", "reviews.global"), "metadata": {"name": "reviews-global", "namespace": "bookinfo", "resourceVersion": "1"}})
    out["staleReplace"] = "accepted"
except ApiException as error:
    out["staleReplace"] = error.status

exact = int(sys.argv[2])
past = api.list_cluster_custom_object(G, V, P, resource_version=str(exact), resource_version_match="Exact", limit=1)
names = [[i["metadata"]["name"], i["metadata"]["resourceVersion"]] for i in past["items"]]
token = past["metadata"].get("continue")
while token:
    page = api.list_cluster_custom_object(G, V, P, limit=1, _continue=token)
    names += [[i["metadata"]["name"], i["metadata"]["resourceVersion"]] for i in page["items"]]
    token = page["metadata"].get("continue")
out["exact"] = {"resourceVersion": past["metadata"]["resourceVersion"], "items": names}

try:
    for event in watch.Watch().stream(api.list_cluster_custom_object, G, V, P, resource_version="1", timeout_seconds=2):
        pass
    out["tooOld"] = "no error"
except ApiException as error:
    out["tooOld"] = error.status
print(json.dumps(out))
