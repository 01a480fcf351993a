"""The code's layout: one `twitchwatch` namespace, folders that say what they hold.

- every import uses the installed names (``twitchwatch.gateway``, ``twitchwatch.dsp``): the
  checkout is on sys.path in development, where a bare ``import gateway`` would load a
  second copy of the modules and would fail in an installed wheel;
- ``dsp`` imports nothing from the gateway, the firmware nothing from either, and no
  shipped or benchmark code imports the tests;
- no file name and no class name is used twice in the Python packages;
- docs/architecture.md names exactly the gateway's folders and modules, and dsp's modules.
"""

from __future__ import annotations

import ast
import collections
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "dsp", "dashboards")


def py_files(*dirs: str) -> list[pathlib.Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py")
                  if "__pycache__" not in p.parts)


def imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    """(level, module) of every import; level > 0 for relative imports."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(0, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or ""))
    return out


def test_the_namespace_folder_links_the_top_level_folders():
    ns = ROOT / "twitchwatch"
    for name in ("gateway", "dsp", "firmware", "dashboards"):
        link = ns / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), name
    assert sorted(p.name for p in ns.iterdir() if not p.is_symlink()
                  and p.name != "__pycache__") == ["__init__.py", "__main__.py"]


def test_imports_use_the_installed_names():
    bare = []
    for path in py_files(*PACKAGES, "tests", "bench", "twitchwatch"):
        if "mpy" in path.relative_to(ROOT).parts:  # MicroPython test programs
            continue
        for level, mod in imported_modules(path):
            if level == 0 and mod.split(".")[0] in ("gateway", "dsp"):
                bare.append(f"{path.relative_to(ROOT)}: {mod}")
    assert bare == []


def test_dependency_directions():
    for path in py_files("dsp"):
        for level, mod in imported_modules(path):
            assert level <= 1 and not mod.startswith("twitchwatch"), (path, mod)
    for path in py_files(*PACKAGES, "bench"):
        for level, mod in imported_modules(path):
            assert not (level == 0 and mod.split(".")[0] == "tests"), (path, mod)
    for path in py_files("firmware"):
        for _level, mod in imported_modules(path):
            assert not mod.startswith(("twitchwatch", "gateway", "dsp")), (path, mod)


def test_no_file_or_class_name_twice():
    files = [p for p in py_files("gateway", "dsp")
             if p.name not in ("__init__.py", "__main__.py")]
    names = collections.Counter(p.name for p in files)
    assert [n for n, k in names.items() if k > 1] == []
    classes: dict[str, list[str]] = collections.defaultdict(list)
    for p in files:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ClassDef):
                classes[node.name].append(str(p.relative_to(ROOT)))
    assert {n: where for n, where in classes.items() if len(where) > 1} == {}


def test_architecture_doc_names_every_gateway_folder_and_module():
    """The ```text tree in docs/architecture.md: gateway/'s modules and folders, and each
    folder's modules, exactly."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```text\n(gateway/\n.*?)```", text, re.S)
    assert block, "docs/architecture.md: the ```text block with the gateway/ tree"
    named: dict[str, set[str]] = {"": set()}
    folder = ""
    for line in block.group(1).splitlines()[1:]:
        m = re.match(r"^([│ ]*)[├└]── ([\w.]+/?)", line)
        assert m, line
        if len(m.group(1)) == 0:
            named[""].add(m.group(2))
            folder = m.group(2).rstrip("/") if m.group(2).endswith("/") else ""
            if folder:
                named[folder] = set()
        else:
            assert folder, line
            named[folder].add(m.group(2))
    gw = ROOT / "gateway"
    actual: dict[str, set[str]] = {"": {p.name for p in gw.glob("*.py")
                                        if p.name != "__init__.py"}}
    for d in sorted(gw.iterdir()):
        if (d / "__init__.py").is_file():
            actual[""].add(d.name + "/")
            actual[d.name] = {p.name for p in d.glob("*.py") if p.name != "__init__.py"}
    assert named == actual


def test_architecture_doc_names_every_dsp_module():
    """The dsp/ tree in docs/architecture.md lists its modules exactly (a split module
    must show up where a reader looks for it)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```text\ndsp/\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md: the ```text block with the dsp/ tree"
    named = {re.match(r"^[├└]── ([\w.]+)", line).group(1)  # type: ignore[union-attr]
             for line in block.group(1).splitlines()}
    actual = {p.name for p in (ROOT / "dsp").glob("*.py") if p.name != "__init__.py"}
    assert named == actual
