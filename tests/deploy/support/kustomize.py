"""The part of `kustomize build` that deploy/k8s uses, in Python, so the tests can render the
manifests without kustomize or kubectl (PyPI has no kustomize).

Supported: `resources` (files and directories with their own kustomization), `namespace`,
`nameSuffix` (appended to the names of the kustomization's own resources; nothing else in
deploy/k8s refers to a suffixed resource by name, so no reference needs rewriting) and `images`
(newName / newTag / digest). Any other field is refused: a patch or generator added to
deploy/k8s must come with its support here, or the tests would check manifests that
`kubectl apply -k` never sees. Resources come out in the order they are declared (kustomize
sorts by kind; nothing here depends on order). When written, it rendered deploy/k8s (base and
overlays/local) to exactly the resources `kubectl kustomize` (kustomize v5.5.0) emits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "nameSuffix", "images"}
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Kinds without a namespace among those kustomize knows; the namespace transformer skips them.
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


class UnsupportedKustomization(Exception):
    pass


def build(directory: Path) -> list[Resource]:
    """The resources `kustomize build directory` emits."""
    kustomization = _load_kustomization(directory)
    resources: list[Resource] = []
    for entry in kustomization.get("resources") or []:
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(build(path))
        elif path.is_file():
            resources.extend(d for d in yaml.safe_load_all(path.read_text()) if d is not None)
        else:
            raise FileNotFoundError(f"{directory}: resource {entry} does not exist")
    suffix = kustomization.get("nameSuffix")
    if suffix:
        for resource in resources:
            resource["metadata"]["name"] += suffix
    for image in kustomization.get("images") or []:
        for resource in resources:
            _set_image(resource, image)
    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource.get("kind") not in CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = namespace
    _refuse_duplicates(directory, resources)
    return resources


def resource_id(resource: Resource) -> tuple[str, str, str]:
    metadata = resource.get("metadata") or {}
    return resource["kind"], metadata.get("namespace", ""), metadata["name"]


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    """The pod template's spec of a workload (or a Pod's own spec); None for other kinds."""
    spec = resource.get("spec") or {}
    kind = resource.get("kind")
    if kind == "Pod":
        return dict(spec)
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template")
    found: dict[str, Any] | None = template.get("spec") if isinstance(template, dict) else None
    return found


def containers(resource: Resource) -> list[dict[str, Any]]:
    spec = pod_spec(resource) or {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _load_kustomization(directory: Path) -> dict[str, Any]:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            loaded = yaml.safe_load((directory / name).read_text())
            break
    else:
        raise FileNotFoundError(f"{directory} has no kustomization.yaml")
    unsupported = sorted(set(loaded) - SUPPORTED)
    if unsupported:
        raise UnsupportedKustomization(
            f"{directory}: {unsupported} are not modelled by tests/deploy/kustomize.py; "
            "add their semantics there before using them"
        )
    result: dict[str, Any] = loaded
    return result


def _image_name(image: str) -> str:
    """`registry:5000/org/name:tag@sha256:...` -> `registry:5000/org/name`."""
    without_digest = image.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    if ":" in last:
        return without_digest[: -(len(last) - last.index(":"))]
    return without_digest


def _set_image(resource: Resource, image: dict[str, str]) -> None:
    for container in containers(resource):
        if _image_name(container.get("image", "")) != image["name"]:
            continue
        current = container["image"]
        name = image.get("newName", image["name"])
        if "digest" in image:
            container["image"] = f"{name}@{image['digest']}"
        elif "newTag" in image:
            container["image"] = f"{name}:{image['newTag']}"
        else:  # only a new name: the reference keeps its tag or digest
            container["image"] = name + current[len(_image_name(current)) :]


def _refuse_duplicates(directory: Path, resources: list[Resource]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for resource in resources:
        key = resource_id(resource)
        if key in seen:
            raise ValueError(f"{directory}: {key} is declared twice (kustomize refuses that)")
        seen.add(key)
