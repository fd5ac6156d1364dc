"""Running agents: the training loop, its callbacks, checkpoints, logging, evaluation, and
groups of runs."""
