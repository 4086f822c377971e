"""The batcher's maths: the sampling distribution, the hardness it follows, and
the neighbour boost (embedders, nearest-neighbour index)."""
