"""The chapter calls its supports, never the other way round: no module of dcgan_port imports dc_gan."""
import ast
import os

from conftest import ROOT


def imported_modules(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_package_imports_the_chapters_script():
    package = os.path.join(ROOT, "dcgan_port")
    modules = [name for name in sorted(os.listdir(package)) if name.endswith(".py")]
    assert len(modules) > 5
    for name in modules:
        imported = imported_modules(os.path.join(package, name))
        assert not {m for m in imported if m.split(".")[0] == "dc_gan"}, name

