"""The documentation site: every code block of its guides runs, and the site builds.

Each page of docs/ (but the benchmarks, whose commands are studies of minutes to hours that
their scripts' own tests cover) runs as a reader would follow it, top to bottom, in a fresh
folder that holds links to the repository's scripts/, agents/ and envs/:

- a `bash` block runs in bash (-e, -o pipefail), its `pip install` lines checked (the
  constraints file and every extra they name exist) but not run;
- a `python` block runs in one Python process per page, so later blocks see earlier names;
- a block with a title (```toml title="wide.toml") is a file the reader saves: it is written;
- a block right after `<!-- not run: REASON -->` is skipped (only blocks that need a GPU or a
  cluster), and a page whose first line is `<!-- docs test: network namespace -->` runs its
  shell blocks in a network namespace of their own (Ray keeps to loopback there);
- other blocks (```text, console output) are not code.

Runs are shrunk by one fixture, tests/docs_fixture/sitecustomize.py (fewer steps, the first and
last seed of a group, two trials of a sweep): docs/contributing.md says what it changes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import child, namespace_problem, run_child

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIXTURE = Path(__file__).resolve().parent / "docs_fixture"
NOT_GUIDES = {"benchmarks.md"}  # reproduction commands of studies; their scripts have tests of their own
BLOCK_TIMEOUT_S = 600
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
NAMESPACE_MARK = "<!-- docs test: network namespace -->"
DONE = "__rlkit_docs_block_done__"


@dataclass
class Block:
    language: str
    title: str | None
    code: str
    line: int
    not_run: str | None


def code_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown page, in order."""
    blocks, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        info, indent = opening["info"].strip(), len(opening["indent"])
        language = info.split()[0] if info else ""
        title = re.search(r'title="([^"]+)"', info)
        before = next((line for line in reversed(lines[:index]) if line.strip()), "")
        not_run = NOT_RUN.search(before)
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        code = "\n".join(line[indent:] for line in lines[index + 1 : end])
        blocks.append(Block(language, title and title[1], code, index + 1, not_run and not_run["reason"]))
        index = end + 1
    return blocks


def guide_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).as_posix() not in NOT_GUIDES)


def _extras() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def checked_pip_lines(code: str) -> str:
    """`pip install` lines checked and turned into no-ops; the rest unchanged."""
    out = []
    for line in code.splitlines():
        if line.lstrip().startswith("pip install"):
            if "-c constraints.txt" in line:
                assert (ROOT / "constraints.txt").is_file()
            for group in re.findall(r"\[([a-z,]+)\]", line):
                unknown = set(group.split(",")) - _extras()
                assert not unknown, f"{line!r} names extras pyproject.toml lacks: {sorted(unknown)}"
            line = "# " + line
        out.append(line)
    return "\n".join(out)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(FIXTURE), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("CI", None)  # a block's Ray, if any, runs in the page's own namespace
    return env


DRIVER = f"""
import sys, traceback
namespace = {{"__name__": "__main__"}}
while True:
    header = sys.stdin.readline()
    if not header:
        break
    source = sys.stdin.read(int(header))
    try:
        exec(compile(source, "<docs block>", "exec"), namespace)
        print("\\n{DONE} ok", flush=True)
    except BaseException:
        traceback.print_exc(file=sys.stdout)
        print("\\n{DONE} failed", flush=True)
"""


class PythonSession:
    """One Python process for the python blocks of a page."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def run(self, code: str) -> tuple[bool, str]:
        self.process.stdin.write(f"{len(code)}\n{code}")
        self.process.stdin.flush()
        lines = []
        for line in self.process.stdout:
            if line.startswith(DONE):
                return line.split()[-1] == "ok", "".join(lines)
            lines.append(line)
        return False, "".join(lines) + "\n(the Python process ended)"


def _workspace(tmp_path: Path) -> Path:
    for name in ("scripts", "agents", "envs", "docs", "rlkit", "mkdocs.yml", "constraints.txt", "pyproject.toml"):
        (tmp_path / name).symlink_to(ROOT / name)
    # the fixture in the folder too, for blocks that set PYTHONPATH=. themselves
    (tmp_path / "sitecustomize.py").symlink_to(FIXTURE / "sitecustomize.py")
    return tmp_path


@pytest.mark.parametrize("page", guide_pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_code_block_of_the_guide_runs(page: Path, tmp_path: Path):
    text = page.read_text()
    blocks = code_blocks(text)
    if not any(b.language in ("bash", "python") or b.title for b in blocks):
        pytest.skip("no code on this page")
    in_namespace = text.startswith(NAMESPACE_MARK)
    if in_namespace and (reason := namespace_problem()):
        if os.environ.get("CI"):
            pytest.fail(f"under CI every docs page must run: {reason}")
        pytest.skip(reason)
    saved = {Path(b.title).stem for b in blocks if b.title}  # the page's own modules
    imported = {
        match[1]
        for b in blocks
        if b.language == "python" and not b.not_run
        for match in re.finditer(r"^(?:import|from) (\w+)", b.code, re.MULTILINE)
    }
    missing = sorted(name for name in imported - saved if importlib.util.find_spec(name) is None)
    if missing:
        reason = f"the page imports {', '.join(missing)}: install the extras of the README's test command"
        if os.environ.get("CI"):
            pytest.fail(f"under CI every docs page must run; {reason}")
        pytest.skip(reason)
    cwd, env = _workspace(tmp_path), _environment()
    name = page.relative_to(DOCS).as_posix()
    with child(
        [sys.executable, "-c", DRIVER],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        python = PythonSession(process)
        for block in blocks:
            where = f"{name}, line {block.line}"
            if block.not_run:
                continue
            if block.title:
                (cwd / block.title).write_text(block.code + "\n")
            elif block.language == "python":
                ok, output = python.run(block.code)
                assert ok, f"{where}: the python block failed:\n{output[-4000:]}"
            elif block.language == "bash":
                script = checked_pip_lines(block.code)
                args = ["bash", "-euo", "pipefail", "-c", script]
                if in_namespace:
                    args = ["unshare", "--net", "bash", "-c", 'ip link set lo up && exec "$@"', "namespace", *args]
                done = run_child(args, BLOCK_TIMEOUT_S, cwd=cwd, env=env)
                assert done.returncode == 0, (
                    f"{where}: the bash block exited {done.returncode}:\n{block.code}\n--- stdout\n"
                    f"{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
                )


def test_code_blocks_are_found_as_written():
    page = """Intro.

<!-- not run: needs a GPU -->
```bash
rlkit train --agent dqn-atari --env pong --set device=cuda
```

1. A step:

    ```python
    print("indented")
    ```

```toml title="wide.toml"
extends = "dqn"
```

```text
output
```
"""
    blocks = code_blocks(page)
    assert [(b.language, b.title, b.not_run) for b in blocks] == [
        ("bash", None, "needs a GPU"),
        ("python", None, None),
        ("toml", "wide.toml", None),
        ("text", None, None),
    ]
    assert blocks[1].code == 'print("indented")'
    assert blocks[2].code == 'extends = "dqn"'


def test_pip_lines_are_checked_not_run():
    assert checked_pip_lines('pip install -c constraints.txt -e ".[dev,atari]" && pytest\nrlkit list') == (
        '# pip install -c constraints.txt -e ".[dev,atari]" && pytest\nrlkit list'
    )
    with pytest.raises(AssertionError, match="extras pyproject.toml lacks"):
        checked_pip_lines('pip install -e ".[gpu]"')


def test_only_gpu_and_cluster_blocks_are_not_run():
    reasons = [b.not_run for page in guide_pages() for b in code_blocks(page.read_text()) if b.not_run]
    assert reasons, "some guide shows a GPU or cluster command"
    for reason in reasons:
        assert re.search(r"GPU|cluster|CUDA", reason), (
            f"a block skipped for {reason!r}: only GPU or cluster blocks may be"
        )


# ----------------------------------------------------------------------------- the site's build


def _build(tmp_path: Path, change=None) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of a copy of the site, after `change(docs_folder)`."""
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI"):
            pytest.fail("under CI the docs extra must be installed: pip install -e '.[docs]'")
        pytest.skip("needs the docs extra: pip install 'rlkit[docs]'")
    shutil.copytree(DOCS, tmp_path / "docs")
    (tmp_path / "mkdocs.yml").write_text((ROOT / "mkdocs.yml").read_text().replace("paths: [.]", f"paths: [{ROOT}]"))
    if change is not None:
        change(tmp_path / "docs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_the_site_builds_strictly(tmp_path: Path):
    done = _build(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    for name in ("rlkit.api.train", "rlkit.api.load", "rlkit.api.evaluate", "rlkit.run.callbacks.StopAtReturn"):
        assert f'id="{name}"' in api, f"the API reference lacks {name}"


def _append(page: str, text: str):
    def change(docs: Path) -> None:
        with open(docs / page, "a") as file:
            file.write(text)

    return change


@pytest.mark.parametrize(
    "page, text, named",
    [
        ("troubleshooting.md", "\n[gone](no-such-page.md)\n", "no-such-page.md"),
        ("troubleshooting.md", "\n[gone](concepts/agents.md#no-such-section)\n", "no-such-section"),
        ("reference/api.md", "\n::: rlkit.api.no_such_function\n", "no_such_function"),
    ],
    ids=["a missing page", "a missing anchor", "a missing API entry"],
)
def test_a_broken_link_or_api_entry_fails_the_build(tmp_path: Path, page: str, text: str, named: str):
    done = _build(tmp_path, _append(page, text))
    assert done.returncode != 0
    assert named in done.stderr


def test_every_public_name_has_its_api_entry():
    import rlkit

    api = (DOCS / "reference" / "api.md").read_text()
    for name in rlkit.__all__:
        if name.startswith("__"):
            continue
        module = rlkit._EXPORTS[name]
        assert f"::: {module}.{name}\n" in api, f"docs/reference/api.md lacks ::: {module}.{name}"


# ----------------------------------------------------------------------------- the notebook


def test_the_quickstart_notebook_runs_and_draws(tmp_path: Path, monkeypatch):
    """docs/quickstart.ipynb executed cell by cell in a Jupyter kernel (shrunk by the same
    fixture): every cell runs, and the curve and the frames come out as inline images."""
    for needed in ("nbclient", "nbformat", "ipykernel"):
        if importlib.util.find_spec(needed) is None:
            if os.environ.get("CI"):
                pytest.fail(f"under CI the dev extra must be installed ({needed} is missing)")
            pytest.skip(f"needs {needed} (the dev extra)")
    import nbformat
    from nbclient import NotebookClient

    for name, value in _environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(DOCS / "quickstart.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    images = [
        cell_output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for cell_output in cell.outputs
        if "image/png" in cell_output.get("data", {})
    ]
    assert len(images) == 2, "the learning curve and the frames, each an inline image"
    assert list((tmp_path / "runs" / "cartpole" / "dqn-fast").glob("*-s0/eval.json"))
