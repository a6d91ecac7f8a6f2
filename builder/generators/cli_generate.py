"""``text2imu generate`` (a generator x a prompt set -> a motions bundle) and ``text2imu bundle validate|info``."""

from __future__ import annotations

import argparse
import logging
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import MotionError, Text2ImuError
from ..motion import Motion
from ..prompts import DEFAULT_PROMPT_SET, PromptSet, load_prompt_file, load_prompt_set
from . import GeneratorEntry, available_generators, derive_seed

log = logging.getLogger(__name__)

MAX_REPETITIONS = 1000
MAX_PROBLEMS_SHOWN = 50

# Generator options: (flag, keyword of the generator's constructor, argparse keywords). A generator accepts the
# keywords in its ``options`` attribute; giving a flag the chosen generator does not take is an error.
GENERATOR_FLAGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--manifest", "manifest", {"type": Path, "help": "files: manifest .csv/.jsonl (prompt_id, repetition, path"
                                                     "[, format, index])"}),
    ("--fps", "fps", {"type": float, "help": "files: frame rate for formats that store none (default 20)"}),
    ("--body-model", "body_model", {"type": Path, "help": "files: SMPL-H/SMPL model file or folder for AMASS"}),
    ("--generator-name", "generator_name", {"help": "files: name of the model that made the motions (the card)"}),
    ("--generator-version", "generator_version", {"help": "files: its version"}),
    ("--license", "license", {"help": "files: its license (SPDX id; default NOASSERTION)"}),
    ("--reference", "reference", {"help": "files: its paper or repository"}),
    ("--weights-sha256", "weights_sha256", {"help": "files: sha256 of its weights"}),
    ("--repo", "repo", {"type": Path, "help": "mdm/momask/t2m-gpt/remodiffuse: the model's checkout"}),
    ("--checkpoint", "checkpoint", {"type": Path, "help": "external: the weights file (hashed into the card)"}),
    ("--python", "python", {"help": "external: interpreter of the model's environment (default python3)"}),
    ("--device", "device", {"help": "external: cpu, cuda or cuda:N"}),
    ("--timeout-s", "timeout_s", {"type": float, "help": "external: limit per subprocess run (default 14400)"}),
    ("--motion-length-s", "motion_length_s",
     {"type": float, "help": "mdm/remodiffuse: one length for all motions (default: the prompt's duration)"}),
    ("--config", "config", {"help": "remodiffuse: config file, e.g. configs/remodiffuse/remodiffuse_t2m.py"}),
    ("--vq-checkpoint", "vq_checkpoint", {"help": "t2m-gpt: VQ-VAE weights (default pretrained/VQVAE/net_last.pth)"}),
    ("--script", "script", {"type": Path, "help": "t2m-gpt: sampling script to use instead of text2imu's driver"}),
    ("--foot-ik", "foot_ik", {"action": "store_true", "default": None,
                              "help": "momask: import the _ik joints (after foot IK)"}),
    ("--extra-arg", "extra_args", {"action": "append", "metavar": "ARG",
                                   "help": "external: one more argument for the model's script (repeatable; "
                                           "write --extra-arg=--flag=value)"}),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate motions for a prompt set and write a motions bundle",
        description="Run a generator (`text2imu generators` lists them) on every prompt of a prompt set, "
        "N repetitions each, and write a motions bundle (docs/bundle.md): bundle.json, manifest.jsonl, "
        "motions/<prompt_id>/<repetition>.npy, README.md. Nothing is written unless every motion is made.",
    )
    p.add_argument("generator", help="generator name, e.g. kinematic, files, mdm, momask, t2m-gpt, remodiffuse")
    p.add_argument("--prompts", default=DEFAULT_PROMPT_SET, help="shipped prompt set (default v1)")
    p.add_argument("--prompt-file", type=Path, help="a prompt set TOML file instead of --prompts")
    p.add_argument("--repetitions", type=int, default=1, help="motions per prompt (default 1)")
    p.add_argument("--out", type=Path, required=True, help="bundle folder to create")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    g = p.add_argument_group("generator options (each generator takes its own)")
    for flag, dest, kwargs in GENERATOR_FLAGS:
        g.add_argument(flag, dest=dest, **kwargs)
    p.set_defaults(func=cmd_generate)

    b = sub.add_parser("bundle", help="check or describe a motions bundle")
    bsub = b.add_subparsers(dest="bundle_command", metavar="COMMAND")
    bsub.required = True
    v = bsub.add_parser("validate", help="list every problem of a motions bundle (exit status 1 if any)")
    v.add_argument("bundle", type=Path, help="bundle folder")
    v.add_argument("--prompts", help="prompt set the bundle must cover, e.g. v1 (default: its own)")
    v.add_argument("--prompt-file", type=Path, help="a prompt set TOML file the bundle must cover")
    v.set_defaults(func=cmd_bundle_validate)
    i = bsub.add_parser("info", help="summarise a motions bundle")
    i.add_argument("bundle", type=Path, help="bundle folder")
    i.set_defaults(func=cmd_bundle_info)


def load_prompts(name: str | None, file: Path | None) -> PromptSet:
    """The prompt set of ``--prompt-file`` if given, else the shipped set ``name``."""
    if file is not None:
        if not file.is_file():
            raise Text2ImuError(f"--prompt-file {file}: no such file")
        return load_prompt_file(file)
    return load_prompt_set(name or DEFAULT_PROMPT_SET)


def generator_options(entry: GeneratorEntry, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The generator options given on the command line, checked against what the generator takes."""
    given = {dest: getattr(args, dest) for _, dest, _ in GENERATOR_FLAGS if getattr(args, dest) is not None}
    accepted = tuple(getattr(entry.factory, "options", ()))
    flag_of = {dest: flag for flag, dest, _ in GENERATOR_FLAGS}
    unknown = [flag_of[d] for d in given if d not in accepted]
    if unknown:
        takes = ", ".join(flag_of.get(o, o) for o in accepted) or "no options"
        raise Text2ImuError(f"generator '{name}' does not take {', '.join(unknown)} (it takes: {takes})")
    missing = [flag_of.get(o, o) for o in getattr(entry.factory, "required_options", ()) if o not in given]
    if missing:
        raise Text2ImuError(f"generator '{name}' needs {', '.join(missing)}")
    return given


def _checked(name: str, pid: str, rep: int, motion: Any) -> Motion:
    if not isinstance(motion, Motion):
        shape = getattr(motion, "shape", None)
        what = type(motion).__name__ + (f" of shape {tuple(shape)}" if shape is not None else "")
        raise MotionError(f"generator '{name}' returned a {what} for {pid} repetition {rep}; "
                          "expected a Motion with joints (T, 22, 3)")
    return motion


def motion_items(gen: Any, name: str, prompt_set: PromptSet, repetitions: int,
                 seed: int) -> Iterator[tuple[str, int, Motion, int | None]]:
    """(prompt_id, repetition, Motion, seed) for every prompt x repetition, from ``generate_batch`` when the
    generator has one, else from ``generate(prompt, repetition, derive_seed(seed, name, prompt_id, repetition))``."""
    if callable(getattr(gen, "generate_batch", None)):
        for pid, rep, motion, used in gen.generate_batch(list(prompt_set), repetitions, seed):
            yield pid, rep, _checked(name, pid, rep, motion), used
        return
    uses_seeds = getattr(gen, "uses_seeds", True)
    for prompt in prompt_set:
        for rep in range(repetitions):
            s = derive_seed(seed, name, prompt.prompt_id, rep) if uses_seeds else None
            motion = gen.generate(prompt, rep, s if s is not None else 0)
            yield prompt.prompt_id, rep, _checked(name, prompt.prompt_id, rep, motion), s


def _command(args: argparse.Namespace, options: dict[str, Any]) -> str:
    """The command that made the bundle, with paths cut to their names (no absolute paths in the bundle)."""
    parts = ["text2imu", "generate", args.generator]
    parts += ["--prompt-file", args.prompt_file.name] if args.prompt_file else ["--prompts", args.prompts]
    parts += ["--repetitions", str(args.repetitions), "--seed", str(args.seed)]
    flag_of = {dest: flag for flag, dest, _ in GENERATOR_FLAGS}
    for dest, value in options.items():
        if value is True:
            parts.append(flag_of[dest])
        elif isinstance(value, list):
            parts += [f"{flag_of[dest]}={v}" for v in value]
        elif dest != "python":
            parts += [flag_of[dest], value.name if isinstance(value, Path) else str(value)]
    return shlex.join(parts)


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..bundle import check_bundle_target, write_bundle

    if not 1 <= args.repetitions <= MAX_REPETITIONS:
        raise Text2ImuError(f"--repetitions must be in 1..{MAX_REPETITIONS}, got {args.repetitions}")
    if args.seed < 0:
        raise Text2ImuError(f"--seed must be >= 0, got {args.seed}")
    prompt_set = load_prompts(args.prompts, args.prompt_file)
    entry = available_generators()[args.generator]
    options = generator_options(entry, args.generator, args)
    check_bundle_target(args.out, args.force)
    gen = entry.factory(**options) if options else entry.factory()
    if callable(getattr(gen, "check_coverage", None)):
        gen.check_coverage(prompt_set, args.repetitions)
    spec = gen.spec
    record = {"command": _command(args, options), "seed": args.seed, "generator_registry_name": args.generator}
    if callable(getattr(gen, "record", None)):
        record["generator_options"] = gen.record()
    total = len(prompt_set) * args.repetitions
    log.info("generating %d motions (%d prompts x %d) with %s %s", total, len(prompt_set), args.repetitions,
             spec.name, spec.version)
    with tqdm(total=total, unit="motion", desc=f"generate {args.generator}", disable=None) as bar:
        def progress() -> Iterator[tuple]:
            for item in motion_items(gen, args.generator, prompt_set, args.repetitions, args.seed):
                bar.update(1)
                yield item

        bundle = write_bundle(args.out, spec, prompt_set, progress(), force=args.force,
                              repetitions=args.repetitions, options=record)
    print(f"wrote {args.out}: {len(bundle)} motions ({len(prompt_set)} prompts x {args.repetitions}) from "
          f"{spec.name} {spec.version} ({spec.license})")
    return 0


def cmd_bundle_validate(args: argparse.Namespace) -> int:
    from ..bundle import validate_bundle

    expected = load_prompts(args.prompts, args.prompt_file) if (args.prompts or args.prompt_file) else None
    if not args.bundle.is_dir():
        raise Text2ImuError(f"{args.bundle}: no such bundle folder")
    problems = validate_bundle(args.bundle, expected)
    if not problems:
        against = f" against prompt set {expected.version}" if expected else ""
        print(f"{args.bundle}: valid motions bundle{against}")
        return 0
    print(f"{args.bundle}: {len(problems)} problem(s)")
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        print(f"  - {problem}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return 1


def cmd_bundle_info(args: argparse.Namespace) -> int:
    from ..bundle import read_bundle

    b = read_bundle(args.bundle, check_hashes=False)
    frames = sum(e.n_frames for e in b.entries)
    s = b.spec
    print(f"generator:   {s.name} {s.version} ({s.license}); weights sha256 {s.weights_sha256 or 'none'}")
    print(f"prompt set:  {b.prompt_set_version} ({len(b.prompt_set)} prompts, sha256 {b.prompt_set_sha256})")
    print(f"motions:     {len(b)} ({b.repetitions} per prompt), {frames} frames, "
          f"{sum(e.n_frames / e.fps for e in b.entries) / 60:.1f} min")
    print(f"created by:  {b.created_by}")
    return 0
