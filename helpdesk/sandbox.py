"""A Jinja sandbox whose cost is bounded: what a template may build, and for how long.

Any agent can type a template into the reply preview, so nothing in it may hold a web worker:

- the source is capped (`MAX_SOURCE`), and so are its parsed nodes (`MAX_NODES`, which bound the
  compile time) and their nesting (`MAX_DEPTH`, which Python's own compiler cannot take deep);
- only the constructs a reply needs are accepted: placeholders, ``if``, ``for``, comparisons,
  arithmetic, ``~`` and a few linear filters. ``set``, ``with``, ``macro``, ``filter`` blocks and
  dict literals, the only ways to keep and grow values, are refused before compiling;
- every operator goes through `call_binop`: no integer beyond `MAX_INT_BITS`, no string beyond
  `MAX_VALUE` (``'a' * 10**9`` and ``10**4000000`` are refused before Python computes them);
- ``for`` loops share `MAX_LOOP_STEPS` iterations, output is capped while it streams, and a
  deadline (`TIME_BUDGET`) is checked at every loop step, operator, lookup and output chunk.

With each step bounded in size and the steps bounded in number, a render ends in milliseconds;
the deadline is the belt to those braces. Refusals raise `LimitExceeded` with a translated message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from flask_babel import gettext as _
from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from .errors import DomainError

MAX_SOURCE = 20_000       # characters: a reply's own cap (workflows.REPLY_MAX)
MAX_TAGS = 100            # ``{{`` and ``{%``, counted before parsing (parsing costs too)
MAX_NODES = 500           # parsed nodes: compiling costs ~0.1 ms each
MAX_DEPTH = 30            # node nesting: Python's compiler fails near 100 nested blocks
MAX_OUTPUT = 50_000       # characters of rendered text
MAX_VALUE = MAX_OUTPUT    # characters of any string one operation builds
MAX_INT_BITS = 1_000      # about 300 digits: more than any ticket number or amount
MAX_LOOP_STEPS = 1_000    # iterations of all loops together
TIME_BUDGET = 0.5         # seconds: far above a real render (~1 ms), far below a stuck worker

#: Filters whose output grows at most linearly with their input; others are not available.
FILTERS = frozenset({
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "int", "last", "length",
    "lower", "round", "string", "striptags", "title", "trim", "truncate", "upper", "wordcount",
})

#: What a reply may contain; anything else is refused before compiling.
ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.If, nodes.For, nodes.Compare,
    nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.CondExpr,
    nodes.Concat, nodes.BinExpr, nodes.List, nodes.Tuple, nodes.Keyword, nodes.Call,
)
#: How a refused construct is named to the agent.
TAGS = {nodes.Assign: "set", nodes.AssignBlock: "set", nodes.With: "with", nodes.Macro: "macro",
        nodes.CallBlock: "call", nodes.FilterBlock: "filter", nodes.Dict: "{…}"}

_STEPS, _VALUE = "hd_steps", "hd_value"  # our internal filters; agents cannot name them


class TemplateProblem(DomainError):
    """The template cannot be rendered; the message says why, for the agent."""


class LimitExceeded(TemplateProblem):
    """The template breaks one of the sandbox's limits; the message says which."""


@dataclass
class _Budget:
    deadline: float
    steps: int = 0
    output: int = 0
    chunks: list[str] = field(default_factory=list)


_budget: ContextVar[_Budget | None] = ContextVar("hd_template_budget", default=None)


def _tick() -> _Budget:
    budget = _budget.get()
    if budget is None:  # rendered outside render(): no budget was granted
        raise LimitExceeded(_("La plantilla tarda demasiado en mostrarse."))
    if time.monotonic() > budget.deadline:
        raise LimitExceeded(_("La plantilla tarda demasiado en mostrarse."))
    return budget


def _check_value(value):
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(_("La plantilla calcula un número demasiado grande."))
    if isinstance(value, str) and len(value) > MAX_VALUE:
        raise LimitExceeded(_("La plantilla construye un texto demasiado largo."))
    return value


def _loop_steps(iterable: Iterable) -> Iterator:
    for item in iterable:
        budget = _tick()
        budget.steps += 1
        if budget.steps > MAX_LOOP_STEPS:
            raise LimitExceeded(_("Los bucles de la plantilla dan demasiadas vueltas (máximo "
                                  "%(max)d).", max=MAX_LOOP_STEPS))
        yield item


class BoundedEnvironment(SandboxedEnvironment):
    """No attribute or item lookups except on the plain dicts we pass in; every operator and
    loop step checked against the limits above."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.globals.clear()  # range, dict, lipsum, cycler, joiner, namespace: none is documented
        self.filters = {name: self.filters[name] for name in FILTERS}
        self.filters[_STEPS] = _loop_steps
        self.filters[_VALUE] = _check_value

    def is_safe_attribute(self, obj, attr, value):
        return isinstance(obj, dict) and not attr.startswith("_")

    def is_safe_callable(self, obj):
        return False

    def getattr(self, obj, attribute):
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _tick()
        return super().getitem(obj, argument)

    def call(self, __context, __obj, *args, **kwargs):
        """Nothing is callable; an unknown name (``lipsum()``) says so, as a placeholder would."""
        if isinstance(__obj, Undefined):
            __obj._fail_with_undefined_error()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        """Refuse before computing what would be too big; check what was computed."""
        _tick()
        _check_value(left)
        _check_value(right)
        if operator == "**" and _is_int(left) and _is_int(right) and right > 0 \
                and max(left.bit_length(), 1) * right > MAX_INT_BITS:
            raise LimitExceeded(_("La plantilla calcula un número demasiado grande."))
        if operator == "*" and _is_int(right) and isinstance(left, str | list | tuple):
            left, right = right, left
        if operator == "*" and _is_int(left) and isinstance(right, str | list | tuple):
            if not isinstance(right, str):
                raise LimitExceeded(_("La plantilla usa una operación no permitida."))
            if len(right) * max(left, 0) > MAX_VALUE:
                raise LimitExceeded(_("La plantilla construye un texto demasiado largo."))
        if operator == "%" and isinstance(left, str):  # '%0999999999d' % 1
            raise LimitExceeded(_("La plantilla usa una operación no permitida."))
        return _check_value(super().call_binop(context, operator, left, right))

    def bounded_template(self, source: str):
        """Check `source` against the limits and compile it with the runtime checks woven in."""
        if len(source) > MAX_SOURCE:
            raise LimitExceeded(_("La plantilla es demasiado larga (máximo %(max)d caracteres).",
                                  max=MAX_SOURCE))
        if source.count("{{") + source.count("{%") > MAX_TAGS:
            raise LimitExceeded(_("La plantilla tiene demasiados marcadores o bloques (máximo "
                                  "%(max)d).", max=MAX_TAGS))
        try:
            tree = self.parse(source)
        except RecursionError:
            raise _too_deep() from None
        _check_tree(tree)
        tree = _Guards().visit(tree)
        tree.set_environment(self)
        return self.from_string(tree)

    def render_bounded(self, template, context: dict) -> str:
        """Render within the time budget, refusing output beyond `MAX_OUTPUT` as it streams."""
        budget = _Budget(deadline=time.monotonic() + TIME_BUDGET)
        token = _budget.set(budget)
        try:
            for chunk in template.generate(context):
                _tick()
                budget.output += len(chunk)
                if budget.output > MAX_OUTPUT:
                    raise LimitExceeded(_("El texto resultante es demasiado largo."))
                budget.chunks.append(chunk)
        finally:
            _budget.reset(token)
        return "".join(budget.chunks)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _too_deep() -> LimitExceeded:
    return LimitExceeded(_("La plantilla anida demasiados niveles (máximo %(max)d).",
                           max=MAX_DEPTH))


def _check_tree(tree: nodes.Template) -> None:
    """Walk the parsed template: size, depth, constructs and filters, before any compiling."""
    count, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise LimitExceeded(_("La plantilla tiene demasiados elementos (máximo %(max)d).",
                                  max=MAX_NODES))
        if depth > MAX_DEPTH:
            raise _too_deep()
        if not isinstance(node, ALLOWED_NODES):
            what = TAGS.get(type(node), type(node).__name__.lower())
            raise LimitExceeded(_("La plantilla usa «%(what)s», que no está disponible en las "
                                  "respuestas.", what=what))
        if isinstance(node, nodes.For) and node.recursive:
            raise LimitExceeded(_("La plantilla usa «%(what)s», que no está disponible en las "
                                  "respuestas.", what="recursive"))
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise LimitExceeded(_("Filtro no disponible: %(name)s. Disponibles: %(names)s.",
                                  name=node.name, names=", ".join(sorted(FILTERS))))
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


class _Guards(NodeTransformer):
    """Count every loop step; check the length of every ``~`` (Jinja does not intercept it)."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = _filter(node.iter, _STEPS)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        self.generic_visit(node)
        return _filter(node, _VALUE)


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
