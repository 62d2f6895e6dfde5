"""The engine: the problem a fit solves, the one-fit kernel, the optimum kernel and the one batching layer."""
