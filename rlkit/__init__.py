"""rlkit: value-based reinforcement learning (tabular Q-learning and DQN)."""

__version__ = "0.1.0"
