"""The documentation tests' one shrink fixture (see docs/contributing.md).

`tests/test_docs.py` runs every code block of the documentation's guides as a reader would,
with this folder first on PYTHONPATH, so every Python process those blocks start (`rlkit ...`,
`python scripts/...`, a Python block) imports this module first. It makes a command of minutes
take seconds and changes nothing else:

- every run trains at most RLKIT_DOCS_STEPS environment steps (default 3,000), with periodic
  evaluations of 2 episodes, a final one of at most 5, a replay of at most 10,000 transitions
  and learning from a quarter of the run at the latest; an Atari game is truncated after 2,000
  frames;
- `--seeds A-B` trains the first and the last seed of the list only, so a group folder keeps
  the name the docs give it (`...-seeds1001-1100`);
- `rlkit tune` draws at most 2 trials and confirms the best 1 on 1 seed;
- a resume with `--steps N` trains at most RLKIT_DOCS_STEPS steps past the checkpoint's run;
- `rlkit board` starts TensorBoard, prints its address and returns instead of serving.

Reading these rules is how to know what a green docs test promises: every command and call
runs, and the files and folders the guides name appear; the returns a shrunk run reaches are
not the ones the guides quote.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys

STEPS = int(os.environ.get("RLKIT_DOCS_STEPS", "3000"))
ATARI_FRAMES = 2_000  # an Atari game truncated after 2,000 frames (500 agent steps)


def _shrink_config(config):
    train, agent = config.train, config.agent
    train.total_steps = min(train.total_steps, STEPS)
    if train.eval_interval:
        train.eval_interval = min(train.eval_interval, max(1, train.total_steps // 2))
    train.eval_episodes = min(train.eval_episodes, 2)
    train.final_eval_episodes = min(train.final_eval_episodes, 5)
    if getattr(agent, "buffer_size", None):
        agent.buffer_size = min(agent.buffer_size, 10_000)
    if getattr(agent, "learning_starts", None):
        agent.learning_starts = min(agent.learning_starts, train.total_steps // 4)
    if config.env.id.startswith("ALE/"):
        config.env.max_frames = min(config.env.max_frames, ATARI_FRAMES)
    return config


def _patch_config(module) -> None:
    build = module.build_config

    @functools.wraps(build)
    def build_config(*args, **kwargs):
        return _shrink_config(build(*args, **kwargs))

    module.build_config = build_config


def _patch_launch(module) -> None:
    parse = module.parse_seeds

    @functools.wraps(parse)
    def parse_seeds(text):
        seeds = parse(text)
        return seeds if len(seeds) <= 2 else [seeds[0], seeds[-1]]

    module.parse_seeds = parse_seeds


def _patch_trainer(module) -> None:
    resume = module.resume

    @functools.wraps(resume)
    def resume_shrunk(run_dir, total_steps=None, *args, **kwargs):
        if total_steps is not None:
            import json
            from pathlib import Path

            folder = Path(run_dir)
            config = folder / "config.json" if (folder / "config.json").is_file() else folder.parent / "config.json"
            done = json.loads(config.read_text())["train"]["total_steps"]
            total_steps = min(total_steps, done + STEPS)
        return resume(run_dir, total_steps, *args, **kwargs)

    module.resume = resume_shrunk


def _patch_sweep(module) -> None:
    request = module.Request
    init = request.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.samples = min(self.samples, 2)
        self.concurrent = min(self.concurrent, 2)
        self.top = min(self.top, 1)
        self.confirm_seeds = min(self.confirm_seeds, 1)

    request.__init__ = __init__


def _patch_board(module) -> None:
    start = module.start_board

    @functools.wraps(start)
    def start_board(*args, **kwargs):
        address = start(*args, **kwargs)
        print(f"TensorBoard on {address} (the docs tests stop it here)", flush=True)
        os._exit(0)

    module.start_board = start_board


PATCHES = {
    "rlkit.config": _patch_config,
    "rlkit.run.launch": _patch_launch,
    "rlkit.run.trainer": _patch_trainer,
    "rlkit.tune.sweep": _patch_sweep,
    "rlkit.board": _patch_board,
}


class _Patcher(importlib.abc.MetaPathFinder):
    """Finds the modules above as usual, then patches each once it has been executed."""

    def find_spec(self, name, path=None, target=None):
        if name not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            PATCHES[name](module)

        spec.loader.exec_module = exec_and_patch
        return spec


sys.meta_path.insert(0, _Patcher())
