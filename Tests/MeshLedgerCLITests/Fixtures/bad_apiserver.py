#!/usr/bin/env python3
"""A test-owned API server that misbehaves, for `meshledger record`: it serves the
VirtualDestination list and watch, and its watch streams carry bad input in turn.

  watch 1: a good ADDED (rv 11), an object of an unknown kind (rv 12), a line that is not JSON
           -> the recorder reports it and lists again
  watch 2: a good MODIFIED (rv 14), then the connection ends inside an event (truncated)
           -> the recorder resumes from rv 14
  watch 3: a good ADDED (rv 15), then bookmarks until the client goes

It listens on 127.0.0.1, port 0, prints "listening on PORT", and appends every request's path
to the file named by its first argument.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
API = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/virtualdestinations"


def vd(name, rv, hostname):
    return {
        "apiVersion": "networking.enterprise.mesh.gloo.solo.io/v1alpha1",
        "kind": "VirtualDestination",
        "metadata": {"name": name, "namespace": "bookinfo", "resourceVersion": str(rv), "generation": 1},
        "spec": {
            "hostname": hostname,
            "port": {"number": 9080, "protocol": "http"},
            "virtualMesh": {"name": "bookinfo-federation", "namespace": "gloo-mesh"},
            "static": {"destinations": [{"kubeService": {"name": "x", "namespace": "bookinfo", "clusterName": "c1"}}]},
        },
    }


def line(kind, obj):
    return (json.dumps({"type": kind, "object": obj}) + "\n").encode()


watches = {"count": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(LOG, "a") as f:
            f.write(self.path + "\n")
        if not self.path.startswith(API):
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                               "reason": "NotFound", "message": "not here"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if "watch=1" not in self.path:
            with lock:
                rv = 10 if watches["count"] == 0 else 13
            items = [vd("first", 5, "first.global")]
            if rv == 13:
                items.append(vd("second", 11, "second.global"))
            body = json.dumps({"kind": "VirtualDestinationList", "apiVersion": "networking.enterprise.mesh.gloo.solo.io/v1alpha1",
                               "metadata": {"resourceVersion": str(rv)}, "items": items}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with lock:
            watches["count"] += 1
            n = watches["count"]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            if n == 1:
                chunk(line("ADDED", vd("second", 11, "second.global")))
                time.sleep(0.2)
                chunk(line("ADDED", {"apiVersion": "example.com/v1", "kind": "Gadget",
                                     "metadata": {"name": "g", "namespace": "bookinfo", "resourceVersion": "12"}}))
                time.sleep(0.2)
                chunk(b"{this is not a watch event\n")
                time.sleep(0.5)
                chunk(b"")
            elif n == 2:
                chunk(line("MODIFIED", vd("second", 14, "second-changed.global")))
                time.sleep(0.2)
                whole = line("ADDED", vd("third", 99, "third.global"))
                chunk(whole[: len(whole) // 2])
                time.sleep(0.2)
                self.close_connection = True
                return  # no terminating chunk: the response ends inside an event
            else:
                chunk(line("ADDED", vd("fourth", 15, "fourth.global")))
                for _ in range(600):
                    time.sleep(0.1)
                    chunk(line("BOOKMARK", {"kind": "VirtualDestination", "apiVersion": "networking.enterprise.mesh.gloo.solo.io/v1alpha1",
                                            "metadata": {"resourceVersion": "15"}}))
                chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on %d" % server.server_address[1], flush=True)
server.serve_forever()
