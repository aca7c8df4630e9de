"""OpenAPI links derived from the routes, so a client (and the stateful API tests) can follow an id
from the answer that gives it to the operations that take it.

One rule set, applied to the whole document, so new routes get their links without a list to keep:
an operation whose success answer carries an id — ``id``, ``summary.id`` (the case views),
``items[0].id`` or ``[0].id`` (the first of a list; runtime expressions have no wildcard) — at a path ending in a collection (``/consults``,
``/consults/{consult_id}/messages``, ``/network/organisations``) links to

1. every operation under that collection's item path (``/consults/{consult_id}/claim``), whatever
   the path parameter is called;
2. every other operation with a path parameter named after the collection (``practitioner_id``
   for ``/practitioners``, ``consortium_id`` for ``/consortia``) whose other path parameters the
   source has too (a referral's message is not a consultation's);
3. every operation whose JSON body has a top-level field named so (``patient_id`` of a new
   consultation, referral or examination).

Path parameters the target shares with the source are passed on from the source's request.
"""

from __future__ import annotations

from typing import Any

_IRREGULAR = {"consortia": "consortium"}
_SUCCESS = ("200", "201", "202")


def _resolve(schema: dict[str, Any], node: Any) -> dict[str, Any]:
    """The object ``node`` stands for, through ``$ref`` and a nullable ``anyOf``."""
    for _ in range(8):
        if not isinstance(node, dict):
            return {}
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = schema.get("components", {}).get("schemas", {}).get(name, {})
        elif "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            node = options[0] if len(options) == 1 else {}
        else:
            return node
    return {}


def _has_id(schema: dict[str, Any], node: Any) -> bool:
    return "id" in _resolve(schema, node).get("properties", {})


def id_pointer(schema: dict[str, Any], body: Any) -> str | None:
    """Where the id of what an answer describes (or lists) is, as a JSON pointer."""
    node = _resolve(schema, body)
    props = node.get("properties", {})
    if "id" in props:
        return "/id"
    if "summary" in props and _has_id(schema, props["summary"]):
        return "/summary/id"
    items = _resolve(schema, props.get("items"))
    if items.get("type") == "array" and _has_id(schema, items.get("items")):
        return "/items/0/id"
    if node.get("type") == "array" and _has_id(schema, node.get("items")):
        return "/0/id"
    return None


def _id_name(segment: str) -> str | None:
    """``consults`` -> ``consult_id``; None for a segment that is not a collection of things."""
    if segment in _IRREGULAR:
        return _IRREGULAR[segment] + "_id"
    if segment.endswith("s") and segment[:-1].replace("-", "").isalpha():
        return segment[:-1].replace("-", "_") + "_id"
    return None


def _path_params(path: str) -> list[str]:
    return [s[1:-1] for s in path.split("/") if s.startswith("{") and s.endswith("}")]


def _json_body_fields(schema: dict[str, Any], op: dict[str, Any]) -> set[str]:
    content = op.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    return set(_resolve(schema, body).get("properties", {})) if body else set()


def add_links(schema: dict[str, Any]) -> int:
    """Add the links to ``schema`` in place; returns how many were added."""
    operations = [(path, method, op) for path, item in schema.get("paths", {}).items()
                  for method, op in item.items() if isinstance(op, dict) and op.get("operationId")]
    added = 0
    for path, method, op in operations:
        collection = path.rstrip("/").rsplit("/", 1)[-1]
        if collection.startswith("{") or "." in collection:
            continue
        name = _id_name(collection)
        source_params = set(_path_params(path))
        for status, answer in op.get("responses", {}).items():
            if str(status) not in _SUCCESS:
                continue
            body = answer.get("content", {}).get("application/json", {}).get("schema")
            pointer = id_pointer(schema, body) if body else None
            if pointer is None:
                continue
            value = f"$response.body#{pointer}"
            links = answer.setdefault("links", {})
            for t_path, t_method, t_op in operations:
                if (t_path, t_method) == (path, method):
                    continue
                t_params = _path_params(t_path)
                parameters: dict[str, str] = {}
                request_body: dict[str, str] | None = None
                rest = t_path[len(path):]
                if rest.startswith("/{") and t_path.startswith(path):
                    parameters[f"path.{rest[2:rest.index('}')]}"] = value  # rule 1
                elif name and name in t_params and set(t_params) - {name} <= source_params:
                    parameters[f"path.{name}"] = value  # rule 2
                elif name and name in _json_body_fields(schema, t_op):
                    request_body = {name: value}  # rule 3
                else:
                    continue
                for shared in source_params & set(t_params):
                    parameters.setdefault(f"path.{shared}", f"$request.path.{shared}")
                link: dict[str, Any] = {"operationId": t_op["operationId"]}
                if parameters:
                    link["parameters"] = parameters
                if request_body:
                    link["requestBody"] = request_body
                links[t_op["operationId"]] = link
                added += 1
            if not links:
                del answer["links"]
    return added
