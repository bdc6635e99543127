"""Pandera contracts of the assets.

pandera registers its polars backends (importing its built-in checks, about 0.1 s here) on the
first validation in a process. One empty validation when the contracts are imported makes that
part of start-up, with the other imports, rather than of the first file's load.
"""

import pandera.polars as pa
import polars as pl

pa.DataFrameSchema({}).validate(pl.DataFrame())
