"""External generators: the user's checkout of a published text-to-motion model, run in a subprocess.

``mdm``, ``momask``, ``t2m-gpt`` and ``remodiffuse`` (modules ``external_*.py``) all follow one pattern:

1. the user gives the repository path, the checkpoint file and the Python interpreter of that repository's
   environment (``--repo``, ``--checkpoint``, ``--python``); nothing is installed or downloaded;
2. the prompts are written to the text file the model's own sampling script expects, in a temporary folder;
3. the script runs with :func:`run_script`: ``subprocess.run`` with a list argv (no shell), ``cwd`` = the
   repository, a timeout, stdout and stderr captured to files; a non-zero exit raises :class:`ExternalRunError`
   whose one-line message ends with the last lines of stderr (the Python exception, usually);
4. the outputs are read with the registered readers (:mod:`text2imu.builder.formats`) and mapped back to
   (prompt_id, repetition) in the order the script writes them.

The spec of a configured generator records the sha256 of the checkpoint file as ``weights_sha256`` and, when the
repository is a git checkout, its commit as the version. Seeds: each run gets ``derive_seed(base seed, generator,
...) mod 2**31`` (the scripts seed NumPy, which needs seeds below 2**32); the bundle records the seed of each motion.

Batch interface: :meth:`ExternalGenerator.generate_batch` makes every motion of a prompt list in as few runs as the
script allows and yields ``(prompt_id, repetition, Motion, seed)``; ``generate(prompt, repetition, seed)`` (the
:class:`~text2imu.builder.generators.Generator` protocol) runs a batch of one.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import Text2ImuError
from ..motion import Motion
from ..output import sha256_file  # noqa: F401  (re-exported)
from ..prompts import Prompt
from . import GeneratorSpec, derive_seed

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 4 * 3600.0
SEED_MODULUS = 2**31
STDERR_LINES = 4  # lines of stderr quoted in an error message
MIN_DURATION_S, MAX_DURATION_S = 3.0, 10.0


class ExternalRunError(Text2ImuError):
    """An external sampling script failed (non-zero exit, timeout, missing interpreter) or wrote no output."""


def git_commit(repo: Path) -> str | None:
    """The commit a git checkout is at, read from ``.git`` (HEAD, loose or packed refs); None if not found."""
    git = repo / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip() or None
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def summarise_output(text: str, n_lines: int = STDERR_LINES) -> str:
    """The last ``n_lines`` non-empty lines of a script's output, joined with " | " (one line for messages)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-n_lines:]) if lines else "(no output)"


def run_script(argv: Sequence[str], *, cwd: Path, what: str, log_dir: Path, timeout_s: float,
               env: dict[str, str] | None = None) -> None:
    """Run ``argv`` (a list, no shell) in ``cwd``; raise ExternalRunError with the stderr tail on failure.

    stdout and stderr go to ``log_dir/<n>.stdout|stderr`` (files, so long runs cannot fill a pipe).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    n = len(list(log_dir.glob("*.stderr")))
    out_file, err_file = log_dir / f"{n}.stdout", log_dir / f"{n}.stderr"
    log.debug("running %s in %s: %s", what, cwd, " ".join(map(str, argv)))
    full_env = dict(os.environ, **(env or {}))
    try:
        with open(out_file, "wb") as out, open(err_file, "wb") as err:
            proc = subprocess.run([str(a) for a in argv], cwd=cwd, stdout=out, stderr=err, env=full_env,
                                  timeout=timeout_s, check=False)
    except FileNotFoundError as err:
        raise ExternalRunError(f"{what}: cannot run {argv[0]!r} ({err.strerror}); pass --python") from err
    except subprocess.TimeoutExpired:
        raise ExternalRunError(f"{what}: timed out after {timeout_s:g} s (raise --timeout-s); last output: "
                               f"{summarise_output(err_file.read_text(errors='replace'))}") from None
    if proc.returncode != 0:
        text = err_file.read_text(errors="replace") or out_file.read_text(errors="replace")
        raise ExternalRunError(f"{what} failed (exit status {proc.returncode}): {summarise_output(text)}")


def resolve_python(python: str | None) -> str:
    """The interpreter to run: an explicit path/name (checked), else ``python3`` or ``python`` on PATH."""
    candidates = [python] if python else ["python3", "python"]
    for name in candidates:
        found = shutil.which(name) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
        if found:
            return found
    raise Text2ImuError(f"Python interpreter {candidates[0]!r} not found or not executable; pass --python "
                        "(the interpreter of the model's environment)")


def prompt_duration_s(prompt: Prompt) -> float:
    """The duration the prompt asks for ("for about eight seconds"), 3-10 s (kinematic's word parser)."""
    from .kinematic_words import parse_duration_s

    text = " ".join(prompt.text.lower().replace(",", " ,").split())
    return float(min(max(parse_duration_s(text)[0], MIN_DURATION_S), MAX_DURATION_S))


def single_line(text: str, forbidden: str = "") -> str:
    """A prompt as one line of a prompt file (whitespace runs -> one space); refuses ``forbidden`` characters."""
    line = " ".join(text.split())
    bad = sorted({c for c in forbidden if c in line})
    if bad:
        raise Text2ImuError(f"prompt {text!r} contains {''.join(bad)!r}, which this generator's prompt file "
                            "cannot hold")
    return line


class ExternalGenerator:
    """Base of the subprocess generators (see the module docstring). Subclasses set ``spec``, ``script`` (the
    repository file that must exist), and implement :meth:`_run` yielding (index, repetition, Motion, seed).

    Args:
        repo: the model's repository checkout (the script's working folder).
        checkpoint: the model's weights file (its sha256 becomes ``weights_sha256``).
        python: interpreter of the model's environment (default: python3 on PATH).
        device: "cpu", "cuda" or "cuda:N" (mapped to each script's own flag).
        timeout_s: limit per subprocess run in seconds.
        motion_length_s: one length for every motion; default: the prompt's stated duration (3-10 s) where the
            model takes a length.
        extra_args: more arguments for the script, passed through unchanged.
    """

    spec: GeneratorSpec
    script: str = ""
    options: tuple[str, ...] = ("repo", "checkpoint", "python", "device", "timeout_s", "motion_length_s",
                                "extra_args")
    required_options: tuple[str, ...] = ("repo", "checkpoint")

    def __init__(self, repo: str | Path | None = None, checkpoint: str | Path | None = None, *,
                 python: str | None = None, device: str | None = None, timeout_s: float | None = None,
                 motion_length_s: float | None = None, extra_args: Sequence[str] | None = None):
        name = self.spec.name
        if repo is None or checkpoint is None:
            raise Text2ImuError(f"generator '{name}' needs --repo (the model's checkout) and --checkpoint")
        self.repo = Path(repo).expanduser().resolve()
        if not self.repo.is_dir():
            raise Text2ImuError(f"--repo {self.repo}: no such folder")
        if self.script and not (self.repo / self.script).is_file():
            raise Text2ImuError(f"--repo {self.repo}: no {self.script}; is this a {name} checkout?")
        self.checkpoint = Path(checkpoint).expanduser()
        if not self.checkpoint.is_absolute():
            self.checkpoint = (self.repo / self.checkpoint) if not self.checkpoint.exists() else self.checkpoint
        self.checkpoint = self.checkpoint.resolve()
        if not self.checkpoint.is_file():
            raise Text2ImuError(f"--checkpoint {checkpoint}: no such file")
        self.python = resolve_python(python)
        if device is not None and device != "cpu" and device != "cuda" and not device.startswith("cuda:"):
            raise Text2ImuError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
        self.device = device
        self.timeout_s = float(timeout_s) if timeout_s else DEFAULT_TIMEOUT_S
        if motion_length_s is not None and not motion_length_s > 0:
            raise Text2ImuError(f"--motion-length-s must be positive, got {motion_length_s}")
        self.motion_length_s = motion_length_s
        self.extra_args = list(extra_args or [])
        self.check_setup()
        commit = git_commit(self.repo)
        self.spec = replace(type(self).spec, version=commit[:12] if commit else "unknown (not a git checkout)",
                            weights_sha256=sha256_file(self.checkpoint))

    def check_setup(self) -> None:
        """Model-specific checks of the checkout and checkpoint before anything runs (override)."""

    def duration_s(self, prompt: Prompt) -> float:
        return self.motion_length_s if self.motion_length_s is not None else prompt_duration_s(prompt)

    def seed_for(self, base_seed: int, *parts: str | int) -> int:
        return derive_seed(base_seed, self.spec.name, *parts) % SEED_MODULUS

    def record(self) -> dict[str, Any]:
        """How the motions are made, for the bundle card (no absolute paths: rebuilds stay byte-identical)."""
        return {"repo": self.repo.name, "repo_commit": git_commit(self.repo), "checkpoint": self.checkpoint.name,
                "device": self.device, "motion_length_s": self.motion_length_s, "extra_args": self.extra_args}

    def generate_batch(self, prompts: Sequence[Prompt], repetitions: int,
                       seed: int) -> Iterator[tuple[str, int, Motion, int]]:
        """Every (prompt, repetition) motion, as ``(prompt_id, repetition, Motion, seed used)``."""
        if repetitions < 1 or not prompts:
            raise Text2ImuError("need at least one prompt and one repetition")
        with tempfile.TemporaryDirectory(prefix=f"text2imu-{self.spec.name}-") as tmp:
            for index, rep, motion, used in self._run(list(prompts), repetitions, seed, Path(tmp)):
                prompt = prompts[index]
                meta = dict(motion.metadata, prompt_id=prompt.prompt_id, repetition=rep, seed=used,
                            generator=self.spec.name)
                yield prompt.prompt_id, rep, replace(motion, prompt=prompt.text, metadata=meta), used

    def generate(self, prompt: Prompt, repetition: int, seed: int) -> Motion:
        """One motion (a batch run of one prompt; ``repetition`` only labels it, ``seed`` picks the draw)."""
        batch = self.generate_batch([prompt], 1, seed)
        try:
            for _, _, motion, _ in batch:
                return replace(motion, metadata=dict(motion.metadata, repetition=int(repetition)))
        finally:
            batch.close()  # removes the temporary folder now
        raise ExternalRunError(f"{self.spec.name}: the script produced no motion")

    def _run(self, prompts: list[Prompt], repetitions: int, seed: int,
             tmp: Path) -> Iterator[tuple[int, int, Motion, int]]:
        raise NotImplementedError

    def run(self, argv: Sequence[str], tmp: Path, what: str, env: dict[str, str] | None = None) -> None:
        run_script([self.python, *argv, *self.extra_args], cwd=self.repo, what=what, log_dir=tmp / "logs",
                   timeout_s=self.timeout_s, env=env)


def check_count(found: int, expected: int, what: str, where: Path) -> None:
    if found != expected:
        raise ExternalRunError(f"{what}: expected {expected} motions in {where}, found {found}")
