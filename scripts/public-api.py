#!/usr/bin/env python3
"""The public Rust surface of wlra, from rustdoc's JSON (issue 26, acceptance 5).

    public-api.py WLRA_JSON                 print the surface, one item per line
    public-api.py WLRA_JSON --check LIST DOC
        exit 1 unless the surface equals LIST (docs/rust-api.txt) and every
        type, trait and function in it is named in DOC (docs/api.md), and
        every method as Type::method

An item is listed under every public path a user can write for it: the
modules reached from the crate root (hidden ones, `wlra::internals`, are
not in the JSON), their items, re-exports followed, and the public methods
of public types' inherent impls. Lines are "kind path".
"""
import json
import sys

KINDS = {
    "module": "mod",
    "struct": "struct",
    "enum": "enum",
    "trait": "trait",
    "function": "fn",
    "constant": "const",
    "static": "static",
    "type_alias": "type",
    "union": "union",
    "macro": "macro",
}


def surface(doc):
    index = doc["index"]
    lines = set()

    def methods(item, path):
        inner = next(iter(item["inner"].values()))
        for impl_id in inner.get("impls", []) if isinstance(inner, dict) else []:
            impl = index.get(str(impl_id))
            if impl is None or impl["inner"]["impl"].get("trait") is not None:
                continue
            for m_id in impl["inner"]["impl"]["items"]:
                m = index.get(str(m_id))
                if m and m["visibility"] == "public" and "function" in m["inner"]:
                    lines.add(f"method {path}::{m['name']}")

    def walk(module_id, path, seen):
        if module_id in seen:
            return
        seen = seen | {module_id}
        module = index[str(module_id)]
        for item_id in module["inner"]["module"]["items"]:
            item = index.get(str(item_id))
            if item is None:
                continue
            if "use" in item["inner"]:
                use = item["inner"]["use"]
                target = index.get(str(use["id"])) if use.get("id") is not None else None
                if target is None:
                    continue
                if use["is_glob"]:
                    walk(use["id"], path, seen) if "module" in target["inner"] else None
                    continue
                name, item = use["name"], target
            else:
                name = item["name"]
            kind = next(iter(item["inner"]))
            if kind not in KINDS or item["crate_id"] != 0:
                continue
            full = f"{path}::{name}"
            lines.add(f"{KINDS[kind]} {full}")
            if kind == "module":
                walk(item["id"], full, seen)
            elif kind in ("struct", "enum", "union"):
                methods(item, full)

    walk(doc["root"], "wlra", frozenset())
    return sorted(lines)


def main():
    doc = json.load(open(sys.argv[1]))
    lines = surface(doc)
    if len(sys.argv) == 2:
        print("\n".join(lines))
        return 0
    if len(sys.argv) != 5 or sys.argv[2] != "--check":
        print(__doc__, file=sys.stderr)
        return 2
    listed = [l for l in open(sys.argv[3]).read().splitlines() if l and not l.startswith("#")]
    failed = False
    added = sorted(set(lines) - set(listed))
    removed = sorted(set(listed) - set(lines))
    if added or removed:
        failed = True
        print(f"the public Rust surface differs from {sys.argv[3]}:")
        for l in added:
            print(f"  + {l}")
        for l in removed:
            print(f"  - {l}")
        print("If the change is meant, document it in docs/api.md and run "
              "`bash scripts/public-api.sh --bless`.")
    api = open(sys.argv[4]).read()
    undocumented = []
    for l in lines:
        kind, path = l.split(" ", 1)
        # A method is documented as Type::method, anything else by its name.
        name = "::".join(path.split("::")[-2:]) if kind == "method" else path.rsplit("::", 1)[1]
        if kind in ("struct", "enum", "trait", "fn", "method", "type") and name not in api:
            undocumented.append(l)
    if undocumented:
        failed = True
        print(f"public items {sys.argv[4]} does not name:")
        for l in undocumented:
            print(f"  {l}")
    if not failed:
        print(f"public Rust surface: {len(lines)} items, as {sys.argv[3]} lists "
              f"and {sys.argv[4]} documents")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
