"""The rooms stay apart: product code never imports the demo, and ml/ knows nothing of Dagster or the warehouse."""

import ast
from pathlib import Path

from tests.conftest import ROOT

DEMO = "orchestration.defs.demo"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module if node.level == 0 else f".{node.module}")
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_no_product_module_imports_the_demo():
    product = [p for p in _modules("orchestration") if not p.is_relative_to(ROOT / "orchestration/defs/demo")]
    product += _modules("ml")
    offenders = {str(p.relative_to(ROOT)): sorted(i for i in _imports(p) if i.startswith(DEMO) or "synthetic" in i)
                 for p in product}
    assert {p: i for p, i in offenders.items() if i} == {}
    assert len(product) > 20


def test_ml_is_pure_python_analytics():
    banned = ("dagster", "dagster_dbt", "duckdb", "orchestration")
    offenders = {str(p.relative_to(ROOT)): sorted(i for i in _imports(p) if i.split(".")[0] in banned)
                 for p in _modules("ml")}
    assert {p: i for p, i in offenders.items() if i} == {}


def test_every_domain_has_a_folder_under_defs():
    domains = {p.name for p in (ROOT / "orchestration" / "defs").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert {"ingest", "transform", "segmentation", "scoring", "audiences", "report", "automation", "demo"} <= domains
