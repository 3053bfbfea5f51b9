#!/usr/bin/env python3
"""Validate Kubernetes manifests against the API's types, as the official Python client
(`kubernetes`, PyPI) models them.

Usage:
    Tools/validate-kubernetes.py FILE...

Each YAML document must be an object of a built-in kind (apiVersion and kind naming one of the
client's models: `apps/v1` StatefulSet is `V1StatefulSet`). It is deserialized into that model,
which refuses a missing required field and an unknown enumeration value, and serialized again;
the result must equal the document, so a field the type does not have (a misspelling, a field
of another kind) or a value of the wrong type is reported with its path. Exit status 0 when every
document passes, 1 otherwise (each problem on a line), 2 on usage errors.
"""
import json
import sys

import kubernetes.client
import yaml


def deserialize(client, document, name):
    """The document as the client's model (its signature changed across client versions)."""
    try:
        return client.deserialize(json.dumps(document), name, "application/json")
    except TypeError as error:
        if "positional argument" not in str(error) and "argument" not in str(error):
            raise

        class Response:
            data = json.dumps(document)

        return client.deserialize(Response(), name)


def model_name(document):
    api_version = document.get("apiVersion", "")
    version = api_version.split("/")[-1]
    return version[:1].upper() + version[1:] + document.get("kind", "")


def differences(expected, actual, path):
    """Paths where the serialized model differs from the document."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                yield "%s.%s: not a field of the type (dropped)" % (path, key)
            elif key not in expected:
                continue  # a default the client fills in
            else:
                yield from differences(expected[key], actual[key], "%s.%s" % (path, key))
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (a, b) in enumerate(zip(expected, actual)):
            yield from differences(a, b, "%s[%d]" % (path, index))
    elif expected != actual or type(expected) is not type(actual):
        yield "%s: %r read as %r" % (path, expected, actual)


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    client = kubernetes.client.ApiClient()
    problems = 0
    checked = 0
    for path in paths:
        with open(path) as handle:
            documents = [d for d in yaml.safe_load_all(handle) if d is not None]
        for index, document in enumerate(documents):
            where = "%s[%d] %s %s" % (
                path, index, document.get("kind", "?"), document.get("metadata", {}).get("name", "?"))
            name = model_name(document)
            if not hasattr(kubernetes.client, name):
                print("%s: no model %s for apiVersion %s" % (where, name, document.get("apiVersion")))
                problems += 1
                continue
            try:
                model = deserialize(client, document, name)
            except (ValueError, TypeError) as error:
                print("%s: %s" % (where, error))
                problems += 1
                continue
            again = client.sanitize_for_serialization(model)
            for difference in differences(document, again, ""):
                print("%s: %s" % (where, difference))
                problems += 1
            checked += 1
    print("%d documents checked against the kubernetes client %s models, %d problems"
          % (checked, kubernetes.__version__, problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
