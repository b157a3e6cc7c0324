#!/usr/bin/env python3
"""Checks the Julia binding against the C header, since no Julia runs here.

Every `ccall` in bindings/julia/src/Wlra.jl must name a function that
include/wlra.h declares, with the same return type and the same number and
types of arguments (C types mapped to the Julia types that pass them, see
`SCALARS`); every `@cfunction` must match a callback typedef of the header;
and every constant of Wlra.jl with a WLRA_ counterpart (the option, solver,
init, method, status and info tables included) must equal the header's value.

    python3 scripts/check-julia-abi.py [--self-test] [--julia Wlra.jl] [--header wlra.h]

Exits 0 when everything agrees, 1 with one line per disagreement otherwise.
--self-test also changes, one at a time and in memory, each type of each
ccall and each number of each checked constant, and fails unless the check
catches every such edit. Python 3 standard library only.
"""

import argparse
import os
import re
import sys

# C scalar type -> the Julia spellings that pass it in a ccall. `Int` and
# `UInt` are pointer-sized, so only size_t / ptrdiff_t take them.
SCALARS = {
    "double": {"Cdouble", "Float64"},
    "float": {"Cfloat", "Float32"},
    "int": {"Cint", "Int32"},
    "unsigned int": {"Cuint", "UInt32"},
    "int8_t": {"Int8"},
    "uint8_t": {"UInt8", "Cuchar"},
    "int16_t": {"Int16", "Cshort"},
    "uint16_t": {"UInt16", "Cushort"},
    "int32_t": {"Int32", "Cint"},
    "uint32_t": {"UInt32", "Cuint"},
    "int64_t": {"Int64", "Clonglong"},
    "uint64_t": {"UInt64", "Culonglong"},
    "size_t": {"Csize_t", "UInt"},
    "ptrdiff_t": {"Cptrdiff_t", "Int"},
    "char": {"Cchar", "UInt8", "Int8"},
    "bool": {"Bool"},
    "void": {"Cvoid", "Nothing"},
}

# Julia tables of named constants -> the header prefix of their entries.
# A Dict or NamedTuple maps each key to WLRA_<PREFIX><KEY>; a plain tuple of
# Symbols lists the codes 1, 2, ... in order.
TABLES = {
    "OPTIONS": "WLRA_OPTION_",
    "SOLVERS": "WLRA_SOLVER_",
    "INITS": "WLRA_INIT_",
    "METHODS": "WLRA_METHOD_",
    "OFFSETS": "WLRA_OFFSETS_",
    "RIDGE_SCALINGS": "WLRA_RIDGE_",
    "STATUS_NAMES": "WLRA_ERROR_",
    "INFO_ITEMS": "WLRA_INFO_",
    "OPTIONAL_INFO_ITEMS": "WLRA_INFO_",
}


# ---- the header ------------------------------------------------------------


class CType:
    """A C type as a ccall sees it: a base type and a pointer depth."""

    def __init__(self, base, depth, kind):
        self.base = base  # "double", "wlra_model", "wlra_progress_fn", ...
        self.depth = depth  # pointer depth: 0 for a value
        self.kind = kind  # "scalar", "opaque" (a struct) or "callback"

    def __str__(self):
        return self.base + " " + "*" * self.depth if self.depth else self.base


def strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_header(path):
    """(prototypes, callbacks, defines) of a cbindgen header.

    prototypes: name -> (return CType, [(CType, C text of the argument)]);
    callbacks: typedef name -> the same for a function-pointer typedef;
    defines: WLRA_ name -> integer value.
    """
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    defines = {m.group(1): int(m.group(2))
               for m in re.finditer(r"^#define\s+(WLRA_\w+)\s+(-?\d+)\s*$", raw, re.M)}
    text = re.sub(r"^\s*#[^\n]*", " ", strip_c_comments(raw), flags=re.M)
    text = text.replace('extern "C" {', " ")
    # Struct and enum bodies go: a struct is passed by pointer (Ptr{Cvoid}
    # or a Julia struct of the same name), an enum as a C int.
    text = re.sub(r"\{[^{}]*\}", " ", text)

    aliases = {}  # typedef name -> CType
    callbacks = {}
    for m in re.finditer(r"typedef\s+struct\s+(?:\w+\s+)?(\w+)\s*;", text):
        aliases[m.group(1)] = CType(m.group(1), 0, "opaque")
    for m in re.finditer(r"typedef\s+enum\s+(?:\w+\s+)?(\w+)\s*;", text):
        aliases[m.group(1)] = CType("int", 0, "scalar")
    fn_typedef = re.compile(r"typedef\s+([\w\s\*]+?)\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;")
    scalar_typedef = re.compile(r"typedef\s+([\w\s\*]+?)\s*\b(\w+)\s*;")
    for m in scalar_typedef.finditer(text):
        if not m.group(1).strip().startswith(("struct", "enum")):
            aliases[m.group(2)] = c_type(m.group(1), aliases)
    for m in fn_typedef.finditer(text):
        aliases[m.group(2)] = CType(m.group(2), 0, "callback")
        callbacks[m.group(2)] = (c_type(m.group(1), aliases), c_arguments(m.group(3), aliases))

    prototypes = {}
    body = fn_typedef.sub(" ", re.sub(r"typedef[^;]*;", " ", text))
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(wlra_\w+)\s*\(([^)]*)\)\s*;", body):
        prototypes[m.group(2)] = (c_type(m.group(1), aliases), c_arguments(m.group(3), aliases))
    return prototypes, callbacks, defines


def c_type(text, aliases):
    """The CType of a declaration's type part, e.g. `const double *`."""
    depth = text.count("*")
    words = [w for w in re.sub(r"\*", " ", text).split() if w not in ("const", "struct", "volatile")]
    base = " ".join(words)
    if base in aliases:
        alias = aliases[base]
        return CType(alias.base, alias.depth + depth, alias.kind)
    if re.search(r"\bstruct\b", text):  # `struct name *` without a typedef
        return CType(base, depth, "opaque")
    if base not in SCALARS:
        raise ValueError(f"the checker does not know the C type `{text.strip()}`; add it to SCALARS")
    return CType(base, depth, "scalar")


def c_arguments(text, aliases):
    """[(CType, argument text)] of a parameter list; `void` is empty."""
    text = text.strip()
    if text in ("", "void"):
        return []
    out = []
    for arg in text.split(","):
        arg = " ".join(arg.split())
        m = re.match(r"(.*?[\s\*])(\w+)$", arg)  # drop the parameter's name
        type_text = m.group(1) if m and m.group(2) not in SCALARS and m.group(2) not in aliases else arg
        out.append((c_type(type_text, aliases), arg))
    return out


# ---- the Julia source ------------------------------------------------------


def skip_string(text, i, quote):
    """Index just past the string whose contents start at text[i] and which
    ends with `quote`; `$(...)` interpolations may hold strings of their own."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith(quote, i):
            return i + len(quote)
        elif text.startswith("$(", i):
            i = skip_code(text, i + 2)
        else:
            i += 1
    return i


def skip_code(text, i):
    """Index just past the `)` closing an interpolation whose code starts at
    text[i]."""
    depth = 0
    while i < len(text):
        c = text[i]
        if text.startswith('"""', i):
            i = skip_string(text, i + 3, '"""')
            continue
        if c in "\"`":
            i = skip_string(text, i + 1, c)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                return i + 1
            depth -= 1
        i += 1
    return i


def blank_strings_and_comments(text):
    """The text with the contents of strings, chars and comments replaced by
    spaces (newlines kept), so that line numbers and offsets still hold."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if text.startswith("#=", i):
            j = text.find("=#", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif text[i] == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith('"""', i):
            j = skip_string(text, i + 3, '"""')
            blank(i + 3, j - 3)
            i = j
        elif text[i] in "\"`":
            j = skip_string(text, i + 1, text[i])
            blank(i + 1, j - 1)
            i = j
        elif text[i] == "'" and i > 0 and not (text[i - 1].isalnum() or text[i - 1] in "_)]}'"):
            # A Char literal ('a', '\\n'); an adjoint (A') follows a name or bracket.
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                blank(i + 1, i + m.end() - 1)
                i += m.end()
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def closing(text, start):
    """Index of the bracket closing the one at text[start]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    for i in range(start, len(text)):
        c = text[i]
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                raise ValueError(f"unbalanced `{c}` at offset {i}")
            if not stack:
                return i
    raise ValueError(f"unclosed `{text[start]}` at offset {start}")


def split_top(text):
    """Split at the commas outside brackets; empty pieces dropped."""
    parts, depth, last = [], 0, 0
    for i, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[last:i])
            last = i + 1
    parts.append(text[last:])
    return [p.strip() for p in parts if p.strip()]


def julia_calls(text, macro):
    """(line, [arguments]) of each `ccall(...)` or `@cfunction(...)`."""
    pattern = r"@cfunction\s*\(" if macro == "@cfunction" else r"(?<![\w@.])ccall\s*\("
    for m in re.finditer(pattern, text):
        open_at = m.end() - 1
        yield text.count("\n", 0, m.start()) + 1, split_top(text[open_at + 1:closing(text, open_at)])


def julia_type(text):
    """A Julia type expression as (name, [parameters]), e.g. Ptr{Float64}."""
    text = "".join(text.split())
    m = re.match(r"^([\w.]+)(\{(.*)\})?$", text)
    if not m:
        raise ValueError(f"cannot read the Julia type `{text}`")
    params = [julia_type(p) for p in split_top(m.group(3))] if m.group(2) else []
    return (m.group(1).removeprefix("Base.").removeprefix("Core."), params)


def show(jtype):
    name, params = jtype
    return name + ("{" + ", ".join(show(p) for p in params) + "}" if params else "")


def matches(ctype, jtype, returned=False):
    """Whether the Julia type passes (or receives) the C type in a ccall."""
    name, params = jtype
    if ctype.depth == 0:
        if ctype.kind == "callback":  # a function pointer: @cfunction's Ptr{Cvoid}
            return name == "Ptr" and len(params) == 1 and params[0] in (("Cvoid", []), ("Nothing", []))
        return not params and ctype.kind == "scalar" and name in SCALARS[ctype.base]
    if ctype.base == "char" and ctype.depth == 1 and jtype == ("Cstring", []):
        return True
    if name == "Ptr" or (name == "Ref" and not returned):
        if len(params) != 1:
            return False
        inner = CType(ctype.base, ctype.depth - 1, ctype.kind)
        if inner.depth == 0 and inner.kind == "opaque":  # a handle: Ptr{Cvoid}
            return params[0] in (("Cvoid", []), ("Nothing", []), (inner.base, []))
        if inner.depth == 0 and inner.base == "void":
            return params[0] in (("Cvoid", []), ("Nothing", []))
        return matches(inner, params[0])
    return False


def expected(ctype):
    """The Julia spellings of a C type, for messages."""
    if ctype.depth == 0:
        return "Ptr{Cvoid}" if ctype.kind == "callback" else " or ".join(sorted(SCALARS[ctype.base]))
    if ctype.base == "char" and ctype.depth == 1:
        return "Cstring or Ptr{UInt8}"
    inner = CType(ctype.base, ctype.depth - 1, ctype.kind)
    if inner.depth == 0 and (inner.kind == "opaque" or inner.base == "void"):
        return "Ptr{Cvoid}"
    first = expected(inner).split(" or ")[0]
    return f"Ptr{{{first}}} or Ref{{{first}}}"


def check_calls(text, jl_name, prototypes, callbacks):
    errors, checked = [], []
    for line, args in julia_calls(text, "ccall"):
        where = f"{jl_name}:{line}"
        if len(args) < 3:
            errors.append(f"{where}: ccall with {len(args)} arguments; the checker reads ccall(f, rettype, (argtypes...), args...)")
            continue
        names = re.findall(r":(wlra_\w+)", args[0])
        if len(names) != 1:
            errors.append(f"{where}: cannot tell which C function `{args[0]}` names; write sym(:wlra_...)")
            continue
        fname = names[0]
        if fname not in prototypes:
            errors.append(f"{where}: ccall of {fname}, which include/wlra.h does not declare")
            continue
        c_ret, c_args = prototypes[fname]
        try:
            j_ret = julia_type(args[1])
            m = re.fullmatch(r"\((.*)\)", "".join(args[2].split()))
            if not m:
                raise ValueError(f"argument types `{args[2]}` are not a tuple")
            j_args = [julia_type(a) for a in split_top(m.group(1))]
        except ValueError as e:
            errors.append(f"{where}: ccall of {fname}: {e}")
            continue
        checked.append(fname)
        if not matches(c_ret, j_ret, returned=True):
            errors.append(f"{where}: ccall of {fname} returns {show(j_ret)}; wlra.h returns {c_ret} ({expected(c_ret)})")
        if len(j_args) != len(c_args):
            errors.append(f"{where}: ccall of {fname} has {len(j_args)} argument types; wlra.h has {len(c_args)} arguments")
        for k, (j, (c, c_text)) in enumerate(zip(j_args, c_args), start=1):
            if not matches(c, j):
                errors.append(f"{where}: ccall of {fname}, argument {k} is {show(j)}; wlra.h has `{c_text}` ({expected(c)})")
        if len(args) - 3 != len(j_args):
            errors.append(f"{where}: ccall of {fname} declares {len(j_args)} argument types but passes {len(args) - 3} values")

    for line, args in julia_calls(text, "@cfunction"):
        where = f"{jl_name}:{line}"
        try:
            j_ret = julia_type(args[1])
            m = re.fullmatch(r"\((.*)\)", "".join(args[2].split()))
            j_args = [julia_type(a) for a in split_top(m.group(1))] if m else None
        except (ValueError, IndexError) as e:
            errors.append(f"{where}: cannot read @cfunction: {e}")
            continue
        fits = [name for name, (c_ret, c_args) in callbacks.items()
                if j_args is not None and matches(c_ret, j_ret, returned=True) and len(c_args) == len(j_args)
                and all(matches(c, j) for j, (c, _) in zip(j_args, c_args))]
        if not fits:
            wanted = "; ".join(f"{n}: {r} ({', '.join(t for _, t in a)})" for n, (r, a) in callbacks.items())
            errors.append(f"{where}: @cfunction({args[0]}, {show(j_ret)}, {args[2]}) matches no callback type of wlra.h ({wanted})")
        else:
            checked.append("@cfunction " + fits[0])
    if re.search(r"@ccall\b", text):
        errors.append(f"{jl_name}: uses @ccall, which this checker does not read; use ccall(sym(:name), ...)")
    return errors, checked


# ---- constants -------------------------------------------------------------


def julia_int(text):
    """The integer of `5`, `-1`, `Int32(101)`, else None."""
    m = re.fullmatch(r"(?:U?Int(?:8|16|32|64)?|Cint|Csize_t)?\(?\s*(-?\d+)\s*\)?", text.strip())
    return int(m.group(1)) if m else None


def julia_constants(text):
    """(line, name, value text) of each top-level `const NAME = value`."""
    for m in re.finditer(r"^const\s+(\w+)\s*=\s*", text, re.M):
        start = m.end()
        # The value runs to the end of its line, or of its brackets.
        i = start
        while i < len(text) and text[i] != "\n":
            if text[i] in "([{":
                i = closing(text, i)
            i += 1
        yield text.count("\n", 0, m.start()) + 1, m.group(1), text[start:i].strip()


def table_entries(value):
    """[(key, integer or None)] of a Dict(:k => v, ...), a NamedTuple
    (k = v, ...) or, numbered from 1, a tuple of Symbols (:a, :b, ...)."""
    m = re.fullmatch(r"(?:Dict(?:\{[^}]*\})?)?\((.*)\)", value, re.S)
    if not m:
        return None
    entries = []
    for k, item in enumerate(split_top(m.group(1)), start=1):
        pair = re.fullmatch(r":(\w+)\s*=>\s*(.+)", item, re.S) or re.fullmatch(r"(\w+)\s*=\s*(.+)", item, re.S)
        if pair:
            entries.append((pair.group(1), julia_int(pair.group(2))))
        elif re.fullmatch(r":\w+", item):
            entries.append((item[1:], k))
        else:
            return None
    return entries


def check_constants(text, jl_name, defines):
    errors, checked = [], 0
    for line, name, value in julia_constants(text):
        where = f"{jl_name}:{line}"
        if name in TABLES:
            entries = table_entries(value)
            if entries is None:
                errors.append(f"{where}: cannot read the table {name}; write a Dict(:key => value, ...), a NamedTuple or a tuple of Symbols")
                continue
            for key, number in entries:
                c_name = TABLES[name] + key.upper()
                if c_name not in defines:
                    errors.append(f"{where}: {name} has {key} = {number}; include/wlra.h has no {c_name}")
                elif number != defines[c_name]:
                    errors.append(f"{where}: {name} has {key} = {number}; include/wlra.h has {c_name} {defines[c_name]}")
                else:
                    checked += 1
            continue
        number = julia_int(value)
        c_name = "WLRA_" + name
        if number is not None and c_name in defines:
            if number != defines[c_name]:
                errors.append(f"{where}: {name} = {number}; include/wlra.h has {c_name} {defines[c_name]}")
            else:
                checked += 1
        elif number is None and re.match(r"(?:Dict|\(\s*:|\(\s*\w+\s*=)", value) and \
                any(c.startswith("WLRA_" + name.rstrip("S")) for c in defines):
            errors.append(f"{where}: {name} looks like a table of WLRA_ constants the checker does not know; add it to TABLES")
    return errors, checked


def not_covered(text, defines, prototypes, called):
    """What the header has and Wlra.jl does not use, for a note (not an
    error: a binding may leave things out): functions no ccall names, and
    the constants of each prefix Wlra.jl has a table for that no table or
    constant of it names."""
    named, prefixes = set(), set()
    for _line, name, value in julia_constants(text):
        if name in TABLES:
            prefixes.add(TABLES[name])
            named.update(TABLES[name] + key.upper() for key, _ in table_entries(value) or [])
        elif "WLRA_" + name in defines:
            named.add("WLRA_" + name)
    constants = sorted(c for c in defines if c not in named and any(c.startswith(p) for p in prefixes))
    return sorted(set(prototypes) - set(called)), constants


# ---- self-test -------------------------------------------------------------


def pieces(text, open_at):
    """(start, end) of each top-level comma-separated piece inside the
    bracket at text[open_at], surrounding blanks left out."""
    close = closing(text, open_at)
    spans, depth, last = [], 0, open_at + 1
    for i in range(open_at + 1, close + 1):
        c = text[i]
        if i == close or (c == "," and depth == 0):
            a, b = last, i
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if a < b:
                spans.append((a, b))
            last = i + 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
    return spans


def mutations(text, defines):
    """(what, mutated text) for every return and argument type of every ccall
    and @cfunction (each in turn replaced by a type no prototype of the
    header takes) and every number of a constant the check compares."""
    for m in re.finditer(r"(?<![\w@.])ccall\s*\(|@cfunction\s*\(", text):
        line = text.count("\n", 0, m.start()) + 1
        args = pieces(text, m.end() - 1)
        if len(args) < 3:
            continue
        types = [("return type", args[1])]
        tuple_at = args[2][0]
        if text[tuple_at] == "(":
            types += [(f"argument {k}", span) for k, span in enumerate(pieces(text, tuple_at), start=1)]
        for what, (a, b) in types:
            wrong = "Cdouble" if text[a:b] in ("Cfloat", "Float32") else "Cfloat"
            yield f"line {line}: {what} {text[a:b]} -> {wrong}", text[:a] + wrong + text[b:]
    for m in re.finditer(r"^const\s+(\w+)\s*=\s*", text, re.M):
        if m.group(1) not in TABLES and "WLRA_" + m.group(1) not in defines:
            continue
        line = text.count("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        if text[m.end()] in "([{" or re.match(r"Dict", text[m.end():]):
            bracket = text.index("(", m.end())
            end = closing(text, bracket)
        for n in re.finditer(r"(?<![\w.])-?\d+(?![\w.])", text[m.end():end]):
            a, b = m.end() + n.start(), m.end() + n.end()
            yield f"line {line}: {m.group(1)} {text[a:b]} -> {int(text[a:b]) + 1000}", \
                text[:a] + str(int(text[a:b]) + 1000) + text[b:]


def self_test(text, jl_name, prototypes, callbacks, defines):
    """Every mutation of `mutations` must make the check fail; returns the
    lines of those that did not (empty: the check catches them all)."""
    missed, count = [], 0
    for what, mutated in mutations(text, defines):
        errors = check_calls(mutated, jl_name, prototypes, callbacks)[0] + \
            check_constants(mutated, jl_name, defines)[0]
        count += 1
        if not errors:
            missed.append(f"{jl_name}: {what} passes the check")
    return count, missed


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--julia", default=os.path.join(repo, "bindings", "julia", "src", "Wlra.jl"))
    parser.add_argument("--header", default=os.path.join(repo, "include", "wlra.h"))
    parser.add_argument("--self-test", action="store_true",
                        help="also check that changing any one ccall type or constant number makes the check fail")
    args = parser.parse_args()

    try:
        prototypes, callbacks, defines = parse_header(args.header)
    except ValueError as e:
        print(f"check-julia-abi: cannot read {args.header}: {e}", file=sys.stderr)
        return 1
    with open(args.julia, encoding="utf-8") as f:
        text = blank_strings_and_comments(f.read())
    jl_name = os.path.relpath(args.julia, repo) if args.julia.startswith(repo) else args.julia
    call_errors, calls = check_calls(text, jl_name, prototypes, callbacks)
    const_errors, constants = check_constants(text, jl_name, defines)
    errors = call_errors + const_errors
    if args.self_test and not errors:
        count, missed = self_test(text, jl_name, prototypes, callbacks, defines)
        errors += missed
        if not missed:
            print(f"check-julia-abi: self-test: each of {count} one-change edits (a ccall type, "
                  f"a constant's number) makes the check fail")
    if not calls:
        errors.append(f"{jl_name}: no ccall found; is this the binding's source?")
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"check-julia-abi: {len(errors)} disagreement(s) between {jl_name} and {args.header}", file=sys.stderr)
        return 1
    print(f"check-julia-abi: {len(calls)} ccalls/@cfunctions ({len(set(calls))} distinct functions) and "
          f"{constants} constants of {jl_name} agree with {os.path.basename(args.header)}")
    functions, names = not_covered(text, defines, prototypes, calls)
    if functions:
        print(f"check-julia-abi: note: {jl_name} calls none of {', '.join(functions)}")
    if names:
        print(f"check-julia-abi: note: {jl_name} names none of {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
