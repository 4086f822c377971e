"""For project/ and benchmarks/: the paper's datasets (conversion), the compared
variants, planted label errors and the comparison's metrics."""
