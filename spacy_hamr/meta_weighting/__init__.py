"""The callback's maths: the weighting strategies, the weight net, the look-ahead
and its random streams, the meta set, the class rates, and the loss adapters
that put per-example weights into the components' gradients."""
