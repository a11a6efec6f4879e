"""requirements.txt pins must satisfy pyproject.toml's ranges: one source of truth for bounds."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pins(path):
    out = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{path}: {line} should be an exact pin"
            out[requirement.name.lower().replace("_", "-")] = spec.version
    return out


def ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + project["optional-dependencies"]["test"]
    return {Requirement(r).name.lower().replace("_", "-"): Requirement(r) for r in listed}


def test_every_pin_lies_inside_its_range():
    declared = ranges()
    for name, version in {**pins("requirements.txt"), **pins("requirements-dev.txt")}.items():
        assert name in declared, f"{name} is pinned but not declared in pyproject.toml"
        assert declared[name].specifier.contains(version), (
            f"{name}=={version} is outside pyproject's range {declared[name].specifier}"
        )


def test_every_runtime_dependency_except_torch_is_pinned():
    pinned = pins("requirements.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = Requirement(requirement).name.lower().replace("_", "-")
        if name != "torch":
            assert name in pinned, f"{name} has a range in pyproject.toml but no pin"


def test_the_tested_torch_satisfies_the_range():
    assert ranges()["torch"].specifier.contains("2.13.0")


def test_the_helper_package_never_imports_the_tools():
    """Tools (labs_tools) import the helpers the labs call (labs_common), never the reverse."""
    import ast

    for path in sorted((ROOT / "labs_common").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("labs_tools"), f"{path.relative_to(ROOT)} imports {name}"


def test_no_module_of_the_helper_package_imports_itself_back():
    """No import cycle among labs_common's modules, function-level imports included."""
    import ast

    modules = {}
    for path in (ROOT / "labs_common").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    imports = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            imports[name] |= {t for t in targets if t in modules and t != name}

    def reaches(start, goal, seen):
        return any(t == goal or (t not in seen and reaches(t, goal, seen | {t}))
                   for t in imports[start])

    cycles = [name for name in modules if reaches(name, name, {name})]
    assert cycles == []


def _helper_modules():
    package = ROOT / "labs_common"
    return sorted(p for p in package.rglob("*.py") if p.name != "__init__.py")


def test_every_helper_module_has_its_test_module():
    missing = []
    for path in _helper_modules():
        prefix = "test_rl_" if path.parent.name == "rl" else "test_"
        if not (ROOT / "tests" / f"{prefix}{path.stem}.py").is_file():
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []


def test_helper_modules_stay_small_enough_to_read():
    """About 300 lines a module, a trainer's file at most about 450."""
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in _helper_modules()}
    assert max(sizes.values()) <= 450, sizes
    assert sum(size > 300 for size in sizes.values()) <= 3, sizes
