"""bindings/python/README.md against the code: the signatures it shows, its
option table (names, choices, defaults) and its FitResult fields, so that the
README cannot lag behind the package again (issue 28)."""

import ast
import inspect
import re

import numpy as np
import pytest

import wlra
from wlra import _library as C

from conftest import REPO

README = (REPO / "bindings" / "python" / "README.md").read_text(encoding="utf-8")


def table_after(heading):
    """{first cell: [other cells]} of the first Markdown table after the line
    `heading`, with the first cell's backticks removed."""
    lines = README[README.index(heading + "\n"):].splitlines()[1:]
    start = next(k for k, line in enumerate(lines) if line.startswith("|"))
    rows = {}
    for line in lines[start + 2:]:  # after the header and |---| rows
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


OPTIONS = table_after("### Options")
FIELDS = table_after("`FitResult` (`tests/test_readme.py` checks this list against the class):")
# The options whose values are names, and the package's table of those names.
CHOICES = {"solver": C.SOLVERS, "init": C.INITS, "method": C.METHODS,
           "ridge_scaling": C.RIDGE_SCALINGS, "offsets": C.OFFSETS}


def documented_signature(call):
    """The parameter list the README shows for `call(...)`."""
    m = re.search(r"`" + re.escape(call) + r"(\([^`]*\))`", README)
    assert m, f"the README shows no signature of {call}"
    return m.group(1)


def parameters(text):
    """[(name, kind, default)] of a parameter list `(a, b=1, *, c, **d)`, the
    defaults as values (so 1e-8 and 1e-08 agree)."""
    args = ast.parse(f"def f{text}: pass").body[0].args
    out = [(a.arg, "positional", None) for a in args.args[:len(args.args) - len(args.defaults)]]
    out += [(a.arg, "positional", ast.literal_eval(d)) for a, d in zip(args.args[len(args.args) - len(args.defaults):], args.defaults)]
    out += [(a.arg, "keyword", None if d is None else ast.literal_eval(d)) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        out.append((args.kwarg.arg, "**", None))
    return out


def signature(f):
    return parameters(str(inspect.signature(f)))


def quoted(cell):
    return set(re.findall(r'"(\w+)"', cell))


def test_readme_shows_the_signatures_of_fit_and_fit_sparse():
    assert parameters(documented_signature("wlra.fit")) == signature(wlra.fit)
    assert parameters(documented_signature("wlra.fit_sparse")) == signature(wlra.fit_sparse)


def test_readme_shows_the_signature_of_the_estimator():
    pytest.importorskip("sklearn")
    assert parameters(documented_signature("wlra.WLRA")) == signature(wlra.WLRA)
    # "The parameters are wlra.fit's options (all but folds and held_out_fold)"
    options = set(inspect.signature(wlra.WLRA).parameters) - {"n_components", "verbose"}
    assert options == set(OPTIONS) - {"folds", "held_out_fold"}


def test_readme_option_table_lists_exactly_the_options_fit_accepts():
    assert set(OPTIONS) == set(C.OPTIONS), (
        f"the README lacks {sorted(set(C.OPTIONS) - set(OPTIONS))}, has unknown {sorted(set(OPTIONS) - set(C.OPTIONS))}")
    M = np.outer(np.arange(1.0, 5.0), np.arange(1.0, 4.0))
    for name in OPTIONS:  # each is a keyword argument fit accepts...
        with pytest.raises(wlra.InvalidArgumentError):
            wlra.fit(M, rank=1, **{name: float("nan")})
    with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_option'"):
        wlra.fit(M, rank=1, no_such_option=1)  # ...unlike a name outside the table


def test_readme_lists_the_names_each_option_accepts():
    M = np.outer(np.arange(1.0, 5.0), np.arange(1.0, 4.0))
    for name, (values, _default) in OPTIONS.items():
        if name not in CHOICES:
            assert not quoted(values), f"{name}: the README quotes names the package does not take"
            continue
        # The names the package accepts, as its own error message lists them.
        with pytest.raises(wlra.InvalidArgumentError) as err:
            wlra.fit(M, rank=1, **{name: "no_such_name"})
        accepted = ast.literal_eval(re.search(r"is not one of (\[.*\])", str(err.value)).group(1))
        assert quoted(values) == set(accepted) == set(CHOICES[name]), name


def test_readme_defaults_are_the_library_defaults():
    if C.option_info(C.OPTIONS["seed"]) is None:
        pytest.skip("a library before 1.2 has no wlra_option_info")
    for name, (_values, default) in OPTIONS.items():
        _c_name, _low, _high, library_default = C.option_info(C.OPTIONS[name])
        if default.startswith('"'):
            documented = CHOICES[name][default.strip('"')]
        else:
            documented = float(default)
        assert documented == library_default, f"{name}: README {default}, library {library_default}"


def test_readme_lists_exactly_the_fields_of_fit_result():
    public = {n for n in dir(wlra.FitResult) if not n.startswith("_")}
    documented = {re.sub(r"\(.*\)$", "", field) for field in FIELDS}
    assert documented == public, (
        f"the README lacks {sorted(public - documented)}, has unknown {sorted(documented - public)}")
    for field in FIELDS:  # methods with parentheses, attributes without
        name = re.sub(r"\(.*\)$", "", field)
        assert field.endswith(")") == inspect.isfunction(getattr(wlra.FitResult, name)), field


def test_fitted_is_as_documented_with_offsets():
    # The README: fitted() is a 1^T + 1 b^T + U diag(s) V^T with the offsets the fit had.
    rng = np.random.default_rng(28)
    M = rng.standard_normal((12, 2)) @ rng.standard_normal((2, 9)) + rng.standard_normal(12)[:, None] + 3.0
    fit = wlra.fit(M, rank=2, offsets="both")
    assert fit.row_offsets.shape == (12,) and fit.col_offsets.shape == (9,)
    model = fit.row_offsets[:, None] + fit.col_offsets[None, :] + (fit.U * fit.s) @ fit.V.T
    np.testing.assert_allclose(fit.fitted(), model, rtol=0, atol=1e-12)
    plain = wlra.fit(M, rank=2)
    assert plain.row_offsets is None and plain.col_offsets is None
    np.testing.assert_allclose(plain.fitted(), (plain.U * plain.s) @ plain.V.T, rtol=0, atol=1e-12)
