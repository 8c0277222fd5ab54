"""The firmware's C headers, read from Python: one source of truth for the facts both sides use.

* :func:`cdef` builds cffi declarations from the headers themselves (structs, prototypes, extern
  variables and integer macros picked by name), so that the bindings (rnnse.native,
  rnnse.stream.capi) never carry a hand copy of a C declaration;
* :func:`constants` and :func:`enum_of` read integer ``#define``\\ s and ``enum`` members; the Python
  modules that keep named constants of their own (rnnse.export, rnnse.stream.protocol, ...) are held
  to them by tests/test_c_python_facts.py.

A deliberately small reader for the plain C99 of firmware/: comments, preprocessor lines and
``extern "C"`` guards are dropped, ``static inline`` definitions skipped, ``__attribute__`` removed
and array sizes written with macros evaluated. It reads headers from the checkout, as the builds do.
"""
from __future__ import annotations

import ast
import functools
import operator
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_NUMBER = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
        ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
        ast.BitAnd: operator.and_, ast.BitXor: operator.xor, ast.USub: operator.neg, ast.UAdd: operator.pos,
        ast.Invert: operator.invert}


class HeaderError(ValueError):
    """A name asked for is not declared where it was looked for, or cannot be read."""


def _path(path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


@functools.lru_cache(maxsize=None)
def _read(path: str) -> tuple[str, float]:
    with open(path) as f:
        return f.read(), os.path.getmtime(path)


def _text(path: str) -> str:
    path = _path(path)
    try:
        text, mtime = _read(path)
        if os.path.getmtime(path) != mtime:
            _read.cache_clear()
            text, _ = _read(path)
    except OSError as exc:
        raise HeaderError(f"cannot read {path}: {exc.strerror}") from None
    text = re.sub(r"/\*.*?\*/", lambda m: " " if "\n" not in m.group(0) else "\n" * m.group(0).count("\n"),
                  text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return text.replace("\\\n", " ")


def _evaluate(expr: str, known: dict) -> int | None:
    """Integer value of a C constant expression over known names, or None."""
    expr = re.sub(r"\(\s*(?:unsigned|signed|int|long|u?int\d+_t|size_t)\s*\)", "", expr.strip())
    expr = _NUMBER.sub(lambda m: str(int(m.group(1), 0)), expr).replace("/", "//")
    if not expr:
        return None
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in known:
            return known[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        raise ValueError
    try:
        return ev(tree)
    except (ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def _enum_blocks(text: str) -> list[str]:
    return re.findall(r"\benum\s*\w*\s*\{(.*?)\}", text, flags=re.S)


def constants(*paths: str) -> dict:
    """{name: int} of the integer ``#define``\\ s and enum members of the files, in order (a name may
    use the ones before it, also from earlier files)."""
    known: dict = {}
    for path in paths:
        text = _text(path)
        items = []
        for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+([^\n]+)$", text, flags=re.M):
            items.append((m.start(), "define", m.group(1), m.group(2)))
        for m in re.finditer(r"\benum\s*\w*\s*\{(.*?)\}", text, flags=re.S):
            items.append((m.start(), "enum", None, m.group(1)))
        for _, kind, name, body in sorted(items, key=lambda t: t[0]):
            if kind == "define":
                v = _evaluate(body, known)
                if v is not None:
                    known[name] = v
                continue
            nxt = 0
            for member in body.split(","):
                member = member.strip()
                if not member:
                    continue
                n, _, e = member.partition("=")
                v = _evaluate(e, known) if e else nxt
                if v is None:
                    raise HeaderError(f"{path}: cannot evaluate enum member {member!r}")
                known[n.strip()] = v
                nxt = v + 1
    return known


def enum_of(path: str, member: str) -> dict:
    """{name: value} of the enum of ``path`` that has the member ``member`` (e.g. every layer kind
    from "RNNSE_FC")."""
    text = _text(path)
    for body in _enum_blocks(text):
        names = [m.split("=")[0].strip() for m in body.split(",") if m.strip()]
        if member in names:
            values = constants(path)
            return {n: values[n] for n in names}
    raise HeaderError(f"{path}: no enum with the member {member}")


def _statements(text: str) -> list[str]:
    """Top-level declarations of a C file (preprocessor lines and function bodies removed)."""
    text = re.sub(r"#\s*ifdef\s+__cplusplus.*?#\s*endif", "", text, flags=re.S)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    out, cur, depth = [], [], 0
    for ch in text:
        cur.append(ch)
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                s = "".join(cur).strip()
                head = s.split("{", 1)[0]
                if "(" in head and not re.match(r"(typedef|struct|enum|union)\b", head.strip()):
                    cur = []            # a function definition: skipped
        elif ch == ";" and depth == 0:
            s = " ".join("".join(cur).split())
            if s != ";":
                out.append(s)
            cur = []
    return out


def _strip_attributes(s: str) -> str:
    while True:
        i = s.find("__attribute__")
        if i < 0:
            return s
        j = s.index("(", i)
        depth = 0
        for k in range(j, len(s)):
            depth += {"(": 1, ")": -1}.get(s[k], 0)
            if depth == 0:
                break
        s = s[:i] + s[k + 1:]


def _declared_name(s: str) -> str | None:
    body = re.sub(r"\{.*\}", "{}", s, flags=re.S)
    if body.startswith("typedef"):
        m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*;$", body)
        return m.group(1) if m else None
    if "(" in body:
        m = re.search(r"(\w+)\s*\(", body)
        return m.group(1) if m else None
    m = re.match(r"(struct|union)\s+(\w+)\s*;$", body)
    if m:
        return f"{m.group(1)} {m.group(2)}"
    m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*;$", body)
    return m.group(1) if m else None


def declarations(path: str) -> dict:
    """{declared name: declaration} of the top-level declarations of a C file."""
    out = {}
    for s in _statements(_text(path)):
        if re.match(r"(static|enum)\b", s):
            continue
        name = _declared_name(s)
        if name:
            out[name] = _strip_attributes(s)
    return out


def cdef(spec, opaque=(), defines=()) -> str:
    """cffi declarations: ``spec`` is a sequence of (file, [names]) taken from the files in that
    order; the types in ``opaque`` (typedef names) are declared without their fields; ``defines``
    (name or (file, name)) become integer ``#define``\\ s. Array sizes written with macros are
    evaluated against the constants of every file named."""
    files = [f for f, _ in spec] + [d[0] for d in defines if not isinstance(d, str)]
    known = constants(*files)
    lines = []
    for d in defines:
        name = d if isinstance(d, str) else d[1]
        if name not in known:
            raise HeaderError(f"no integer macro {name} in {', '.join(files)}")
        lines.append(f"#define {name} {known[name]}")
    for path, names in spec:
        decls = declarations(path)
        for name in names:
            if name not in decls:
                raise HeaderError(f"{path} declares no {name}")
            s = decls[name]
            if name in opaque:
                m = re.match(r"typedef\s+(struct\s+\w+)", s)
                if not m:
                    raise HeaderError(f"{path}: {name} is not a typedef of a named struct")
                s = f"typedef {m.group(1)} {name};"
            s = re.sub(r"\[([^\]]+)\]", lambda m: _array_size(m.group(1), known, path, name), s)
            lines.append(s)
    return "\n".join(lines) + "\n"


def _array_size(expr: str, known: dict, path: str, name: str) -> str:
    v = _evaluate(expr, known)
    if v is None:
        raise HeaderError(f"{path}: {name}: cannot evaluate the array size [{expr}]")
    return f"[{v}]"
