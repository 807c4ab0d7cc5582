import ctssw
import ctssw.errors


def test_public_names_are_pinned():
    assert ctssw.__all__ == sorted(ctssw.__all__)
    assert set(ctssw.__all__) == {
        "CtsswError", "Store", "__version__", "ingest_canonical", "panel", "panel_expr", "simulate", "simulate_panel",
    }


def test_error_tree():
    e = ctssw.errors
    assert issubclass(e.ConfigError, ValueError) and issubclass(e.ConfigError, e.CtsswError)
    assert issubclass(e.SchemaError, e.DataError)
    assert issubclass(e.StoreError, RuntimeError)
    assert issubclass(e.SingularFitWarning, UserWarning)
