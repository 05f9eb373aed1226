#!/usr/bin/python3
"""The header contract, checked.

Every public function (a CIO_API declaration in include/cio/*.h) must have a
comment, and the comment must say whether it suspends ("Suspends: no", or
"Suspends: yes" / anything but "no" or "never"). Every one that can suspend
must also say what cancellation does ("Cancellation: ..."). A function can
suspend when its comment says so, or when the call graph over src/ says so:
its definition calls a suspending primitive (cio__park, the scheduler's
suspend), directly or through other functions. A comment that says
"Suspends: no" while the call graph reaches a primitive is a contradiction.
Names in header comments (cio_xxx) must exist, and one written as a call
(cio_xxx( or "calls cio_xxx") must be a function.

    check-contract.py [SOURCE_DIR]            check; exit 1 naming file:line
    check-contract.py --list [SOURCE_DIR]     also list the suspending functions
    check-contract.py --count [SOURCE_DIR]    print the contract count only
    check-contract.py --self-test [SOURCE_DIR] plant one defect of each kind in
                                              a copy and expect each reported

The call graph is coarse on purpose: a call through a struct member
(s->vt->recv(...)) is taken to reach every function stored in a member of
that name anywhere in src/ (.recv = plain_recv), other function pointers are
not followed (a handler, a task's body), and a function that only suspends on a
path that cannot run (a constructor closing its half-built object on failure,
a send told not to wait) is listed in NOT_SUSPENDING below with the reason;
an entry that no longer applies is reported too.
"""
import os
import re
import sys

# Primitives every suspension goes through (src/core/loop.c).
# cio__suspend and cio__park_inline are the inline forms in src/core/internal.h.
ROOTS = {("src/core/loop.c", "suspend"), (None, "cio__park"), (None, "cio__park_inline"),
         (None, "cio__suspend")}

# Public functions the call graph says can suspend but which never do when
# called as documented. Each entry says why; keep it short.
NOT_SUSPENDING = {
    "cio_http_session_new": "closes its half-built session on failure: no pool "
                            "connection exists yet, so nothing waits",
    "cio_http_req_hijack": "reads only the bytes already buffered "
                           "(cio_stream_read_buffered), which never waits",
    "cio_start_unix_server": "start_acceptors joins the acceptors started before one that "
                             "failed to start; a Unix server has one socket, so none",
    "cio_ws_send_nowait": "send_msg(..., wait=0): wait_room returns -EAGAIN instead of waiting",
    "cio_ws_broadcast": "passes a shared payload, so queue_data only queues (no direct write)",
}

KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "do", "else", "case",
    "defined", "__attribute__", "__typeof__", "typeof", "_Alignof", "alignof",
    "_Static_assert", "offsetof", "va_arg", "__builtin_expect",
}

IDENT_CALL = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\s*\(")
# A call through a struct member (a vtable entry): s->vt->recv(...).
MEMBER_CALL = re.compile(r"(?:->|\.)\s*([A-Za-z_]\w*)\s*\(")
# A function stored in a member: .recv = plain_recv, or x->recv = plain_recv.
MEMBER_SET = re.compile(r"(?:->|\.)\s*([A-Za-z_]\w*)\s*=\s*&?([A-Za-z_]\w*)\s*[,;}\n]")


def strip_comments_and_strings(text):
    """Blanks comments, string and char literals, keeping newlines (lines stay)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_directives(text):
    """Returns (code without preprocessor lines, {macro: body})."""
    macros = {}
    lines = text.split("\n")
    code = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("#"):
            whole = [line]
            while whole[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                whole.append(lines[i])
            m = re.match(r"\s*#\s*define\s+(\w+)\(", whole[0])
            if m:
                macros[m.group(1)] = "\n".join(whole)[m.end():]
            code.extend([""] * len(whole))
        else:
            code.append(line)
        i += 1
    return "\n".join(code), macros


PARSE_ERRORS = []


def definitions(path, rel):
    """Yields (name, is_static, body) for each function defined in the file."""
    with open(path, encoding="utf-8") as f:
        text = strip_comments_and_strings(f.read())
    code, macros = split_directives(text)
    if code.count("{") != code.count("}"):
        # both branches of an #if opening a brace: the graph would be wrong
        PARSE_ERRORS.append("%s: braces do not balance once preprocessor lines are "
                            "dropped; the call graph cannot read it" % rel)
        return
    for name, body in macros.items():
        yield name, False, body
    depth = 0
    start = 0  # where the current top-level item began
    i = 0
    while i < len(code):
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[start:i]
                m = re.search(r"([A-Za-z_]\w*)\s*\(([^;{}]*)\)\s*(__attribute__\s*\(\(.*\)\)\s*)?$",
                              head, re.S)
                is_fn = m and "=" not in head and not re.search(r"\b(struct|union|enum)\s*\w*\s*$",
                                                                head)
                body_start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if is_fn and m.group(1) not in KEYWORDS:
                    yield m.group(1), bool(re.search(r"\bstatic\b", head)), code[body_start:i + 1]
                start = i + 1
        elif c == ";" and depth == 0:
            start = i + 1
        i += 1


def call_graph(src_dir):
    """Returns (defs, edges): defs maps (file or None, name) -> True; edges maps
    a node to the set of nodes it calls. Static functions are (file, name),
    the others (None, name)."""
    raw = []  # (rel, name, static, body)
    members = {}  # member name -> {(rel, function)} stored in it
    texts = {}
    for dirpath, _, files in sorted(os.walk(os.path.join(src_dir, "src"))):
        for fn in sorted(files):
            if fn.endswith((".c", ".h")):
                path = os.path.join(dirpath, fn)
                rel = os.path.relpath(path, src_dir)
                with open(path, encoding="utf-8") as f:
                    texts[rel] = strip_comments_and_strings(f.read())
                for name, static, body in definitions(path, rel):
                    # a static inline in an internal header is everyone's
                    raw.append((rel, name, static and fn.endswith(".c"), body))
    local = {(rel, name) for rel, name, static, _ in raw if static}
    glob = {name for _, name, static, _ in raw if not static}
    for rel, text in texts.items():
        for member, fn in MEMBER_SET.findall(text):
            if (rel, fn) in local:
                members.setdefault(member, set()).add((rel, fn))
            elif fn in glob:
                members.setdefault(member, set()).add((None, fn))
    edges = {}
    for rel, name, static, body in raw:
        node = (rel, name) if static else (None, name)
        callees = edges.setdefault(node, set())
        for call in IDENT_CALL.findall(body):
            if call in KEYWORDS or call == name:
                continue
            if (rel, call) in local:
                callees.add((rel, call))
            elif call in glob or (None, call) in ROOTS:
                # a root counts even where its definition does not parse
                # (an always_inline static in an internal header)
                callees.add((None, call))
        for member in MEMBER_CALL.findall(body):
            callees.update(members.get(member, ()))
    return edges


def suspending_nodes(edges):
    """The nodes from which a root is reachable, with one path each."""
    callers = {}
    for node, callees in edges.items():
        for c in callees:
            callers.setdefault(c, set()).add(node)
    path = {r: [r[1]] for r in ROOTS}
    todo = list(ROOTS)
    while todo:
        n = todo.pop()
        for caller in sorted(callers.get(n, ()), key=lambda x: (x[0] or "", x[1])):
            if caller not in path:
                path[caller] = [caller[1]] + path[n]
                todo.append(caller)
    return path


def header_functions(src_dir):
    """Yields dicts: file, line, name, comment (or None) for every CIO_API
    declaration. Declarations written one after another share the comment
    above the first."""
    inc = os.path.join(src_dir, "include", "cio")
    for fn in sorted(os.listdir(inc)):
        if not fn.endswith(".h"):
            continue
        path = os.path.join(inc, fn)
        rel = os.path.relpath(path, src_dir)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        decl_start = {}  # line index of a declaration's end -> its start
        i = 0
        while i < len(lines):
            if re.match(r"\s*CIO_API\b", lines[i]) and "define" not in lines[i]:
                j = i
                while ";" not in lines[j] and "{" not in lines[j]:
                    j += 1
                decl = " ".join(lines[i:j + 1])
                # the name: the first identifier before a "(" that is not an
                # attribute or an all-capitals macro (CIO_PRINTF(2, 3))
                m = re.search(r"\b(?!__attribute__\b)(?![A-Z0-9_]+\b)([A-Za-z_]\w*)\s*\(", decl)
                if not m:  # a variable (CIO_API extern int ...)
                    i = j + 1
                    continue
                # the group's first declaration: walk back over declarations
                first = i
                while True:
                    if first - 1 in decl_start:
                        first = decl_start[first - 1]
                    elif first > 0 and re.match(r"\s*#\s*define\b", lines[first - 1]):
                        first -= 1  # a macro wrapper: #define cio_x(...) cio__x(...)
                    else:
                        break
                comment = comment_above(lines, first)
                decl_start[j] = i
                yield {"file": rel, "line": i + 1, "name": m.group(1), "comment": comment}
                i = j + 1
            else:
                i += 1


def comment_above(lines, idx):
    """The comment block ending on the line just above lines[idx], or None."""
    k = idx - 1
    if k < 0:
        return None
    if lines[k].strip().endswith("*/"):
        end = k
        while k >= 0 and "/*" not in lines[k]:
            k -= 1
        return "\n".join(lines[k:end + 1]) if k >= 0 else None
    if lines[k].strip().startswith("//"):
        end = k
        while k - 1 >= 0 and lines[k - 1].strip().startswith("//"):
            k -= 1
        return "\n".join(lines[k:end + 1])
    return None


def header_names(src_dir):
    """(every cio_ identifier the public headers declare or define, the
    functions and function-like macros among them)."""
    names, callable_ = set(), set()
    inc = os.path.join(src_dir, "include", "cio")
    for fn in os.listdir(inc):
        if fn.endswith(".h"):
            with open(os.path.join(inc, fn), encoding="utf-8") as f:
                code = strip_comments_and_strings(f.read())
            names.update(re.findall(r"\b(cio_\w+)", code))
            callable_.update(re.findall(r"\b(cio_\w+)\(", code))
            callable_.update(re.findall(r"\b(cio_\w+)\s*\(", code.replace("CIO_API", "")))
    return names, callable_


# Names a header comment may use that are not C identifiers of the headers.
NOT_C_NAMES = {"cio_static", "cio_shared", "cio_http_static", "cio_pg_static",
               "cio_sqlite_static", "cio_ws_static"}


def comment_references(src_dir):
    """Yields (file, line, name, as_call) for each cio_xxx in a header comment;
    as_call when written cio_xxx( or after "call"/"calls"."""
    inc = os.path.join(src_dir, "include", "cio")
    for fn in sorted(os.listdir(inc)):
        if not fn.endswith(".h"):
            continue
        rel = os.path.join("include", "cio", fn)
        with open(os.path.join(inc, fn), encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"/\*.*?\*/|//[^\n]*", text, re.S):
            body = m.group(0)
            for r in re.finditer(r"\b(cio_\w+)(\*?)(\()?", body):
                line = text.count("\n", 0, m.start() + r.start()) + 1
                before = body[max(0, r.start() - 8):r.start()]
                as_call = bool(r.group(3)) or bool(re.search(r"\bcalls?\s+$", before))
                yield rel, line, r.group(1) + r.group(2), as_call


# "Cancellation:", or "Cancellation (and other errors):".
CANCELLATION = re.compile(r"Cancellation(\s*\([^)]*\))?:")


def suspends_note(comment):
    """'yes', 'no' or None: what the comment's Suspends: note says."""
    m = re.search(r"Suspends:\s*(\w+)", comment)
    if not m:
        return None
    return "no" if m.group(1).lower() in ("no", "never") else "yes"


def check(src_dir):
    """Returns (errors, table): errors as strings, table as a list of
    (function, can_suspend, full_notes)."""
    edges = call_graph(src_dir)
    paths = suspending_nodes(edges)
    defined = {n[1] for n in edges if n[0] is None}
    errors = list(PARSE_ERRORS)
    table = []
    noted = [0, 0]  # public functions with a Suspends: note, all of them
    seen_exempt = set()
    for fn in header_functions(src_dir):
        where = "%s:%d: %s" % (fn["file"], fn["line"], fn["name"])
        comment = fn["comment"]
        if comment is None:
            errors.append("%s: no comment" % where)
            comment = ""
        note = suspends_note(comment)
        noted[0] += note is not None
        noted[1] += 1
        graph = paths.get((None, fn["name"]))
        if fn["name"] in NOT_SUSPENDING:
            if graph is None:
                errors.append("%s: listed in NOT_SUSPENDING, but the call graph no longer "
                              "reaches a suspension: drop the entry" % where)
            seen_exempt.add(fn["name"])
            graph = None
        if fn["name"] not in defined:
            errors.append("%s: declared but not defined in src/" % where)
        can = note == "yes" or graph is not None
        cancellation = CANCELLATION.search(comment)
        full = note is not None and cancellation
        if note is None and not can and fn["comment"] is not None:
            errors.append("%s: its comment does not say 'Suspends: no' (or yes)" % where)
        if can:
            table.append((fn, graph, full))
            if note is None:
                errors.append("%s: can suspend (%s) but its comment has no 'Suspends:'"
                              % (where, " -> ".join(graph) if graph else "says so"))
            elif note == "no":
                errors.append("%s: comment says 'Suspends: no' but it calls %s"
                              % (where, " -> ".join(graph)))
            if not cancellation:
                errors.append("%s: can suspend but its comment has no 'Cancellation:'" % where)
    for name in sorted(set(NOT_SUSPENDING) - seen_exempt):
        errors.append("scripts/check-contract.py: NOT_SUSPENDING names %s, which no header "
                      "declares" % name)
    known, callable_ = header_names(src_dir)
    for rel, line, name, as_call in comment_references(src_dir):
        if name.endswith("_*"):  # a family: cio_pg_array_*
            if not any(k.startswith(name[:-1]) for k in known):
                errors.append("%s:%d: the comment names %s, and no header name starts so"
                              % (rel, line, name))
        elif name in NOT_C_NAMES:
            pass
        elif name not in known:
            errors.append("%s:%d: the comment names %s, which no header declares"
                          % (rel, line, name))
        elif as_call and name not in callable_:
            errors.append("%s:%d: the comment calls %s, which is not a function"
                          % (rel, line, name))
    check.noted = noted
    return errors, table


def self_test(src_dir):
    """Copies include/ and src/ to a temporary tree, plants one defect of each
    kind the check exists for, and expects each to be reported. Returns 0/1."""
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="check-contract.")
    try:
        for d in ("include", "src"):
            shutil.copytree(os.path.join(src_dir, d), os.path.join(tmp, d))
        errors, _ = check(tmp)
        if errors:
            print("self-test: the unmodified tree already fails:")
            print("\n".join(errors))
            return 1

        def plant(rel, old, new):
            path = os.path.join(tmp, rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if old not in text:
                raise SystemExit("self-test: %r not found in %s" % (old, rel))
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))

        core = os.path.join("include", "cio", "core.h")
        # 1. a suspending function whose comment lost its Cancellation: note
        plant(core, "Cancellation: returns the reason at once; the timer is gone.",
              "It returns the reason at once.")
        # 2. a function the call graph sees suspending, documented "Suspends: no"
        plant(os.path.join("include", "cio", "io.h"),
              "-errno. Suspends: yes, until some data or EOF.", "-errno. Suspends: no.")
        # 3. a public function without a comment
        decl = "\nCIO_API void cio_as_completed_destroy"
        plant(os.path.join("include", "cio", "wait.h"), decl, "\n" + decl)
        # 4. a comment naming a function that does not exist
        plant(core, "(asyncio.sleep). 0 yields once.",
              "(asyncio.sleep). 0 yields once, as cio_nap() does.")
        # 5. a function that now reaches cio__park through a new call
        plant(os.path.join("src", "io", "udp.c"), "int cio_udp_port(const cio_udp *u)\n{",
              "int cio_udp_port(const cio_udp *u)\n{\n    cio_yield();")
        # 6. a function whose comment says nothing about suspending
        plant(os.path.join("include", "cio", "udp.h"), "like). Suspends: no. */", "like). */")
        del PARSE_ERRORS[:]
        errors, _ = check(tmp)
        want = [("core.h", "cio_sleep", "no 'Cancellation:'"),
                ("io.h", "cio_read", "'Suspends: no'"),
                ("wait.h", "cio_as_completed_destroy", "no comment"),
                ("core.h", "cio_nap", "no header declares"),
                ("udp.h", "cio_udp_port", "'Suspends: no'"),
                ("udp.h", "cio_udp_fd", "does not say 'Suspends: no'")]
        failed = 0
        for header, name, what in want:
            if not any(header in e and name in e and what in e for e in errors):
                print("self-test: not reported: %s %s (%s)" % (header, name, what))
                failed = 1
        if failed:
            print("what was reported:\n" + "\n".join(errors))
        else:
            print("self-test: all %d planted defects reported" % len(want))
        return failed
    finally:
        shutil.rmtree(tmp)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    src_dir = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if "--self-test" in argv:
        return self_test(src_dir)
    errors, table = check(src_dir)
    full = sum(1 for _, _, f in table if f)
    if "--count" in argv:
        print("%d/%d" % (full, len(table)))
        return 0
    if "--list" in argv:
        for fn, graph, ok in table:
            print("%-4s %s:%d %s%s" % ("ok" if ok else "MISS", fn["file"], fn["line"], fn["name"],
                                       "" if graph else " (by its comment only)"))
    for e in errors:
        print(e)
    print("public functions saying Suspends: %d/%d; suspending ones with Suspends: and "
          "Cancellation: %d/%d; %d problem(s)"
          % (check.noted[0], check.noted[1], full, len(table), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
