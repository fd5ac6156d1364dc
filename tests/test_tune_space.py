"""`rlkit tune` without Ray: the search-space sampler, coarse-to-fine refinement, and every bad
input refused in one line, with exit 2 and no sweep folder, before Ray would start."""

import sys

import numpy as np
import pytest
from conftest import free_port, run_child

from rlkit.errors import RlkitError
from rlkit.tune.space import Dimension, Space, parse_dimension, parse_space, refine


def _decade_counts(values: np.ndarray, low_exponent: int, high_exponent: int) -> np.ndarray:
    return np.histogram(np.log10(values), bins=np.arange(low_exponent, high_exponent + 1))[0]


def _assert_even(counts: np.ndarray) -> None:
    """Counts of equally likely bins: each within 5 standard errors of n/k (a binomial)."""
    n, k = counts.sum(), len(counts)
    expected, sd = n / k, np.sqrt(n * (1 / k) * (1 - 1 / k))
    assert np.all(np.abs(counts - expected) < 5 * sd), counts


def test_log_uniform_draws_fall_evenly_across_decades():
    dimension = parse_dimension("learning_rate", {"log_uniform": [1e-5, 1e-1]}, "test")
    rng = np.random.default_rng(0)
    values = np.array([dimension.sample(rng) for _ in range(20_000)])
    assert values.min() >= 1e-5 and values.max() <= 1e-1
    counts = _decade_counts(values, -5, -1)
    _assert_even(counts)
    # a uniform draw on the same range would put ~90% in the top decade: the test can tell them apart
    uniform = rng.uniform(1e-5, 1e-1, 20_000)
    with pytest.raises(AssertionError):
        _assert_even(_decade_counts(uniform, -5, -1))


def test_one_minus_log_uniform_draws_one_minus_beta_evenly_across_decades():
    dimension = parse_dimension("gamma", {"one_minus_log_uniform": [0.9, 0.9999]}, "test")
    rng = np.random.default_rng(1)
    values = np.array([dimension.sample(rng) for _ in range(20_000)])
    assert values.min() >= 0.9 and values.max() <= 0.9999
    _assert_even(_decade_counts(1.0 - values, -4, -1))  # 1 − γ in [1e-4, 1e-1]: three decades
    # as many draws in [0.9, 0.99] as in [0.999, 0.9999]
    assert abs(np.mean(values < 0.99) - np.mean(values > 0.999)) < 0.02


def test_uniform_int_uniform_and_choice():
    rng = np.random.default_rng(2)
    ints = [parse_dimension("train_freq", {"int_uniform": [1, 4]}, "t").sample(rng) for _ in range(4000)]
    assert set(ints) == {1, 2, 3, 4} and all(isinstance(v, int) for v in ints)
    _assert_even(np.bincount(ints)[1:])
    floats = [parse_dimension("tau", {"uniform": [0.0, 0.5]}, "t").sample(rng) for _ in range(4000)]
    assert 0.0 <= min(floats) and max(floats) <= 0.5
    _assert_even(np.histogram(floats, bins=5, range=(0, 0.5))[0])
    choices = [parse_dimension("batch_size", {"choice": [32, 64, 128]}, "t").sample(rng) for _ in range(3000)]
    assert set(choices) == {32, 64, 128}


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"log_uniform": [1e-2, 1e-4]}, "needs low < high"),
        ({"uniform": [0.5, 0.5]}, "needs low < high"),
        ({"log_uniform": [0.0, 1e-2]}, "reaches 0 or below"),
        ({"log_uniform": [-1.0, 1e-2]}, "reaches 0 or below"),
        ({"one_minus_log_uniform": [0.9, 1.0]}, "needs 0 <= low < high < 1"),
        ({"loguniform": [1e-5, 1e-2]}, "unknown distribution 'loguniform'; valid: log_uniform"),
        ({"choice": []}, "non-empty list"),
        ({"int_uniform": [1, 2.5]}, "whole numbers"),
        ({"uniform": [0, "a"]}, "needs [low, high], two numbers"),
        (0.001, "is not a distribution"),
    ],
)
def test_bad_distributions_name_the_key_and_what_is_valid(spec, message):
    with pytest.raises(RlkitError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
        parse_dimension("learning_rate", spec, "space.toml")
    assert "space.toml: learning_rate" in str(error.value)


def test_refine_narrows_each_range_around_the_best_quarter():
    space = Space(
        (
            Dimension("learning_rate", "log_uniform", 1e-5, 1e-1),
            Dimension("gamma", "one_minus_log_uniform", 0.9, 0.9999),
            Dimension("train_freq", "int_uniform", 1, 16),
            Dimension("batch_size", "choice", choices=(32, 64, 128, 256)),
        )
    )
    # 12 trials, best first: the best quarter (3) has rates 1e-3..4e-3, 1 − γ 1e-3..1e-2, freq 4..6
    best = [
        {"learning_rate": 1e-3, "gamma": 0.999, "train_freq": 4, "batch_size": 64},
        {"learning_rate": 4e-3, "gamma": 0.99, "train_freq": 6, "batch_size": 128},
        {"learning_rate": 2e-3, "gamma": 0.995, "train_freq": 5, "batch_size": 64},
    ]
    rest = [{"learning_rate": 1e-5 * 10**i, "gamma": 0.9, "train_freq": 16, "batch_size": 256} for i in range(9)]
    narrowed = refine(space, best + [rest[i % len(rest)] for i in range(9)])
    rate = narrowed["learning_rate"]
    # log10 range [-3, -2.4] widened by 0.1 × 4 decades on each side: [-3.4, -2.0]
    assert np.log10(rate.low) == pytest.approx(-3.4) and np.log10(rate.high) == pytest.approx(np.log10(4e-3) + 0.4)
    gamma = narrowed["gamma"]
    # log10(1 − γ) range [-3, -2] widened by 0.1 × 3 decades: 1 − γ in [10^-3.3, 10^-1.7]
    assert np.log10(1 - gamma.high) == pytest.approx(-3.3) and np.log10(1 - gamma.low) == pytest.approx(-1.7)
    freq = narrowed["train_freq"]
    assert (freq.low, freq.high) == (2, 8)  # [4, 6] ± 1.5, outward to whole numbers
    assert narrowed["batch_size"].choices == (64, 128)
    # every narrowed range lies inside the old one
    for old, new in zip(space.dimensions[:3], narrowed.dimensions[:3]):
        assert old.low <= new.low < new.high <= old.high


def test_refine_keeps_ranges_inside_the_old_ones_at_the_edges():
    space = Space((Dimension("learning_rate", "log_uniform", 1e-4, 1e-2),))
    narrowed = refine(space, [{"learning_rate": 1e-2}, {"learning_rate": 9e-3}] + [{"learning_rate": 1e-4}] * 6)
    assert narrowed["learning_rate"].high == pytest.approx(1e-2)
    assert narrowed["learning_rate"].low == pytest.approx(9e-3 * 10**-0.2)


def test_parse_space_checks_keys():
    def check(key):
        if key != "learning_rate":
            raise RlkitError(f"unknown key {key!r}")

    with pytest.raises(RlkitError, match="space.toml: unknown key 'lerning_rate'"):
        parse_space({"lerning_rate": {"log_uniform": [1e-4, 1e-2]}}, "space.toml", check)
    with pytest.raises(RlkitError, match="search space is empty"):
        parse_space({}, "space.toml", check)


# ---------------------------------------------------------------- the command's bad input


def _tune(tmp_path, *args, env=None):
    """rlkit tune in a subprocess (these never start Ray: every check comes first; should one
    start a sweep, run_child stops all of it at the timeout)."""
    process = run_child(
        [sys.executable, "-m", "rlkit.cli", "tune", "--run-dir", str(tmp_path / "runs"), *map(str, args)],
        timeout=120,
        env=env,
    )
    return process.returncode, process.stdout, process.stderr


def _space(tmp_path, text: str):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "line, message",
    [
        ("lerning_rate = { log_uniform = [1e-4, 1e-2] }", "unknown key 'lerning_rate'"),
        ("learning_rate = { log_uniform = [1e-2, 1e-4] }", "needs low < high"),
        ("learning_rate = { log_uniform = [0, 1e-2] }", "reaches 0 or below"),
        ("learning_rate = { gaussian = [0, 1] }", "unknown distribution 'gaussian'"),
        ("gamma = { uniform = [0.9, 1.5] }", "a value inside the space is not valid"),
    ],
)
def test_bad_space_is_one_line_exit_2_and_no_sweep_folder(tmp_path, line, message):
    code, _, err = _tune(tmp_path, "--agent", "qlearning", "--env", "taxi", "--space", _space(tmp_path, line))
    assert code == 2, err
    assert message in err and err.startswith("rlkit: error:") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_asha_with_a_space_that_varies_the_budget_is_one_line_exit_2_and_no_sweep_folder(tmp_path):
    space = _space(tmp_path, "learning_rate = { log_uniform = [0.05, 1.0] }\ntotal_steps = { choice = [20000, 40000] }")
    code, _, err = _tune(tmp_path, "--agent", "qlearning", "--env", "taxi", "--space", space, "--scheduler", "asha")
    assert code == 2 and err.startswith("rlkit: error:") and len(err.strip().splitlines()) == 1, err
    assert "total_steps varies, but --scheduler asha" in err and "--scheduler fifo" in err, err
    assert not (tmp_path / "runs").exists()


def test_unreachable_address_is_reported_quickly_with_no_sweep_folder(tmp_path):
    pytest.importorskip("ray", reason="needs the tune extra (pip install 'rlkit[tune]')")
    space = _space(tmp_path, "learning_rate = { log_uniform = [1e-4, 1e-2] }")
    code, _, err = _tune(
        tmp_path, "--agent", "qlearning", "--env", "taxi", "--space", space, "--address", f"127.0.0.1:{free_port()}"
    )
    assert code == 2 and "no Ray cluster answers there" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()
    code, _, err = _tune(tmp_path, "--agent", "qlearning", "--env", "taxi", "--space", space, "--address", "nowhere")
    assert code == 2 and "is not HOST:PORT" in err


def test_missing_tune_extra_is_one_line(tmp_path):
    blocker = tmp_path / "blocker"
    (blocker / "ray").mkdir(parents=True)
    (blocker / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    space = _space(tmp_path, "learning_rate = { log_uniform = [1e-4, 1e-2] }")
    code, _, err = _tune(tmp_path, "--agent", "qlearning", "--env", "taxi", "--space", space, env=env)
    assert code == 2 and "pip install 'rlkit[tune]'" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_an_agent_preset_without_a_search_table_asks_for_a_space(tmp_path):
    preset = tmp_path / "mine.toml"
    preset.write_text('algo = "qlearning"\n[agent]\nlearning_rate = 0.2\n')
    code, _, err = _tune(tmp_path, "--agent", preset, "--env", "taxi")
    assert code == 2 and "has no [search] table; give a space with --space" in err, err
    assert not (tmp_path / "runs").exists()


def test_every_built_in_agent_preset_has_a_valid_default_space():
    from rlkit.config import preset_files
    from rlkit.tune.sweep import Request, check_request, default_space

    envs = {"tabular": "taxi", "vector": "cartpole", "atari": "breakout", "minatar": "minatar-breakout"}
    for name in preset_files("agents"):
        table, origin = default_space(name)
        kind = (
            "tabular"
            if "sarsa" in name or "qlearning" in name
            else "atari"
            if name in ("dqn-atari", "dqn-nature")
            else "minatar"
            if "minatar" in name
            else "vector"
        )
        space = check_request(Request(name, envs[kind], table, samples=4, concurrent=2), origin)
        assert "learning_rate" in space.keys and "gamma" in space.keys
