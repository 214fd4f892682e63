"""Scripted check: a killed 2-worker run, started again, ends as the uninterrupted run does.

Five runs of ``rnnlab train --config text/gru --nproc 2`` on one generated CSV
(2,000 rows, 4 epochs, seed 0), each in its own directory:

  uninterrupted   runs to the end
  killed_all      SIGKILL to the launcher and both workers as soon as the first
                  checkpoint exists, then the same command again (it resumes)
  killed_one      started with --max-restarts 1; SIGKILL to rank 1's process only
                  after the first checkpoint: the launcher restarts both workers,
                  which resume, and the one command finishes by itself

  sigterm_all     SIGTERM to the launcher and both workers (what a scheduler that
                  preempts the job sends) after the first checkpoint: the running
                  batch finishes on both workers, the state is saved, the command
                  exits 143; the same command again resumes
  sigterm_launcher  SIGTERM to the launcher alone (`kill PID`): torch's agent passes
                  it on to the workers, and the run ends and resumes as above

The check passes when all five end with the same test accuracy, test loss and
history, and each SIGTERM'd command exits 128 + 15. It writes its findings to docs/results/distributed_resume.json.

    python benchmarks/check_distributed_resume.py
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnlab.atomic import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "results" / "distributed_resume.json"
POS = "good great fine excellent lovely superb".split()
NEG = "bad awful poor terrible boring worst".split()


def toy_csv(path: Path, rows: int = 2000) -> Path:
    rng = random.Random(0)
    lines = []
    for _ in range(rows):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(POS if label == "pos" else NEG, k=2) + rng.choices(
            "the plot actor film was and it".split(), k=rng.randint(5, 30)
        )
        rng.shuffle(words)
        lines.append([" ".join(words), label])
    with tempfile.TemporaryDirectory() as tmp:  # csv.writer wants a file; atomic write after
        scratch = Path(tmp) / "t.csv"
        with scratch.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "label"])
            writer.writerows(lines)
        write_text_atomic(path, scratch.read_text())
    return path


def command(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rnnlab",
        "train",
        "--config",
        "text/gru",
        "--data",
        str(data),
        "--nproc",
        "2",
        "--out",
        str(out),
        "--quiet",
        "--seed",
        "0",
        "train.epochs=4",
        "train.early_stopping_patience=null",
        *extra,
    ]


def start(cmd: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def worker_rank(pid: int) -> int | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"RANK="):
            return int(item[5:])
    return None


def wait_for_checkpoint(out: Path, proc: subprocess.Popen[str], limit: float = 300) -> float:
    start_t = time.perf_counter()
    path = out / "checkpoints" / "checkpoint.safetensors"
    while not path.exists():
        if proc.poll() is not None:
            raise SystemExit(f"the run ended before its first checkpoint: {proc.stderr.read()}")
        if time.perf_counter() - start_t > limit:
            raise SystemExit("no checkpoint appeared")
        time.sleep(0.05)
    return time.perf_counter() - start_t


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=900)
    return proc.returncode, err


def result(out: Path) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    return {"test": metrics["test"], "history": history, "epochs_run": metrics["epochs_run"]}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = toy_csv(root / "toy.csv")
        runs, notes, exits = {}, {}, {}

        proc = start(command(data, root / "uninterrupted"))
        code, err = finish(proc)
        assert code == 0, err
        runs["uninterrupted"] = result(root / "uninterrupted")

        out = root / "killed_all"
        proc = start(command(data, out))
        waited = wait_for_checkpoint(out, proc)
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers: one session
        proc.wait()
        notes["killed_all"] = f"SIGKILL to all {waited:.1f} s in, after the first checkpoint"
        code, err = finish(start(command(data, out)))
        assert code == 0, err
        runs["killed_all"] = result(out)

        out = root / "killed_one"
        proc = start(command(data, out, "--max-restarts", "1"))
        waited = wait_for_checkpoint(out, proc)
        agent = next(iter(children(proc.pid)), proc.pid)  # python -m rnnlab is the agent
        workers = [p for p in children(agent) + children(proc.pid) if worker_rank(p) == 1]
        assert workers, "rank 1 not found"
        os.kill(workers[0], signal.SIGKILL)
        code, err = finish(proc)
        assert code == 0, err
        notes["killed_one"] = (
            f"SIGKILL to rank 1 only {waited:.1f} s in; the launcher restarted the workers "
            f"(--max-restarts 1) and the command exited {code}"
        )
        runs["killed_one"] = result(out)

        for name, whom in (("sigterm_all", "group"), ("sigterm_launcher", "launcher")):
            out = root / name
            proc = start(command(data, out))
            waited = wait_for_checkpoint(out, proc)
            if whom == "group":
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.send_signal(signal.SIGTERM)
            stopped, err = finish(proc)
            saved = (out / "checkpoints" / "checkpoint.safetensors").is_file()
            code, err2 = finish(start(command(data, out)))
            assert code == 0, err2
            notes[name] = (
                f"SIGTERM to the {'launcher and workers' if whom == 'group' else 'launcher'} "
                f"{waited:.1f} s in; it exited {stopped}{' with its checkpoint' if saved else ''}; "
                f"the same command resumed and exited {code}"
            )
            exits[name] = stopped
            runs[name] = result(out)

    reference = runs["uninterrupted"]
    same = {name: r == reference for name, r in runs.items()}
    signalled = all(code == 128 + signal.SIGTERM for code in exits.values())
    report = {
        "command": " ".join(command(Path("toy.csv"), Path("<dir>"))[1:]),
        "rows": 2000,
        "notes": notes,
        "test_accuracy": {name: r["test"]["accuracy"] for name, r in runs.items()},
        "test_loss": {name: r["test"]["loss"] for name, r in runs.items()},
        "identical_to_uninterrupted": same,
        "sigterm_exit_codes": exits,
    }
    write_text_atomic(OUT, json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0 if all(same.values()) and signalled else 1


if __name__ == "__main__":
    sys.exit(main())
