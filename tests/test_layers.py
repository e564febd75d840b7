"""
Tests for the layers: no module of the pure core (C{occid/occi/},
C{occid/gsi/}, C{occid/oidc/}, C{occid/policy.py}, C{occid/config.py} and the modules below it,
C{occid/interfaces.py}) imports Twisted, boto3 or botocore, directly or
through another module, nor any occid module outside the core (the edges
import the core, never the reverse); and neither edge (C{occid/server/},
C{occid/ec2/}) imports the other, the demo, the fakes or the twistd wiring.
The discovery command's tool (C{cloud_info_provider}, the optional
C{occid[discovery]} extra) is imported by C{occid/discovery/provider.py}
alone, nothing outside C{occid/discovery/} imports that package, and the
daemon imports without the tool.

Each module is imported alone in a fresh interpreter whose import system
refuses the forbidden packages and reports which chain of modules asked for
them; the modules are found on disk, so a new module of the core is checked
without being listed here.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The packages of the pure core, every module below them included.
CORE_PACKAGES = ("occid/occi", "occid/gsi", "occid/oidc")

#: The single modules of the pure core.
CORE_MODULES = ("occid/policy.py", "occid/config.py", "occid/modes.py", "occid/accountconfig.py",
                "occid/accountingconfig.py",
                "occid/awsconfig.py", "occid/regionconfig.py", "occid/imagesconfig.py",
                "occid/oidcconfig.py", "occid/interfaces.py", "occid/metrics.py",
                "occid/metricsconfig.py", "occid/listenconfig.py", "occid/serverconfig.py",
                "occid/gridconfig.py", "occid/tableconfig.py", "occid/atomicfile.py")

#: What the pure core must never import.
FORBIDDEN = ("twisted", "boto3", "botocore")

#: Run in the child: import sys.argv[1], refusing the top-level packages of
#: sys.argv[2] and every occid module outside the prefixes of sys.argv[3],
#: and print, for each attempt, the chain of occid modules being imported.
_PROBE = """
import importlib, json, sys

forbidden = set(sys.argv[2].split(","))
core = tuple(sys.argv[3].split(","))

def refused(name):
    if name.split(".")[0] in forbidden:
        return True
    return name.startswith("occid.") and not any(
        name == prefix or name.startswith(prefix + ".") for prefix in core
    )

attempts = []

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if not refused(name):
            return None
        chain, frame = [], sys._getframe(1)
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if module.startswith("occid") and (not chain or chain[-1] != module):
                chain.append(module)
            frame = frame.f_back
        attempts.append({"import": name, "by": list(reversed(chain))})
        raise ImportError(f"{name} is forbidden in the pure core")

sys.meta_path.insert(0, Refuse())
error = None
try:
    importlib.import_module(sys.argv[1])
except ImportError as e:
    error = str(e)
loaded = sorted(m for m in sys.modules if refused(m))
print(json.dumps({"attempts": attempts, "loaded": loaded, "error": error}))
"""


def modules_of(packages: tuple[str, ...], single: tuple[str, ...] = ()) -> list[str]:
    """The dotted names of every module below C{packages}, plus C{single}, found on disk."""
    names = []
    for package in packages:
        for directory, subdirectories, files in os.walk(os.path.join(ROOT, package)):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith(("_", ".")))
            for filename in sorted(files):
                if filename.endswith(".py"):
                    relative = os.path.relpath(os.path.join(directory, filename), ROOT)
                    names.append(_dotted(relative))
    names.extend(_dotted(module) for module in single)
    return names


def core_modules() -> list[str]:
    """The dotted names of every module of the pure core, found on disk."""
    return modules_of(CORE_PACKAGES, CORE_MODULES)


def _dotted(relative: str) -> str:
    """C{occid/gsi/voms.py} -> C{occid.gsi.voms}; a package's C{__init__.py} is the package."""
    parts = relative[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def core_prefixes() -> list[str]:
    """The dotted names under which an occid module belongs to the core."""
    packages = [_dotted(path + "/__init__.py") for path in CORE_PACKAGES]
    return packages + [_dotted(path) for path in CORE_MODULES]


def probe(module: str, forbidden: tuple[str, ...] = FORBIDDEN, allowed: tuple[str, ...] = ()) -> dict:
    """
    Import C{module} alone in a fresh interpreter and report imports of
    C{forbidden} packages and of occid modules outside the core and
    C{allowed}.
    """
    prefixes = [*core_prefixes(), *allowed]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module, ",".join(forbidden), ",".join(prefixes)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_core_found():
    """Discovery finds the whole core: both packages, their modules and the three single modules."""
    modules = core_modules()
    for expected in (
        "occid.occi",
        "occid.occi.model",
        "occid.occi.rendering",
        "occid.gsi",
        "occid.gsi.voms",
        "occid.gsi.authenticator",
        "occid.oidc",
        "occid.oidc.rules",
        "occid.oidcconfig",
        "occid.policy",
        "occid.config",
        "occid.interfaces",
    ):
        assert expected in modules
    assert len(modules) == len(set(modules))


@pytest.mark.parametrize("module", core_modules())
def test_core_imports_no_edge(module):
    """
    The module, and everything it imports, imports neither Twisted nor
    boto3 nor botocore, nor an occid module outside the core.
    """
    report = probe(module)
    assert report["attempts"] == [], "\n".join(
        f"{attempt['import']} imported by {' -> '.join(attempt['by'])}"
        for attempt in report["attempts"]
    )
    assert report["loaded"] == []
    assert report["error"] is None


#: The two edges: each stands on the core and on itself, never on the other
#: edge nor on what sits on top (the demo, the fakes, the twistd wiring); the
#: packages each must not import (the Twisted edge makes no AWS call).
EDGES = {"occid.server": ("boto3", "botocore"), "occid.ec2": ()}


@pytest.mark.parametrize(
    "module", [m for edge in EDGES for m in modules_of((edge.replace(".", "/"),))]
)
def test_edge_imports_only_the_core(module):
    """
    A module of the Twisted edge or of the EC2 edge imports, directly or
    through others, no occid module but the core's and its own edge's; the
    Twisted edge imports neither boto3 nor botocore.
    """
    edge = next(e for e in EDGES if module == e or module.startswith(e + "."))
    report = probe(module, forbidden=EDGES[edge], allowed=(edge,))
    assert report["attempts"] == [], "\n".join(
        f"{attempt['import']} imported by {' -> '.join(attempt['by'])}"
        for attempt in report["attempts"]
    )
    assert report["error"] is None


#: The pure modules of the appliance distribution (a site command on top):
#: they may use the core, their own package and the EC2 edge's pure tag
#: vocabulary, never Twisted, boto3 or botocore.
DISTRIBUTION_PURE = ("appliance", "blocks", "hepix", "oci", "plan", "provenance", "smime")


@pytest.mark.parametrize("module", [f"occid.distribution.{name}" for name in DISTRIBUTION_PURE])
def test_distribution_pure(module):
    """
    A pure module of C{occid.distribution} imports neither Twisted nor boto3
    nor botocore, and of the EC2 edge only its pure vocabulary.
    """
    report = probe(module, allowed=("occid.distribution", "occid.ec2.distributed",
                                    "occid.ec2.tags", "occid.ec2"))
    assert report["attempts"] == [], "\n".join(
        f"{attempt['import']} imported by {' -> '.join(attempt['by'])}"
        for attempt in report["attempts"]
    )
    assert report["error"] is None


def test_probe_catches_a_forbidden_import(tmp_path):
    """
    The probe itself works: a module importing Twisted through another
    module is reported with the chain that led there.
    """
    package = tmp_path / "occid_probe_check"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "inner.py").write_text("import twisted.internet.defer\n")
    (package / "outer.py").write_text("from occid_probe_check import inner\n")
    code = [sys.executable, "-c", _PROBE, "occid_probe_check.outer", ",".join(FORBIDDEN), "occid.occi"]
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        code, capture_output=True, text=True, cwd=str(tmp_path), env=environment, check=True
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["attempts"][0]["import"] == "twisted"
    assert report["attempts"][0]["by"] == ["occid_probe_check.outer", "occid_probe_check.inner"]
    assert report["error"] is not None


def test_probe_catches_an_edge_module():
    """The probe refuses an occid module outside the core, such as the EC2 edge."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "occid.ec2", ",".join(FORBIDDEN), ",".join(core_prefixes())],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, check=True,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["attempts"][0]["import"] == "occid.ec2"
    assert report["loaded"] == []


#: The pure modules of the accounting command: the usage arithmetic and the
#: records stand on the core alone, with neither Twisted nor AWS.
ACCOUNTING_PURE = ("occid.accounting.usage", "occid.accounting.records")


@pytest.mark.parametrize("module", ACCOUNTING_PURE)
def test_accounting_arithmetic_and_records_are_pure(module):
    """The usage arithmetic and the record formats import neither Twisted nor boto3, only the core."""
    report = probe(module, allowed=("occid.accounting",))
    assert report["attempts"] == [], "\n".join(
        f"{attempt['import']} imported by {' -> '.join(attempt['by'])}"
        for attempt in report["attempts"]
    )
    assert report["error"] is None
#: The discovery command's tool, an optional extra (C{occid[discovery]}).
TOOL = "cloud_info_provider"

#: The one module that imports it.
TOOL_PROVIDER = "occid.discovery.provider"


def imported_by(module: str) -> set[str]:
    """The dotted names C{module}'s source imports, at any depth of its code."""
    path = os.path.join(ROOT, *module.split(".")) + ".py"
    if not os.path.exists(path):
        path = os.path.join(ROOT, *module.split("."), "__init__.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def every_module() -> list[str]:
    """Every module of occid, found on disk."""
    return modules_of(("occid",))


def test_only_the_provider_imports_the_discovery_tool():
    """No module of occid but the provider module names cloud_info_provider in an import."""
    importing = [module for module in every_module()
                 if any(name == TOOL or name.startswith(TOOL + ".") for name in imported_by(module))]
    assert importing == [TOOL_PROVIDER]


def test_nothing_imports_the_discovery_package():
    """Outside occid/discovery/, no module of occid imports it: it sits on top, like the demo."""
    importing = [module for module in every_module() if not module.startswith("occid.discovery")
                 and any(name == "occid.discovery" or name.startswith("occid.discovery.")
                         for name in imported_by(module))]
    assert importing == []


@pytest.mark.parametrize("module", ["occid.tap", "occid.discovery", "occid.discovery.facts"])
def test_occid_works_without_the_discovery_tool(module):
    """
    With cloud_info_provider (and its stevedore) refused, the daemon's
    wiring, which imports every layer, and the discovery facts import
    without asking for it: without the extra, the rest of occid neither
    imports nor needs it.
    """
    report = probe(module, forbidden=(TOOL, "stevedore"), allowed=("occid",))
    assert report["attempts"] == []
    assert report["error"] is None


def test_the_refused_tool_stops_the_provider():
    """The probe above does refuse the tool: the provider module cannot be imported under it."""
    report = probe(TOOL_PROVIDER, forbidden=(TOOL,), allowed=("occid",))
    assert report["attempts"][0]["import"] == TOOL
    assert report["attempts"][0]["by"] == [TOOL_PROVIDER]
