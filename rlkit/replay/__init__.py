"""Replay memories: ReplayBuffer for vector observations, FrameReplay for pixels and grids, and
their samplers."""
