"""Ibis expressions to pandas through Arrow's own conversion."""

from __future__ import annotations

import pandas as pd


def to_frame(expr) -> pd.DataFrame:
    """``expr`` as a pandas DataFrame, with the dtypes Ibis's ``to_pandas`` gives (dates as
    ``datetime64[s]``), converted by Arrow: Ibis's own column-by-column pass took 15 s of a
    2.6M-row panel that Arrow converts in under one."""
    return to_arrow(expr).to_pandas()


def to_arrow(expr):
    """``expr`` as the Arrow table :func:`to_frame` converts: the expression's own types, dates as
    ``timestamp[s]``. Filtering rows here is columnar: the privacy floor over a 2.4M-row panel
    took 1.5-2.3 s on the pandas frame."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = expr.to_pyarrow()
    want = expr.schema().to_pyarrow()
    cols = []
    for c, f in zip(t.columns, want, strict=True):
        if c.type != f.type:  # Spark hands a column of NULLs over untyped
            c = pc.cast(c, f.type)
        cols.append(pc.cast(c, pa.timestamp("s")) if pa.types.is_date(c.type) else c)
    return pa.table(cols, names=t.column_names)
