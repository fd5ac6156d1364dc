import json

import numpy as np
from conftest import only_run
from safetensors.numpy import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rlkit.run.callbacks import _crossed


def test_a_short_qlearning_run_writes_everything(cli, tmp_path):
    code, out, _ = cli(
        "train",
        "--agent",
        "qlearning",
        "--env",
        "taxi",
        "--steps",
        3000,
        "--seed",
        3,
        "--set",
        "eval_interval=1000",
        "--set",
        "eval_episodes=5",
        "--set",
        "final_eval_episodes=7",
        "--set",
        "log_interval=500",
        "--run-dir",
        tmp_path,
        "--no-progress",
    )
    assert code == 0
    run = only_run(tmp_path)
    assert run.parent.name == "qlearning" and run.parent.parent.name == "taxi" and run.name.endswith("-s3")
    assert f"watch it:   rlkit board {tmp_path}" in out
    assert out.count("final eval:") == 1 and f"run folder {run}" in out

    config = json.loads((run / "config.json").read_text())
    assert config["train"]["total_steps"] == 3000 and config["env"]["id"] == "Taxi-v4"

    result = json.loads((run / "eval.json").read_text())
    assert result["episodes"] == 7 and len(result["returns"]) == 7
    assert result["return_mean"] == np.mean(result["returns"]) and result["return_std"] == np.std(result["returns"])

    latest = run / "checkpoints" / "step-000000003000"
    q_table = load_file(str(latest / "tensors.safetensors"))["q_table"]
    assert q_table.shape == (500, 6) and np.abs(q_table).sum() > 0

    events = EventAccumulator(str(run)).Reload()
    tags = set(events.Tags()["scalars"])
    assert {
        "rollout/episode_return",
        "rollout/episode_length",
        "train/epsilon",
        "train/learning_rate",
        "time/sps",
        "eval/return_mean",
        "eval/return_std",
    } <= tags
    eval_steps = [event.step for event in events.Scalars("eval/return_mean")]
    assert eval_steps == [1000, 2000, 3000]
    epsilons = [event.value for event in events.Scalars("train/epsilon")]
    assert epsilons == sorted(epsilons, reverse=True) and epsilons[0] < 1.0
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")
    layout = events.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0]  # a serialized Layout
    assert b"rollout/episode_return" in layout and b"eval/return_mean" in layout and b"time/sps" in layout


def test_a_grid_world_run_shows_its_q_table_and_policy(cli, tmp_path):
    code, _, err = cli(
        "train",
        "--agent",
        "qlearning",
        "--env",
        "cliffwalking",
        "--steps",
        3000,
        "--set",
        "eval_interval=1500",
        "--set",
        "final_eval_episodes=1",
        "--run-dir",
        tmp_path,
        "--no-progress",
    )
    assert code == 0, err
    events = EventAccumulator(str(only_run(tmp_path))).Reload()
    assert {"eval/q_table", "eval/policy"} <= set(events.Tags()["images"])
    assert [image.step for image in events.Images("eval/q_table")] == [1500, 3000]
    assert events.Images("eval/q_table")[0].width > events.Images("eval/q_table")[0].height  # states across


def test_runs_never_share_a_folder(cli, tmp_path):
    args = (
        "train",
        "--agent",
        "qlearning",
        "--env",
        "taxi",
        "--steps",
        200,
        "--set",
        "final_eval_episodes=1",
        "--set",
        "eval_interval=0",
        "--run-dir",
        tmp_path,
        "--no-progress",
    )
    assert cli(*args)[0] == 0 and cli(*args)[0] == 0
    runs = sorted(p for p in tmp_path.glob("taxi/qlearning/*"))
    assert len(runs) == 2 and all((r / "eval.json").exists() for r in runs)


def test_a_short_dqn_run_on_cartpole(cli, tmp_path):
    code, _, _ = cli(
        "train",
        "--agent",
        "dqn",
        "--env",
        "cartpole",
        "--steps",
        1500,
        "--set",
        "learning_starts=500",
        "--set",
        "train_freq=4",
        "--set",
        "gradient_steps=1",
        "--set",
        "eval_interval=0",
        "--set",
        "final_eval_episodes=2",
        "--set",
        "log_interval=250",
        "--set",
        "env.num_envs=2",
        "--set",
        "net_arch=[32, 32]",
        "--set",
        "dueling=false",  # a plain head (the cartpole preset turns dueling on)
        "--run-dir",
        tmp_path,
        "--no-progress",
    )
    assert code == 0
    run = only_run(tmp_path)
    events = EventAccumulator(str(run)).Reload()
    assert {"train/loss", "train/q_mean", "train/grad_norm", "train/learning_rate"} <= set(events.Tags()["scalars"])
    losses = [event.value for event in events.Scalars("train/loss")]
    assert losses and np.isfinite(losses).all()
    assert load_file(str(run / "checkpoints" / "step-000000001500" / "tensors.safetensors"))[
        "q_network.head.weight"
    ].shape == (2, 32)


def test_crossed_intervals():
    assert _crossed(999, 1000, 1000) and not _crossed(1000, 1999, 1000) and _crossed(1998, 2002, 1000)


def test_ctrl_c_during_an_update_round_stops_at_the_step_boundary(tmp_path, monkeypatch):
    """A first Ctrl-C only asks the loop to stop: the checkpoint never holds half a round of
    gradient steps (a resume would then run the round again)."""
    import os
    import signal

    import pytest

    from rlkit.config import build_config
    from rlkit.run.trainer import Interrupted, Run, new_run_dir

    config = build_config(
        "dqn",
        "cartpole",
        5000,
        0,
        [
            "num_envs=1",
            "learning_starts=20",
            "batch_size=8",
            "net_arch=[16]",
            "train_freq=4",
            "gradient_steps=4",
            "eval_interval=0",
        ],
    )
    run = Run(config, progress=False)
    update, calls = run.agent.update, []

    def interrupted_update(batch):
        calls.append(1)
        if len(calls) == 10:  # the second gradient step of the third round
            os.kill(os.getpid(), signal.SIGINT)
        return update(batch)

    monkeypatch.setattr(run.agent, "update", interrupted_update)
    with pytest.raises(Interrupted) as stopped:
        run.train(new_run_dir(config, tmp_path))
    meta = json.loads((stopped.value.checkpoint_path / "meta.json").read_text())["agent"]
    assert meta["gradient_steps_done"] == 12 == 4 * (meta["training_rounds"] - 20 // 4)


def test_stop_at_return_ends_the_run_at_the_first_evaluation_reaching_it(cli, tmp_path):
    """CliffWalking's greedy walk is deterministic: once an evaluation reaches -13 the run
    stops there, evaluates once more, writes eval.json and can be resumed to total_steps."""
    args = ["train", "--agent", "qlearning", "--env", "cliffwalking", "--steps", 100_000, "--seed", 2]
    args += ["--set", "eval_interval=2000", "--set", "stop_at_return=-13", "--run-dir", tmp_path, "--no-progress"]
    code, out, _ = cli(*args)
    assert code == 0 and "stop_at_return -13 reached" in out
    run = only_run(tmp_path)
    result = json.loads((run / "eval.json").read_text())
    periodic = result["evaluations"][:-1]
    assert periodic[-1]["return_mean"] >= -13 and all(e["return_mean"] < -13 for e in periodic[:-1])
    assert result["step"] == periodic[-1]["step"] < 100_000 and result["return_mean"] == -13
    assert (run / "checkpoints" / f"step-{result['step']:012d}").is_dir()
    code, out, _ = cli("train", "--resume", run, "--no-progress")
    assert code == 0 and "resumed from" in out  # and trains on to its next evaluation reaching -13
    resumed = json.loads((run / "eval.json").read_text())
    assert resumed["step"] > result["step"] and resumed["evaluations"][-2]["return_mean"] >= -13


def test_a_long_evaluation_shows_how_many_episodes_it_has_played(tmp_path, monkeypatch, capsys):
    """The final evaluation of an untrained Taxi agent plays 200-step episodes: its bar (shown
    once an evaluation has lasted PROGRESS_DELAY_S, here at once) counts them."""
    from rlkit.config import build_config
    from rlkit.run import evaluation
    from rlkit.run.trainer import train

    monkeypatch.setattr(evaluation, "PROGRESS_DELAY_S", 0.0)
    config = build_config("qlearning", "taxi", 1000, 0, ["eval_interval=0", "final_eval_episodes=30"])
    train(config, tmp_path, progress=True)
    shown = capsys.readouterr().err
    assert "evaluation:" in shown and "/30 [" in shown and "episode" in shown
