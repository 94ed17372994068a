#!/usr/bin/env python3
"""Writes Generated/TypeNames.g.cs: every public top-level type of the UnityEngine and UnityEditor
namespaces in Unity's C# reference source, declared empty, so the package check meets every name
Unity has (a clash such as UnityEditor.Progress against the protocol's Progress fails the build).

Usage (from the repository root):
    git -C <UnityCsReference git dir> archive 2021.3.58f1 | tar -x -C /tmp/ucs
    python3 UnityBridge/UnityStandIn/generate_type_names.py /tmp/ucs 2021.3.58f1

Types the hand-written stand-in files (UnityEngine.cs, UnityEditor.cs) declare are left out: those
carry the members the package calls. The parser is a small tokenizer that knows comments, strings,
attributes, namespaces and type headers; it reads both branches of #if, which is what a name list
wants (a type that exists under any define is a name the package must not clash with).
"""
import os
import re
import sys

NAMESPACES = ("UnityEngine", "UnityEditor")
HERE = os.path.dirname(os.path.abspath(__file__))
HAND_WRITTEN = ("UnityEngine.cs", "UnityEditor.cs")
TYPE_KEYWORDS = {"class", "struct", "interface", "enum"}
MODIFIERS = {"public", "internal", "private", "protected", "static", "sealed", "abstract", "partial",
             "unsafe", "readonly", "ref", "new", "extern"}

TOKEN = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*|[{}\[\]();<>,=:.?*&]|\S")


def strip(text):
    """Removes comments, string and character literals and preprocessor lines."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        line_start = False
        if c == "\n":
            line_start = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif c == '"' or (c in "@$" and i + 1 < n and text[i + 1] in '"@$'):
            verbatim = False
            while i < n and text[i] in "@$":
                verbatim = verbatim or text[i] == "@"
                i += 1
            i += 1  # opening quote
            while i < n:
                if verbatim and text[i] == '"' and i + 1 < n and text[i + 1] == '"':
                    i += 2
                elif not verbatim and text[i] == "\\":
                    i += 2
                elif text[i] == '"':
                    i += 1
                    break
                else:
                    i += 1
            out.append('""')
        elif c == "'":
            i += 1
            while i < n and text[i] != "'":
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def arity(tokens, i):
    """Counts the type parameters of a list starting at tokens[i] == '<'; returns (arity, index after)."""
    depth, count = 0, 1
    while i < len(tokens):
        t = tokens[i]
        if t == "<":
            depth += 1
        elif t == ">":
            depth -= 1
            if depth == 0:
                return count, i + 1
        elif t == "," and depth == 1:
            count += 1
        i += 1
    return count, i


def declarations(text):
    """Yields (namespace, kind, name, arity, modifiers) for each top-level type of a C# file."""
    tokens = TOKEN.findall(strip(text))
    scopes = []  # ("ns", name) | ("type", None) | ("other", None)
    header = []  # identifiers since the last statement boundary, at namespace level
    i = 0
    while i < len(tokens):
        t = tokens[i]
        at_namespace_level = all(kind == "ns" for kind, _ in scopes)
        if t == "{":
            scopes.append(("other", None))
            header = []
        elif t == "}":
            if scopes:
                scopes.pop()
            header = []
        elif not at_namespace_level:
            pass
        elif t == ";":
            header = []
        elif t == "[":
            depth = 0
            while i < len(tokens):
                depth += tokens[i] == "["
                depth -= tokens[i] == "]"
                if depth == 0:
                    break
                i += 1
            header = []
        elif t == "namespace":
            name = []
            i += 1
            while i < len(tokens) and tokens[i] not in ("{", ";"):
                name.append(tokens[i])
                i += 1
            if i < len(tokens) and tokens[i] == "{":
                scopes.append(("ns", "".join(name)))
            header = []
        elif t in TYPE_KEYWORDS or t == "delegate":
            namespace = ".".join(name for kind, name in scopes)
            modifiers = set(header) & MODIFIERS
            if t == "delegate":
                j = i + 1
                while j < len(tokens) and tokens[j] != "(":
                    j += 1
                k = j - 1
                n_args = 0
                if tokens[k] == ">":
                    depth = 0
                    while k > i:
                        depth += tokens[k] == ">"
                        depth -= tokens[k] == "<"
                        if depth == 0:
                            break
                        k -= 1
                    n_args, _ = arity(tokens, k)
                    k -= 1
                yield namespace, "delegate", tokens[k], n_args, modifiers
                while j < len(tokens) and tokens[j] != ";":
                    j += 1
                i = j
            else:
                name = tokens[i + 1]
                n_args = 0
                if i + 2 < len(tokens) and tokens[i + 2] == "<":
                    n_args, _ = arity(tokens, i + 2)
                yield namespace, t, name, n_args, modifiers
                j = i + 2
                while j < len(tokens) and tokens[j] not in ("{", ";"):
                    j += 1
                if j < len(tokens) and tokens[j] == "{":
                    scopes.append(("type", None))
                i = j
            header = []
        else:
            header.append(t)
        i += 1


def hand_written():
    names = set()
    for file in HAND_WRITTEN:
        with open(os.path.join(HERE, file), encoding="utf-8") as f:
            for namespace, _, name, n_args, _ in declarations(f.read()):
                names.add((namespace, name, n_args))
    return names


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: generate_type_names.py <UnityCsReference checkout> <tag it is at>")
    root, tag = sys.argv[1], sys.argv[2]
    skip = hand_written()
    found = {}
    for folder, _, files in os.walk(root):
        for file in sorted(files):
            if not file.endswith(".cs"):
                continue
            with open(os.path.join(folder, file), encoding="utf-8-sig", errors="replace") as f:
                text = f.read()
            for namespace, kind, name, n_args, modifiers in declarations(text):
                if namespace not in NAMESPACES or "public" not in modifiers:
                    continue
                key = (namespace, name, n_args)
                if key in skip:
                    continue
                previous = found.get(key)
                static = "static" in modifiers or (previous is not None and previous[1])
                found[key] = (kind if previous is None else previous[0], static)
    write(tag, found)


def write(tag, found):
    path = os.path.join(HERE, "Generated", "TypeNames.g.cs")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = [
        "// <auto-generated>",
        f"// STAND-IN, NOT UNITY. Written by UnityBridge/UnityStandIn/generate_type_names.py from",
        f"// Unity-Technologies/UnityCsReference at tag {tag}: every public top-level type of the",
        "// UnityEngine and UnityEditor namespaces, declared empty (names and generic arity only), less",
        "// those UnityEngine.cs and UnityEditor.cs declare with members. Regenerate, do not edit.",
        "// </auto-generated>",
        "#pragma warning disable",
    ]
    for namespace in NAMESPACES:
        lines.append("")
        lines.append(f"namespace {namespace}")
        lines.append("{")
        for (ns, name, n_args), (kind, static) in sorted(found.items(), key=lambda e: (e[0][1], e[0][2])):
            if ns != namespace:
                continue
            params = ""
            if n_args:
                params = "<" + ", ".join(f"T{k}" for k in range(1, n_args + 1)) + ">"
            if kind == "delegate":
                lines.append(f"    public delegate void {name}{params}();")
            elif kind == "class" and static:
                lines.append(f"    public static class {name}{params} {{ }}")
            else:
                lines.append(f"    public {kind} {name}{params} {{ }}")
        lines.append("}")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {sum(1 for k in found if k[0] == NAMESPACES[0])} UnityEngine and "
          f"{sum(1 for k in found if k[0] == NAMESPACES[1])} UnityEditor types")


if __name__ == "__main__":
    main()
