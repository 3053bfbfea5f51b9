#!/usr/bin/env python3
"""Validate Istio networking.istio.io/v1alpha3 manifests against Istio's CRD schemas.

Usage:
    Tools/validate-istio.py [--crds CRDS.yaml] FILE_OR_DIR... ('-' reads stdin)

Directories are searched recursively for *.yaml, *.yml and *.json; files named
explicitly are read whatever their extension. A file may hold several YAML
documents, a JSON object, a JSON array of objects, or a `kind: List` with `items`.

Every object must be a ServiceEntry, DestinationRule or EnvoyFilter with apiVersion
networking.istio.io/v1alpha3, and is checked the way the Kubernetes API server
checks a custom resource, as far as that can be done without an API server:

  * metadata: name is a DNS-1123 label, namespace is set (and a DNS-1123 label),
    labels/annotations are string maps with valid keys (and valid label values),
    no unknown metadata fields;
  * structural "unknown field" checking like the API server's pruning: a field not
    listed in `properties` of an object schema is an error unless that schema has
    `additionalProperties` or `x-kubernetes-preserve-unknown-fields: true`;
  * x-kubernetes-int-or-string (int or string), nullable (null allowed only where
    `nullable: true`; elsewhere the API server would silently drop the null, which
    is reported here as an error because the field would be lost),
    x-kubernetes-list-type map/set (no duplicate entries);
  * everything else with JSON Schema Draft 7 (types, enums, oneOf, required,
    minimum/maximum, lengths, patterns), plus the int32/int64 formats;
  * the CEL rules in x-kubernetes-validations (e.g. "port must be between 1-65535",
    "NONE mode cannot set endpoints", durations) through hand-written equivalents
    of the rules these CRDs contain; any other rule is named in a warning and skipped.

NOT checked: Istio's own validating-webhook rules (istiod's validation), nor whether
an EnvoyFilter patch value is a valid Envoy config. A pass means the API server
would accept the object, not that istiod will act on it as intended.

Output: one line per problem, `FILE: doc N (Kind ns/name): path: message` (N counts
the documents of the file from 1, empty ones included; an element of a List is
`doc N items[I]`, of a top-level JSON array `doc I+1`), then
`N passed, M failed` (objects). Exit 0 all passed, 1 some failed, 2 usage error,
unreadable/unparsable file, or no Istio objects found at all.
"""

import argparse
import copy
import json
import os
import re
import sys

try:
    import yaml
    import jsonschema
except ImportError as e:  # pragma: no cover
    sys.stderr.write(
        "validate-istio: missing Python module (%s); install with: pip install jsonschema pyyaml\n"
        % getattr(e, "name", e))
    sys.exit(2)

API_VERSION = "networking.istio.io/v1alpha3"
KINDS = ("ServiceEntry", "DestinationRule", "EnvoyFilter")
DEFAULT_CRDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                            "Sources", "MeshModel", "Resources", "crds",
                            "networking.istio.io_v1alpha3_crds.yaml")

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
    "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
}
ROOT_FIELDS = {"apiVersion", "kind", "metadata"}  # implicit in every CRD schema


class InputError(Exception):
    """A file that cannot be read or parsed (exit 2)."""


# ---------------------------------------------------------------- loading

class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings (as Kubernetes' YAML-to-JSON does),
    turns non-string mapping keys into strings, and rejects duplicate keys."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    result = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool):
            key = "true" if key else "false"
        elif key is None:
            key = "null"
        elif not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found duplicate key %r" % key, key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _json_pairs(pairs):
    result = {}
    for k, v in pairs:
        if k in result:
            raise ValueError("duplicate key %r" % k)
        result[k] = v
    return result


def parse_documents(text):
    """Return the list of top-level documents (None for empty YAML documents)."""
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            return [json.loads(text, object_pairs_hook=_json_pairs)]
        except ValueError:
            pass  # maybe flow-style YAML; let the YAML parser report errors
    return list(yaml.load_all(text, Loader=_Loader))


def read_text(path):
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, "r", encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("cannot read: %s" % e)


def expand_inputs(args):
    """Files named directly, plus *.yaml/*.yml/*.json found under directories."""
    files = []
    for arg in args:
        if arg != "-" and os.path.isdir(arg):
            found = []
            for root, dirs, names in os.walk(arg):
                dirs.sort()
                for n in sorted(names):
                    if n.lower().endswith((".yaml", ".yml", ".json")):
                        found.append(os.path.join(root, n))
            files.extend(found)
        else:
            files.append(arg)
    return files


# ---------------------------------------------------------------- CRD schemas

def k8s_to_jsonschema(node):
    """Rewrite Kubernetes OpenAPI extensions into plain Draft 7."""
    if isinstance(node, list):
        return [k8s_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {name: k8s_to_jsonschema(s) for name, s in v.items()}
        else:
            out[k] = k8s_to_jsonschema(v)
    if out.get("x-kubernetes-int-or-string"):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if out.get("nullable") is True:
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        elif isinstance(t, list) and "null" not in t:
            out["type"] = t + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    if out.get("x-kubernetes-preserve-unknown-fields") and "type" not in out:
        pass  # any type allowed
    return out


def load_crds(path):
    text = read_text(path)
    try:
        docs = parse_documents(text)
    except (yaml.YAMLError, ValueError) as e:
        raise InputError("cannot parse CRDs: %s" % e)
    schemas = {}
    for d in docs:
        if not isinstance(d, dict) or d.get("kind") != "CustomResourceDefinition":
            continue
        spec = d.get("spec") or {}
        if spec.get("group") != "networking.istio.io":
            continue
        kind = (spec.get("names") or {}).get("kind")
        for v in spec.get("versions") or []:
            if v.get("name") == "v1alpha3":
                schema = ((v.get("schema") or {}).get("openAPIV3Schema"))
                if isinstance(schema, dict):
                    schemas[kind] = schema
    missing = [k for k in KINDS if k not in schemas]
    if missing:
        raise InputError("no v1alpha3 openAPIV3Schema for %s in the CRD file" % ", ".join(missing))
    return schemas


_format_checker = jsonschema.FormatChecker(formats=())


@_format_checker.checks("int32")
def _int32(v):
    return not isinstance(v, int) or isinstance(v, bool) or -2**31 <= v < 2**31


@_format_checker.checks("int64")
def _int64(v):
    return not isinstance(v, int) or isinstance(v, bool) or -2**63 <= v < 2**63


# ---------------------------------------------------------------- reporting helpers

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def fmt_path(parts):
    s = ""
    for p in parts:
        if isinstance(p, int):
            s += "[%d]" % p
        elif _SIMPLE_KEY.fullmatch(p):
            s += ("." if s else "") + p
        else:
            s += "[%s]" % json.dumps(p)
    return s or "(root)"


def short(value, limit=60):
    s = json.dumps(value, sort_keys=True, default=str)
    return s if len(s) <= limit else s[:limit - 3] + "..."


def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def describe_error(err):
    v, inst, sch = err.validator, err.instance, err.schema
    if v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return "expected %s, got %s %s" % (want, json_type(inst), short(inst))
    if v == "enum":
        return "%s is not one of %s" % (short(inst), ", ".join(json.dumps(x) for x in err.validator_value))
    if v in ("oneOf", "anyOf"):
        names = []
        for branch in err.validator_value:
            if isinstance(branch, dict) and isinstance(branch.get("required"), list):
                names.extend(branch["required"])
        if names and v == "oneOf":
            present = [n for n in names if isinstance(inst, dict) and n in inst]
            return "at most one of %s may be set (found %s)" % (", ".join(names), ", ".join(present) or "none")
        return "%s is not valid under %s" % (short(inst), v)
    if v == "format":
        return "%s is out of range for format %s" % (short(inst), err.validator_value)
    msg = err.message
    return msg if len(msg) <= 200 else msg[:197] + "..."


# ---------------------------------------------------------------- CEL rules
# The API server evaluates the CEL rules in x-kubernetes-validations. There is no CEL
# engine here: each rule that occurs in the Istio v1alpha3 schemas is implemented by
# hand below, keyed by its exact text. A rule not in this table is reported once on
# stderr (so a refreshed CRD file cannot silently lose checks) and skipped.
# A function raises TypeError/AttributeError/KeyError when the value has the wrong
# type; the rule is then skipped, since the Draft 7 type error is already reported.

def _has(obj, key):
    if not isinstance(obj, dict):
        raise TypeError("not an object")
    return obj.get(key) is not None


def _get(obj, key, default):
    return obj[key] if _has(obj, key) else default


def _int(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("not an integer")
    return v


def _str(v):
    if not isinstance(v, str):
        raise TypeError("not a string")
    return v


def _keys(v):
    if not isinstance(v, dict):
        raise TypeError("not an object")
    return list(v.keys())


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DURATION_NS = {"ns": 1, "us": 1e3, "\u00b5s": 1e3, "\u03bcs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def go_duration_ns(text):
    """Go time.ParseDuration (what CEL's duration() uses); None if invalid."""
    s = _str(text)
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        return None
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            return None
        total += float(m.group(1)) * _DURATION_NS[m.group(2)]
        pos = m.end()
    return sign * total


_PORT_NAME = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")

CEL_RULES = {
    '(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1':
        lambda o: _has(o, "workloadSelector") + _has(o, "endpoints") <= 1,
    '!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && '
    '!((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))':
        lambda o: not (any("/" in _str(k) for k in _get(o, "addresses", []))
                       and _get(o, "resolution", "NONE") not in ("STATIC", "NONE")),
    '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true':
        lambda o: not _has(o, "endpoints") if _get(o, "resolution", "NONE") == "NONE" else True,
    '((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? '
    '((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true':
        lambda o: len(_get(o, "endpoints", [])) <= 1 if _get(o, "resolution", "") == "DNS_ROUND_ROBIN" else True,
    'has(self.address) || has(self.network)':
        lambda o: _has(o, "address") or _has(o, "network"),
    '(has(self.address) ? self.address : "").startsWith("unix://") ? !has(self.ports) : true':
        lambda o: not _has(o, "ports") if _str(_get(o, "address", "")).startswith("unix://") else True,
    'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true':
        lambda s: _str(s)[7:8] in ("/", "@") if s.startswith("unix://") else True,
    'self.startsWith("unix://") ? !self.endsWith("/") : true':
        lambda s: not _str(s).endswith("/") if s.startswith("unix://") else True,
    'self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))':
        lambda m: all(len(k) < 63 and _PORT_NAME.fullmatch(k) for k in _keys(m)),
    '0 < self && self <= 65535':
        lambda n: 0 < _int(n) <= 65535,
    'self != "*"':
        lambda s: _str(s) != "*",
    'self.all(l1, self.exists_one(l2, l1.number == l2.number))':
        lambda lst: all(sum(1 for l2 in lst if l2["number"] == l1["number"]) == 1 for l1 in lst),
    '!self.contains("*")':
        lambda s: "*" not in _str(s),
    "duration(self) >= duration('1ms')":
        lambda s: (lambda ns: ns is not None and ns >= 1e6)(go_duration_ns(s)),
    'self.all(key, !key.contains("*"))':
        lambda m: all("*" not in k for k in _keys(m)),
    'self.all(key, key.size() != 0)':
        lambda m: all(len(k) != 0 for k in _keys(m)),
    '(has(self.workloadSelector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1':
        lambda o: _has(o, "workloadSelector") + _has(o, "targetRefs") <= 1,
    'has(self.context) ? ((self.context == "WAYPOINT") ? has(self.waypoint) : !has(self.waypoint)) : '
    '!has(self.waypoint)':
        lambda o: (_has(o, "waypoint") if o["context"] == "WAYPOINT" else not _has(o, "waypoint"))
        if _has(o, "context") else not _has(o, "waypoint"),
    'self.size() == 0':
        lambda s: len(_str(s)) == 0,
}


def _norm_rule(rule):
    return " ".join(rule.split())


CEL_RULES = {_norm_rule(k): v for k, v in CEL_RULES.items()}


def unimplemented_rules(node, found):
    if isinstance(node, dict):
        for r in node.get("x-kubernetes-validations") or []:
            if isinstance(r, dict) and _norm_rule(str(r.get("rule", ""))) not in CEL_RULES:
                found.add(r.get("rule"))
        for v in node.values():
            unimplemented_rules(v, found)
    elif isinstance(node, list):
        for v in node:
            unimplemented_rules(v, found)
    return found


def cel_problems(value, schema, path, problems):
    for r in schema.get("x-kubernetes-validations") or []:
        fn = CEL_RULES.get(_norm_rule(str(r.get("rule", ""))))
        if fn is None:
            continue
        try:
            ok = fn(value)
        except (TypeError, AttributeError, KeyError, ValueError):
            continue
        if not ok:
            problems.append((path, "%s (rule: %s)" % (r.get("message") or "failed", " ".join(r["rule"].split()))))


# ---------------------------------------------------------------- structural checks

def structural_problems(value, schema, path, problems):
    """Unknown fields (API-server pruning), non-nullable nulls, list-type map/set, CEL."""
    if not isinstance(schema, dict):
        return
    if value is None:
        if not schema.get("nullable"):
            problems.append((path, "null is not allowed (field is not nullable; the API server "
                                   "would silently drop it)"))
        return
    cel_problems(value, schema, path, problems)
    if isinstance(value, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        is_object_schema = schema.get("type") == "object" or props is not None
        if not is_object_schema and not preserve:
            return  # a type error, reported by Draft 7
        for key, sub in value.items():
            if props is not None and key in props:
                structural_problems(sub, props[key], path + [key], problems)
            elif isinstance(addl, dict):
                structural_problems(sub, addl, path + [key], problems)
            elif addl is True or preserve:
                continue
            else:
                p = fmt_path(path + [key])
                problems.append((path + [key], "unknown field %s" % p))
    elif isinstance(value, list):
        items = schema.get("items")
        for i, sub in enumerate(value):
            if isinstance(items, dict):
                structural_problems(sub, items, path + [i], problems)
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen = {}
            for i, sub in enumerate(value):
                if not isinstance(sub, dict):
                    continue
                k = tuple(json.dumps(sub.get(kk), sort_keys=True) for kk in keys)
                if k in seen:
                    desc = ", ".join("%s=%s" % (kk, short(sub.get(kk))) for kk in keys)
                    problems.append((path + [i], "duplicate entry (%s) also at index %d" % (desc, seen[k])))
                else:
                    seen[k] = i
        elif list_type == "set":
            seen = {}
            for i, sub in enumerate(value):
                k = json.dumps(sub, sort_keys=True)
                if k in seen:
                    problems.append((path + [i], "duplicate value %s also at index %d" % (short(sub), seen[k])))
                else:
                    seen[k] = i


def check_string_map(m, path, problems, what, check_values):
    if not isinstance(m, dict):
        problems.append((path, "%s must be an object of strings, got %s" % (what, json_type(m))))
        return
    for k, v in m.items():
        kp = path + [k]
        prefix, _, name = k.rpartition("/")
        if (prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix))) \
                or not name or len(name) > 63 or not QUALIFIED_NAME.fullmatch(name):
            problems.append((kp, "invalid %s key %s" % (what, json.dumps(k))))
        if not isinstance(v, str):
            problems.append((kp, "%s value must be a string, got %s %s" % (what, json_type(v), short(v))))
        elif check_values and (len(v) > 63 or not LABEL_VALUE.fullmatch(v)):
            problems.append((kp, "invalid label value %s (<=63 chars, alphanumerics, '-', '_', '.', "
                                 "alphanumeric at both ends)" % json.dumps(v)))


def metadata_problems(meta, problems):
    path = ["metadata"]
    if not isinstance(meta, dict):
        problems.append((path, "metadata must be an object" if meta is not None else "metadata is missing"))
        return
    for key in meta:
        if key not in OBJECT_META_FIELDS:
            problems.append((path + [key], "unknown field %s" % fmt_path(path + [key])))
    name = meta.get("name")
    if name is None:
        problems.append((path + ["name"], "is missing"))
    elif not isinstance(name, str) or len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
        problems.append((path + ["name"], "%s is not a DNS-1123 label (at most 63 characters, lowercase "
                                          "alphanumerics and '-', alphanumeric at both ends)" % short(name)))
    ns = meta.get("namespace")
    if ns is None or ns == "":
        problems.append((path + ["namespace"], "is not set"))
    elif not isinstance(ns, str) or len(ns) > 63 or not DNS1123_LABEL.fullmatch(ns):
        problems.append((path + ["namespace"], "%s is not a DNS-1123 label" % short(ns)))
    if "labels" in meta and meta["labels"] is not None:
        check_string_map(meta["labels"], path + ["labels"], problems, "label", True)
    if "annotations" in meta and meta["annotations"] is not None:
        check_string_map(meta["annotations"], path + ["annotations"], problems, "annotation", False)


def validate_object(obj, crds, validators):
    """Return a list of (path parts, message)."""
    problems = []
    if not isinstance(obj, dict):
        return [([], "expected an object, got %s %s" % (json_type(obj), short(obj)))]
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if api != API_VERSION:
        problems.append((["apiVersion"], "apiVersion must be %s, got %s" % (API_VERSION, short(api))))
    if kind not in KINDS:
        problems.append((["kind"], "kind must be one of %s, got %s" % (", ".join(KINDS), short(kind))))
        return problems
    metadata_problems(obj.get("metadata"), problems)
    schema = crds[kind]
    for key, sub in obj.items():
        if key in ROOT_FIELDS:
            continue
        if key in (schema.get("properties") or {}):
            structural_problems(sub, schema["properties"][key], [key], problems)
        else:
            problems.append(([key], "unknown field %s" % fmt_path([key])))
    body = {k: v for k, v in obj.items() if k not in ROOT_FIELDS}
    for err in validators[kind].iter_errors(body):
        path = list(err.absolute_path)
        if err.validator in ("type", "enum") and err.instance is None:
            continue  # reported by structural_problems with a clearer message
        if err.validator == "additionalProperties":
            continue
        problems.append((path, describe_error(err)))
    # stable order, no exact duplicates
    seen, out = set(), []
    for p, m in sorted(problems, key=lambda pm: ([str(x) for x in pm[0]], pm[1])):
        key = (fmt_path(p), m)
        if key not in seen:
            seen.add(key)
            out.append((p, m))
    return out


# ---------------------------------------------------------------- main

def objects_in(docs):
    """Yield (label, object) for every object in the parsed documents."""
    if len(docs) == 1 and isinstance(docs[0], list):  # a JSON (or YAML) array
        docs = docs[0]
    for n, d in enumerate(docs, 1):
        if d is None:
            continue  # empty YAML document
        if isinstance(d, dict) and d.get("kind") == "List" and "items" in d:
            items = d.get("items")
            if not isinstance(items, list):
                yield "doc %d" % n, {"kind": "List", "__bad_items__": True}
                continue
            for i, item in enumerate(items):
                yield "doc %d items[%d]" % (n, i), item
        else:
            yield "doc %d" % n, d


def ident(obj):
    if not isinstance(obj, dict):
        return "?"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else "?"
    ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) and meta.get("namespace") else "?"
    name = meta.get("name") if isinstance(meta.get("name"), str) and meta.get("name") else "?"
    return "%s %s/%s" % (kind, ns, name)


def main(argv):
    ap = argparse.ArgumentParser(
        prog="validate-istio.py",
        description="Validate Istio v1alpha3 ServiceEntry/DestinationRule/EnvoyFilter manifests "
                    "against Istio's CRD schemas.")
    ap.add_argument("--crds", default=DEFAULT_CRDS,
                    help="CRD file holding the v1alpha3 schemas (default: %(default)s)")
    ap.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="files, directories, or - for stdin")
    args = ap.parse_args(argv)

    try:
        crds = load_crds(args.crds)
    except InputError as e:
        sys.stderr.write("validate-istio: %s: %s\n" % (args.crds, e))
        return 2
    unchecked = set()
    for schema in crds.values():
        unimplemented_rules(schema, unchecked)
    for rule in sorted(unchecked):
        sys.stderr.write("validate-istio: warning: CEL rule not evaluated: %s\n" % " ".join(rule.split()))
    validators = {}
    for kind, schema in crds.items():
        js = k8s_to_jsonschema(copy.deepcopy(schema))
        jsonschema.Draft7Validator.check_schema(js)
        validators[kind] = jsonschema.Draft7Validator(js, format_checker=_format_checker)

    input_error = False
    passed = failed = 0
    for path in expand_inputs(args.inputs):
        label = "<stdin>" if path == "-" else path
        try:
            text = read_text(path)
            try:
                docs = parse_documents(text)
            except yaml.MarkedYAMLError as e:
                mark = e.problem_mark or e.context_mark
                where = " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark else ""
                raise InputError("cannot parse YAML%s: %s" % (where, " ".join(
                    x for x in (e.context, e.problem) if x)))
            except (yaml.YAMLError, ValueError) as e:
                raise InputError("cannot parse: %s" % " ".join(str(e).split()))
        except InputError as e:
            sys.stderr.write("validate-istio: %s: %s\n" % (label, e))
            input_error = True
            continue
        for where, obj in objects_in(docs):
            if isinstance(obj, dict) and obj.get("__bad_items__"):
                problems = [(["items"], "items of a List must be an array")]
            else:
                problems = validate_object(obj, crds, validators)
            for p, msg in problems:
                print("%s: %s (%s): %s: %s" % (label, where, ident(obj), fmt_path(p), msg))
            if problems:
                failed += 1
            else:
                passed += 1

    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    if input_error:
        return 2
    if passed + failed == 0:
        sys.stderr.write("validate-istio: no Istio objects found in the inputs\n")
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
