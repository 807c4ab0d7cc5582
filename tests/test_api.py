import ctssw
import ctssw.errors


def test_public_names_are_pinned():
    assert ctssw.__all__ == sorted(ctssw.__all__)
    assert set(ctssw.__all__) == {
        "CtsswError", "Store", "__version__", "attribute", "compare", "dynamic_panel", "gmm", "ingest_canonical", "lmm",
        "panel", "panel_expr", "sensitivity", "simulate", "simulate_panel", "staggered_did",
    }
    import ctssw.estimators as est

    assert est.__all__ == sorted(est.__all__)
    for name in est.__all__:
        assert hasattr(est, name)


def test_error_tree():
    e = ctssw.errors
    assert issubclass(e.ConfigError, ValueError) and issubclass(e.ConfigError, e.CtsswError)
    assert issubclass(e.SchemaError, e.DataError)
    assert issubclass(e.StoreError, RuntimeError)
    assert issubclass(e.SingularFitWarning, UserWarning)
