"""A small kustomize: renders this repository's own kustomizations without the kustomize binary, so
the manifests can be checked offline where no kustomize is installed (CI, a fresh clone).

It does what deploy/k8s's kustomizations use and refuses everything else by name, rather than
render something kustomize would render differently:

- ``resources``: files (one or more YAML documents) and directories holding a kustomization;
- ``configMapGenerator`` and ``secretGenerator`` from ``envs`` and ``literals``, with ``behavior``
  ``create``, ``merge`` or ``replace``; ``generatorOptions.disableNameSuffixHash`` must be true, as
  names with kustomize's content hash would need its hashing and its reference rewriting;
- ``patches``: strategic-merge patches (lists of containers, env, ports, volumes and mounts merged
  by their keys, every other list replaced, as kustomize does) and JSON 6902 patches
  (``add``, ``replace``, ``remove``), each from ``path`` or inline ``patch``, with an optional
  ``target`` (kind, name, labelSelector);
- ``images`` (``newName``, ``newTag``, ``digest``) and ``namespace``.

``tests/unit/deploy/test_k8s_manifests.py`` compares this with the real kustomize where one is
installed.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import yaml

Resource = dict[str, Any]

KUSTOMIZATION = "kustomization.yaml"
SUPPORTED = frozenset(
    {
        "apiVersion",
        "kind",
        "namespace",
        "resources",
        "configMapGenerator",
        "secretGenerator",
        "generatorOptions",
        "patches",
        "images",
    }
)

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "ClusterTriggerAuthentication",
    }
)

MERGE_KEYS: Mapping[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
}
"""The strategic-merge keys of the lists a patch here may touch (Kubernetes' patchMergeKey)."""


class Unsupported(ValueError):
    """A kustomization asks for something this renderer does not do."""


def load_documents(path: Path) -> list[Resource]:
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    for document in documents:
        if not isinstance(document, dict):
            raise Unsupported(f"{path}: every document must be a mapping")
    return cast(list[Resource], documents)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines, ``#`` comments and blank lines: kustomize's ``envs`` files."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, separator, value = stripped.partition("=")
        if not separator:
            raise Unsupported(f"{path}:{number}: not KEY=VALUE")
        values[key.strip()] = value
    return values


def build(directory: Path) -> list[Resource]:
    """The resources ``kustomize build directory`` prints, in the order they were declared."""
    spec = load_documents(directory / KUSTOMIZATION)[0]
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise Unsupported(f"{directory}: {', '.join(sorted(unknown))} not supported")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        resources.extend(build(path) if path.is_dir() else load_documents(path))
    _run_generators(resources, directory, spec)
    for patch in spec.get("patches", []):
        _patch(resources, directory, patch)
    _transform(resources, spec)
    return resources


def _run_generators(resources: list[Resource], directory: Path, spec: Mapping[str, Any]) -> None:
    generators = [*spec.get("configMapGenerator", []), *spec.get("secretGenerator", [])]
    if generators and spec.get("generatorOptions") != {"disableNameSuffixHash": True}:
        raise Unsupported(f"{directory}: generators need generatorOptions.disableNameSuffixHash: true")
    for generator in spec.get("configMapGenerator", []):
        _generate(resources, directory, generator, secret=False)
    for generator in spec.get("secretGenerator", []):
        _generate(resources, directory, generator, secret=True)


def _transform(resources: list[Resource], spec: Mapping[str, Any]) -> None:
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for resource in resources:
            _set_image(resource, image)


def _generate(resources: list[Resource], directory: Path, generator: Mapping[str, Any], secret: bool) -> None:
    unknown = set(generator) - {"name", "envs", "literals", "behavior", "type"}
    if unknown:
        raise Unsupported(f"{directory}: generator options {', '.join(sorted(unknown))} not supported")
    data: dict[str, str] = {}
    for env in generator.get("envs", []):
        data |= read_env_file(directory / env)
    for literal in generator.get("literals", []):
        key, _, value = str(literal).partition("=")
        data[key] = value
    kind = "Secret" if secret else "ConfigMap"
    behavior = generator.get("behavior", "create")
    existing = _find(resources, kind, generator["name"])
    if behavior == "create":
        if existing is not None:
            raise Unsupported(f"{directory}: {kind} {generator['name']} already exists; merge or replace it")
        made: Resource = {"apiVersion": "v1", "kind": kind, "metadata": {"name": generator["name"]}}
        if secret:
            made["type"] = generator.get("type", "Opaque")
        resources.append(made)
        existing = made
    elif existing is None:
        raise Unsupported(f"{directory}: no {kind} {generator['name']} to {behavior}")
    field = "data"
    if secret:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if behavior == "replace":
        existing[field] = {}
    existing[field] = {**existing.get(field, {}), **data}


def _find(resources: Iterable[Resource], kind: str, name: str) -> Resource | None:
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    return None


def _patch(resources: list[Resource], directory: Path, entry: Mapping[str, Any]) -> None:
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown:
        raise Unsupported(f"{directory}: patch options {', '.join(sorted(unknown))} not supported")
    text = (directory / entry["path"]).read_text(encoding="utf-8") if "path" in entry else entry["patch"]
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    target = entry.get("target")
    if len(documents) == 1 and isinstance(documents[0], list):
        if target is None:
            raise Unsupported(f"{directory}: a JSON 6902 patch needs a target")
        for resource in _targets(resources, target):
            for operation in documents[0]:
                _json6902(resource, operation)
        return
    for document in documents:
        matched = (
            _targets(resources, target)
            if target is not None
            else _targets(resources, {"kind": document["kind"], "name": document["metadata"]["name"]})
        )
        if not matched:
            raise Unsupported(f"{directory}: a patch matched no resource")
        for resource in matched:
            merged = strategic_merge(resource, {k: v for k, v in document.items() if k != "metadata"})
            merged["metadata"] = strategic_merge(
                resource["metadata"],
                {k: v for k, v in document.get("metadata", {}).items() if k not in ("name", "namespace")},
            )
            resource.clear()
            resource.update(merged)


def _targets(resources: list[Resource], target: Mapping[str, Any]) -> list[Resource]:
    unknown = set(target) - {"kind", "name", "labelSelector", "group", "version"}
    if unknown:
        raise Unsupported(f"target fields {', '.join(sorted(unknown))} not supported")
    selected = []
    for resource in resources:
        if "kind" in target and resource["kind"] != target["kind"]:
            continue
        if "name" in target and not re.fullmatch(target["name"], resource["metadata"]["name"]):
            continue
        group, _, version = resource["apiVersion"].rpartition("/")
        if "group" in target and target["group"] != group:
            continue
        if "version" in target and target["version"] != version:
            continue
        if "labelSelector" in target and not _selected(resource, target["labelSelector"]):
            continue
        selected.append(resource)
    return selected


def _selected(resource: Resource, selector: str) -> bool:
    labels = resource["metadata"].get("labels", {})
    for requirement in selector.split(","):
        key, _, value = requirement.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def strategic_merge(original: Any, patch: Any, field: str = "") -> Any:
    """``patch`` merged into ``original``: maps key by key (``null`` deletes), the lists named in
    :data:`MERGE_KEYS` item by item on their key, anything else replaced."""
    if isinstance(original, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(original, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = copy.deepcopy(original)
        for item in patch:
            index = next((i for i, o in enumerate(merged_list) if o.get(key) == item.get(key)), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _json6902(resource: Resource, operation: Mapping[str, Any]) -> None:
    op = operation["op"]
    if op not in ("add", "replace", "remove"):
        raise Unsupported(f"JSON 6902 operation {op} not supported")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].split("/")[1:]]
    parent: Any = resource
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if isinstance(parent, list):
        if op == "remove":
            del parent[int(last)]
        elif op == "add":
            parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(operation["value"]))
        else:
            parent[int(last)] = copy.deepcopy(operation["value"])
        return
    if op == "remove":
        del parent[last]
    elif op == "replace" and last not in parent:
        raise Unsupported(f"JSON 6902 replace of a missing {operation['path']}")
    else:
        parent[last] = copy.deepcopy(operation["value"])


def _set_image(resource: Resource, image: Mapping[str, Any]) -> None:
    template = resource.get("spec", {}).get("template", {}).get("spec", {})
    for container in [*template.get("containers", []), *template.get("initContainers", [])]:
        name, tag, digest = split_image(container["image"])
        if name != image["name"]:
            continue
        name = image.get("newName", name)
        if "digest" in image:
            container["image"] = f"{name}@{image['digest']}"
        else:
            tag = image.get("newTag", tag)
            container["image"] = f"{name}:{tag}" if tag else name
            if digest and "newTag" not in image:
                container["image"] = f"{name}@{digest}"


def split_image(reference: str) -> tuple[str, str, str]:
    """``name:tag@digest`` as (name, tag, digest); a registry's port is not a tag."""
    reference, _, digest = reference.partition("@")
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :], digest
    return reference, "", digest


def render(resources: Iterable[Resource]) -> str:
    return yaml.safe_dump_all(list(resources), sort_keys=False, width=1000)
