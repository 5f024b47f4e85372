"""One-way floors: what the web process imports, who imports ``training/``, no dataset-specific
code in the wheel, and no import loop anywhere in the app.

The import checks run in fresh interpreters (this test process has long imported torch), and the
source checks read every module's imports with ``ast``, imports inside functions included.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "recommender"

# Who may import recommender.training: the package itself, the management commands and the tasks
# module that registers its Celery tasks. Everyone else (the admin form) only its torch-free defaults.
TRAINING_IMPORTERS = ("recommender.training", "recommender.management.commands", "recommender.tasks")
TORCH_FREE_TRAINING = {"recommender.training", "recommender.training.defaults", "recommender.training.tasks"}
# Serving modules that may import torch at module level: the network itself, loaded only with a model.
TORCH_AT_IMPORT = {"recommender.behaviour.model"}
# Names and values that belong to one public data set, not to the app.
DATASET_NAMES = {
    "load_amazon_scientific",
    "amazon_texts",
    "load_hm",
    "read_hm_purchases",
    "hm_split",
    "hm_blends",
    "VQREC",
    "HM_VALID_FROM",
    "HM_TEST_FROM",
    "HM_TEST_END",
    "HM_LASTWEEK_START",
}
DATE = re.compile(r"^(19|20)\d\d-\d\d-\d\d$")


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _run(code: str, *, django_settings: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    if django_settings:
        env["DJANGO_SETTINGS_MODULE"] = django_settings
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _modules() -> dict[str, Path]:
    out = {}
    for path in APP.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the app (and ``bench``) that ``name`` imports anywhere in its source."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if target == "bench" or target.startswith("bench."):
                found.add(target)
                continue
            while target and target not in modules:
                target = target.rpartition(".")[0]
            inside = name.startswith(target + ".") or (is_package and target.startswith(name + "."))
            if target and target != name and not inside:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_serving_and_django_setup_import_neither_torch_nor_training():
    loaded = _run(
        "import json, sys, django\n"
        "django.setup()\n"
        "after_setup = 'torch' in sys.modules\n"
        "import recommender.behaviour.serving, recommender.behaviour.item_vectors, recommender.tasks\n"
        "import recommender.strategies.personal, recommender.training.defaults\n"
        "print(json.dumps({'setup': after_setup, 'torch': 'torch' in sys.modules, 'scipy': 'scipy' in sys.modules,\n"
        "    'training': sorted(m for m in sys.modules if m.startswith('recommender.training'))}))",
        django_settings="tests.settings",
    )
    assert loaded["setup"] is False and loaded["torch"] is False and loaded["scipy"] is False
    assert set(loaded["training"]) <= TORCH_FREE_TRAINING


def test_offline_code_imports_without_a_django_project():
    """Benchmarks fit and evaluate on public data without Django settings."""
    loaded = _run(
        "import json, sys\n"
        "import bench.behaviour_eval, bench.datasets, recommender.training.behaviour.fit\n"
        "from recommender.behaviour.config import hyperparameters\n"
        "print(json.dumps({'epochs': hyperparameters({'epochs': 3})['epochs'], 'django_setup': "
        "'django.contrib.auth.models' in sys.modules}))",
        django_settings=None,
    )
    assert loaded == {"epochs": 3, "django_setup": False}


def test_no_module_of_the_app_imports_bench():
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == "bench") for name, targets in _graph().items()}
    assert {name: t for name, t in offenders.items() if t} == {}


def test_only_commands_and_tasks_import_training():
    offenders = {}
    for name, targets in _graph().items():
        if _within(name, TRAINING_IMPORTERS):
            continue
        wrong = sorted(
            t for t in targets if _within(t, ("recommender.training",)) and t != "recommender.training.defaults"
        )
        if wrong:
            offenders[name] = wrong
    assert offenders == {}
    assert not any(
        t.startswith("recommender.training") and t != "recommender.training.defaults"
        for name, targets in _graph().items()
        if _within(name, ("recommender.behaviour",))
        for t in targets
    )


def test_the_behaviour_package_imports_no_torch_or_scipy_at_module_level():
    """Only the model's own module does; the rest runs in the web process."""
    heavy = {}
    for name, path in _modules().items():
        if not _within(name, ("recommender.behaviour",)) or name in TORCH_AT_IMPORT:
            continue
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        names = [m for m in names if m.split(".")[0] in {"torch", "scipy", "open_clip", "matplotlib", "implicit"}]
        if names:
            heavy[name] = names
    assert heavy == {}


def test_the_wheel_holds_no_dataset_specific_code():
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in DATASET_NAMES:
                found.append((name, node.name))
            elif isinstance(node, ast.Name) and node.id in DATASET_NAMES:
                found.append((name, node.id))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DATE.match(node.value):
                found.append((name, node.value))
    assert found == []


def test_no_import_cycle_anywhere_in_the_app():
    """Imports point down only: no loop between any modules of the app, imports inside functions counted."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            components.append(component)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    loops = [sorted(c) for c in components if len(c) > 1]
    assert loops == []
    train, evaluate = "recommender.training.behaviour.train", "recommender.training.behaviour.evaluate"
    assert train not in graph[evaluate] and "recommender.training.behaviour.fit" not in graph[evaluate]
