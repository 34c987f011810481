"""The production install carries no payment SDK: the shop speaks the channels' protocols itself, and the SDKs
(python-alipay-sdk, wechatpayv3, wechatpy, Alipay's official SDK) only drive and check it from outside, in tests."""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK_DISTRIBUTIONS = {"python-alipay-sdk", "alipay-sdk-python", "wechatpayv3", "wechatpy"}
SDK_MODULES = {"alipay", "wechatpayv3", "wechatpy"}


def _name(requirement: str) -> str:
    for stop in "=<>!~;[ ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower()


def test_no_payment_sdk_is_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    assert not runtime & SDK_DISTRIBUTIONS
    assert {"python-alipay-sdk", "wechatpayv3"} <= {_name(r) for r in project["optional-dependencies"]["dev"]}


def test_no_shipped_module_imports_a_payment_sdk():
    imports = []
    for path in [*(ROOT / "kameng").rglob("*.py"), *(ROOT / "config").rglob("*.py")]:
        if "tests" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            imports += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in SDK_MODULES]
    assert imports == []
