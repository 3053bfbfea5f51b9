"""A candidate in a leader election through a coordination.k8s.io/v1 Lease, with the official
Python client's leaderelection module (client-go's algorithm): prints LEADING <identity> when it
becomes the leader, then keeps renewing until it is killed."""
import sys
import threading
import uuid

from kubernetes import config
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

identity = sys.argv[1]
config.load_kube_config()


def lead():
    print(f"LEADING {identity}", flush=True)
    threading.Event().wait()


def stopped():
    print(f"STOPPED {identity}", flush=True)


print(f"CANDIDATE {identity}", flush=True)
lock = LeaseLock("meshledger-leader", "bookinfo", identity)
election = electionconfig.Config(
    lock, lease_duration=4, renew_deadline=3, retry_period=1, onstarted_leading=lead, onstopped_leading=stopped)
leaderelection.LeaderElection(election).run()
