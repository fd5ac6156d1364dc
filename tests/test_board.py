import json
import time
import urllib.request

from conftest import free_port

from rlkit.board import start_board


def test_board_serves_the_scalars_of_a_real_run(cli, tmp_path):
    code, _, err = cli(
        "train",
        "--agent",
        "qlearning",
        "--env",
        "taxi",
        "--steps",
        2000,
        "--set",
        "eval_interval=1000",
        "--set",
        "final_eval_episodes=2",
        "--set",
        "log_interval=500",
        "--run-dir",
        tmp_path,
        "--no-progress",
    )
    assert code == 0, err
    (run,) = tmp_path.glob("taxi/qlearning/*")
    address = start_board(tmp_path, free_port())
    assert address.startswith("http://127.0.0.1:") or address.startswith("http://localhost:")
    deadline, tags = time.time() + 60, {}
    while time.time() < deadline:
        with urllib.request.urlopen(address + "data/plugin/scalars/tags", timeout=10) as response:
            tags = json.loads(response.read())
        if tags:
            break
        time.sleep(0.5)
    run_name = str(run.relative_to(tmp_path))
    assert run_name in tags, tags
    assert {"rollout/episode_return", "eval/return_mean", "train/epsilon", "time/sps"} <= set(tags[run_name])


def test_board_on_a_missing_folder_is_one_line(cli, tmp_path):
    code, _, err = cli("board", tmp_path / "nothing")
    assert code == 2 and "no such runs folder" in err
