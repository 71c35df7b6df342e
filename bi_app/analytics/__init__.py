"""Pure computations on plain numbers and DataFrames: no Dash, no database."""
