"""Which AWS calls each Lambda function makes, read from the code (for the least-privilege tests).

A function's code is what its handlers reach: the handler functions Chalice runs for it (routes
and the HTTP middleware for ``api_handler``, the decorated event handler otherwise), then every
top-level function, class or assignment they name, through imports (module level, function
level, and ``handlers.lazy``'s real imports), package re-exports and attribute chains
(``lazy.certificates.check_all``). Reaching a symbol, not a module: ``deploys.request`` imports
``lock_lease`` from ``deploys.rollout``, which does not make the API handler register task
definitions.

In the reached code:

- environment calls: a client from ``deps.aws("svc", env)`` (called on the spot, or bound to a
  name), or a parameter or dataclass field typed ``ECSClient``/``ECRClient``; a method counts when
  botocore knows it as an operation of that service (``get_paginator("op")`` too);
- opsbot's own resources: ``.store.`` (the state table: every operation ``chalicelib/store``
  makes, Powertools' idempotency layer included), ``.queue.<method>`` (``WorkQueue``: the SQS
  operations that method makes, the dead-letter queue apart), ``.notifier.`` (SNS, and the Slack
  webhook parameter), ``aws.parameters`` (SSM).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"

# API operations whose IAM action is not <prefix>:<OperationName>, and the actions an operation
# needs besides its own (RegisterTaskDefinition copies the tags and passes the task's roles;
# TransactWriteItems is authorized per item).
IAM_ACTION = {
    "budgets:DescribeBudgets": "budgets:ViewBudget",
    "budgets:DescribeNotificationsForBudget": "budgets:ViewBudget",
}
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
ALSO_NEEDS = {"ecs:RegisterTaskDefinition": {"ecs:TagResource", "iam:PassRole"}}
ITEM_ACTIONS = {"dynamodb:TransactWriteItems": {"dynamodb:UpdateItem"}}


Symbol = tuple[str, str]  # (module, top-level name)


@cache
def typed_clients() -> dict[str, str]:
    """mypy_boto3 client class -> boto3 service name, from ``Deps.aws``'s overloads."""
    text = (PACKAGE / "deps.py").read_text()
    found = re.findall(r'Literal\["([a-z0-9-]+)"\][^>]*->\s*(\w+)', text)
    return {client: service for service, client in found}


def _typed_pattern() -> str:
    return "|".join(sorted(typed_clients()))


@dataclass
class Module:
    name: str
    source: str
    defs: dict[str, ast.AST] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _add_imports(
    target: dict[str, tuple[str, str | None]], node: ast.AST, known: set[str], here: str
) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            target[alias.asname or alias.name.split(".")[0]] = (alias.asname and alias.name, None)  # type: ignore[assignment]
            if alias.asname:
                target[alias.asname] = (alias.name, None)
    elif isinstance(node, ast.ImportFrom) and node.module:
        base = node.module
        if node.level:
            base = ".".join([*here.split(".")[: -node.level], node.module])
        for alias in node.names:
            dotted = f"{base}.{alias.name}"
            local = alias.asname or alias.name
            target[local] = (dotted, None) if dotted in known else (base, alias.name)


@cache
def modules() -> dict[str, Module]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {_module_name(p) for p in paths}
    result: dict[str, Module] = {}
    for path in paths:
        name = _module_name(path)
        source = path.read_text()
        module = Module(name, source)
        for node in ast.parse(source).body:
            if _is_type_checking(node):
                # handlers.lazy and lazy packages (a module ``__getattr__``): the real imports
                # behind their lazy loaders
                if name == "chalicelib.handlers.lazy" or (
                    path.name == "__init__.py" and "def __getattr__" in source
                ):
                    for inner in node.body:  # type: ignore[attr-defined]
                        _add_imports(module.imports, inner, known, name)
                continue
            _add_imports(module.imports, node, known, name)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                module.defs[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        module.defs[target.id] = node
        result[name] = module
    return result


def _resolve(module: str, name: str, seen: frozenset[Symbol] = frozenset()) -> Symbol | str | None:
    """A name in a module: the symbol defining it, a module, or None (not ours)."""
    mods = modules()
    if (module, name) in seen or module not in mods:
        return None
    mod = mods[module]
    if name in mod.defs:
        return (module, name)
    if name in mod.imports:
        target, attr = mod.imports[name]
        if attr is None:
            return target if target in mods else None
        return _resolve(target, attr, seen | {(module, name)})
    if f"{module}.{name}" in mods:
        return f"{module}.{name}"
    return None


def _references(module: str, node: ast.AST) -> set[Symbol]:
    mods = modules()
    local: dict[str, tuple[str, str | None]] = {}
    for inner in ast.walk(node):
        if isinstance(inner, ast.Import | ast.ImportFrom):
            _add_imports(local, inner, set(mods), module)

    def lookup(name: str) -> Symbol | str | None:
        if name in local:
            target, attr = local[name]
            if attr is None:
                return target if target in mods else None
            return _resolve(target, attr)
        return _resolve(module, name)

    found: set[Symbol] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            hit = lookup(inner.id)
            if isinstance(hit, tuple):
                found.add(hit)
        elif isinstance(inner, ast.Attribute):
            chain: list[str] = []
            base: ast.AST = inner
            while isinstance(base, ast.Attribute):
                chain.insert(0, base.attr)
                base = base.value
            if not isinstance(base, ast.Name):
                continue
            hit = lookup(base.id)
            for attr in chain:
                if not isinstance(hit, str):
                    break
                hit = _resolve(hit, attr)
            if isinstance(hit, tuple):
                found.add(hit)
    return found


def reached(entries: set[Symbol]) -> set[Symbol]:
    """Every symbol the entry points reach."""
    mods = modules()
    todo, done = list(entries), set[Symbol]()
    while todo:
        symbol = todo.pop()
        if symbol in done:
            continue
        done.add(symbol)
        module, name = symbol
        todo.extend(_references(module, mods[module].defs[name]) - done)
    return done


def _source(symbol: Symbol) -> str:
    mod = modules()[symbol[0]]
    return ast.get_source_segment(mod.source, mod.defs[symbol[1]]) or ""


@cache
def _typed_fields() -> frozenset[tuple[str, str]]:
    """Dataclass fields holding a typed client, anywhere: (attribute name, service)."""
    found = set()
    for mod in modules().values():
        typed = rf"^\s+(\w+)\s*:\s*({_typed_pattern()})\b"
        for name, client in re.findall(typed, mod.source, re.M):
            found.add((name, typed_clients()[client]))
    return frozenset(found)


def _client_calls(text: str) -> dict[str, set[str]]:
    calls: dict[str, set[str]] = {}
    spot = r"""deps\.aws\(\s*["']([a-z0-9-]+)["'][^)]*\)\s*\.\s*(\w+)\("""
    for service, method in re.findall(spot, text):
        calls.setdefault(service, set()).add(method)
    bound = r"""^\s*(\w+)\s*=\s*(?:\w+\.)*deps\.aws\(\s*["']([a-z0-9-]+)["'][^)]*\)\s*$"""
    names = [(n, s) for n, s in re.findall(bound, text, flags=re.M)]
    typed = rf"\b(\w+)\s*:\s*(?:\w+\.)?({_typed_pattern()})\b"
    names += [(n, typed_clients()[c]) for n, c in re.findall(typed, text)]
    for name, service in names:
        methods = calls.setdefault(service, set())
        methods |= set(re.findall(rf"(?<![.\w]){name}\.(\w+)\(", text))
        methods |= set(re.findall(rf"""(?<![.\w]){name}\.get_paginator\(\s*["'](\w+)["']""", text))
    for name, service in _typed_fields():
        calls.setdefault(service, set()).update(re.findall(rf"\.{name}\.(\w+)\(", text))
    return calls


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@cache
def _operations(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name, for one service."""
    from botocore.session import get_session

    model = get_session().get_service_model(service)
    return {_snake(op): op for op in model.operation_names}


def iam_actions(service: str, methods: set[str]) -> set[str]:
    """The IAM actions of boto3 client methods (unknown methods ignored)."""
    prefix = IAM_PREFIX.get(service, service)
    operations = _operations(service)
    actions: set[str] = set()
    for method in methods & set(operations):
        action = f"{prefix}:{operations[method]}"
        action = IAM_ACTION.get(action, action)
        actions |= {action} | ALSO_NEEDS.get(action, set()) | ITEM_ACTIONS.get(action, set())
    actions -= set(ITEM_ACTIONS)
    return actions


@cache
def _store_actions() -> frozenset[str]:
    from chalicelib.store.once import DYNAMODB_ACTIONS  # Powertools' idempotency layer

    methods: set[str] = set()
    for path in (PACKAGE / "store").glob("*.py"):
        methods |= set(re.findall(r"\b_ddb\.(\w+)\(", path.read_text()))
    return frozenset(iam_actions("dynamodb", methods) | set(DYNAMODB_ACTIONS))


@cache
def _queue_methods() -> dict[str, frozenset[str]]:
    """``WorkQueue`` method -> the SQS operations it makes (through ``self.url`` too)."""
    mod = modules()["chalicelib.aws.queue"]
    cls = mod.defs["WorkQueue"]
    own: dict[str, set[str]] = {}
    uses: dict[str, set[str]] = {}
    for item in cls.body:  # type: ignore[attr-defined]
        if isinstance(item, ast.FunctionDef):
            text = ast.get_source_segment(mod.source, item) or ""
            own[item.name] = set(re.findall(r"\b_sqs\.(\w+)\(", text))
            uses[item.name] = set(re.findall(r"\bself\.(\w+)\b", text))
    result = {}
    for name in own:
        methods = set(own[name])
        for used in uses[name] & set(own):
            methods |= own[used]
        result[name] = frozenset(iam_actions("sqs", methods))
    return result


@dataclass
class Calls:
    """What one function does, by resource group."""

    environment: set[str] = field(default_factory=set)  # in an environment's account
    table: set[str] = field(default_factory=set)
    queue: set[str] = field(default_factory=set)
    dead_letter_queue: set[str] = field(default_factory=set)
    notifications: set[str] = field(default_factory=set)
    parameters: set[str] = field(default_factory=set)


def calls_of(entries: set[Symbol]) -> Calls:
    calls = Calls()
    for symbol in reached(entries):
        text = _source(symbol)
        for service, methods in _client_calls(text).items():
            calls.environment |= iam_actions(service, methods)
        if re.search(r"\.store\.", text):
            calls.table |= _store_actions()
        for method in re.findall(r"\.queue\.(\w+)\b", text):
            target = calls.dead_letter_queue if method == "dead_letter" else calls.queue
            target |= _queue_methods().get(method, frozenset())
        if re.search(r"\.notifier\.", text):
            calls.notifications.add("sns:Publish")
            calls.parameters.add("ssm:GetParameter")  # the Slack webhook URL
        if symbol[0] == "chalicelib.aws.parameters" and "get_parameter(" in text:
            calls.parameters.add("ssm:GetParameter")
    return calls


# --- entry points ---------------------------------------------------------------------------


def _decorator(node: ast.AST) -> tuple[str, str | None] | None:
    """(kind, name) of a Blueprint decorator: ("route", None), ("on_sqs_message", None),
    ("schedule", "budgets")."""
    for dec in getattr(node, "decorator_list", []):
        if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute)):
            continue
        if isinstance(dec.func.value, ast.Name) and dec.func.value.id == "bp":
            named = {k.arg: k.value for k in dec.keywords}
            name = named.get("name")
            return dec.func.attr, str(name.value) if isinstance(name, ast.Constant) else None
    return None


@cache
def function_entries() -> dict[str, frozenset[Symbol]]:
    """Chalice function name -> the handler symbols it runs (routes and middleware together)."""
    result: dict[str, set[Symbol]] = {}
    for mod in modules().values():
        if not mod.name.startswith("chalicelib.handlers."):
            continue
        for name, node in mod.defs.items():
            found = _decorator(node)
            if found is None:
                continue
            kind, given = found
            function = "api_handler" if kind == "route" else (given or name)
            result.setdefault(function, set()).add((mod.name, name))
    # app.py registers the HTTP middleware: it runs in the API handler
    app = (ROOT / "app.py").read_text()
    for name in re.findall(r"register_middleware\((\w+),\s*[\"']http[\"']\)", app):
        module = re.search(rf"from (chalicelib[\w.]*) import [^\n]*\b{name}\b", app)
        assert module, name
        result.setdefault("api_handler", set()).add((module.group(1), name))
    return {k: frozenset(v) for k, v in result.items()}


@cache
def function_calls() -> dict[str, Calls]:
    return {name: calls_of(set(entries)) for name, entries in function_entries().items()}
