"""Per-sample L_acc of two diffusion checkpoints on a HumanML3D split, by caption category (the paper's Fig. 1).

A sample is one (clip, caption) pair of the split (clips as in training: caption segments become clips; clips
shorter than ``min_frames`` are skipped; clips longer than the model's ``max_frames`` are cut to their first
``max_frames`` frames). For each sample a step t ~ U{0..K-1} and Gaussian noise are drawn from a generator seeded
with ``derive_seed("lacc", seed, id, start_frame, caption_index)``, so both models see the same t and noise;
each model predicts ``xhat0 = G(x_t, t, c)`` (conditional, no guidance, eval mode), and L_acc compares the joints
recovered from the prediction with those recovered from the clip's own features
(:func:`text2imu.builder.diffusion.losses.l_acc`; reduction :data:`~text2imu.builder.diffusion.losses.LACC_REDUCTION`).
Both checkpoints must share the number of diffusion steps.

Captions are categorised by :mod:`text2imu.benchmark.categories`. The table has, per category and per group
(high-dynamic, low-dynamic, Other, all): n, mean L_acc before and after, delta = after - before and
percent = 100 * delta / before.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from text2imu.builder.diffusion.checkpoint import Checkpoint
from text2imu.builder.diffusion.data import Clip, Pick, make_batch
from text2imu.builder.diffusion.losses import LACC_REDUCTION, l_acc
from text2imu.builder.diffusion.recover import features_to_joints_torch
from text2imu.builder.diffusion.schedule import Schedule
from text2imu.builder.errors import Text2ImuError
from text2imu.builder.generators import derive_seed
from text2imu.builder.output import atomic_path

from .categories import CATEGORIES, HIGH_DYNAMIC, OTHER, categorise, dynamic_group

log = logging.getLogger(__name__)

RESULTS_VERSION = 1
GROUPS = ("high", "low", "other", "all")


@dataclass(frozen=True)
class LaccSample:
    """One (clip, caption) sample and the L_acc of both models (m^2, :data:`LACC_REDUCTION`)."""

    id: str
    start_frame: int
    caption_index: int
    caption: str
    n_frames: int
    t: int
    category: str
    score: float
    lacc_before: float
    lacc_after: float


def sample_pairs(clips: list[Clip], captions: str = "all") -> list[tuple[int, int]]:
    """(clip index, caption index) of every sample: all captions of each clip, or only the first."""
    if captions not in ("all", "first"):
        raise Text2ImuError(f"captions must be 'all' or 'first', got {captions!r}")
    return [(i, j) for i, c in enumerate(clips) for j in range(len(c.captions) if captions == "all" else 1)]


def _draws(clip: Clip, caption_index: int, seed: int, n_steps: int, length: int, n_features: int):
    g = torch.Generator().manual_seed(derive_seed("lacc", seed, clip.id, clip.start_frame, caption_index))
    t = int(torch.randint(0, n_steps, (1,), generator=g))
    return t, torch.randn(length, n_features, generator=g)


@torch.no_grad()
def lacc_of_model(ckpt: Checkpoint, clips: list[Clip], pairs: list[tuple[int, int]], *, seed: int = 0,
                  batch_size: int = 64, device: str = "cpu", encoder=None, progress: bool = True):
    """(N,) per-sample L_acc of one checkpoint on the samples ``pairs``, and (N,) the steps t drawn."""
    from text2imu.builder.diffusion.text_encoder import default_encoder

    enc = encoder or default_encoder()
    cfg = ckpt.config
    schedule = Schedule.cosine(cfg.diffusion_steps)
    model = ckpt.model.to(device).eval()
    out, steps = [], []
    starts = range(0, len(pairs), batch_size)
    for a in tqdm(starts, desc="L_acc", unit="batch", disable=not progress):
        chunk = pairs[a : a + batch_size]
        picks = [Pick(i, j, 0, min(clips[i].n_frames, cfg.max_frames)) for i, j in chunk]
        batch = make_batch(clips, picks, ckpt.mean, ckpt.std, enc)
        noise = torch.zeros_like(batch.x0)
        t = torch.zeros(len(chunk), dtype=torch.long)
        for row, (p, (i, j)) in enumerate(zip(picks, chunk, strict=True)):
            t[row], noise[row, : p.length] = _draws(clips[i], j, seed, schedule.n_steps, p.length, cfg.n_features)
        x_t = schedule.q_sample(batch.x0, t, noise)
        pred = model(x_t.to(device), t.to(device), batch.text_emb.to(device), batch.mask.to(device)).cpu()
        mean, std = torch.as_tensor(ckpt.mean), torch.as_tensor(ckpt.std)
        target = torch.zeros_like(batch.x0)
        for row, (p, (i, _)) in enumerate(zip(picks, chunk, strict=True)):
            target[row, : p.length] = torch.as_tensor(clips[i].features[: p.length])
        joints_pred = features_to_joints_torch(pred.double() * std.double() + mean.double())
        joints_true = features_to_joints_torch(target.double())
        out.append(l_acc(joints_pred, joints_true, batch.mask).numpy())
        steps.append(t.numpy())
    return np.concatenate(out), np.concatenate(steps)


def compare_lacc(before: Checkpoint, after: Checkpoint, clips: list[Clip], *, seed: int = 0,
                 captions: str = "all", mode: str = "paper", max_samples: int | None = None,
                 batch_size: int = 64, device: str = "cpu", encoder=None,
                 progress: bool = True) -> list[LaccSample]:
    """Per-sample L_acc of both checkpoints with the same seeded t and noise, and each caption's category."""
    if before.config.diffusion_steps != after.config.diffusion_steps:
        raise Text2ImuError(
            f"the checkpoints have {before.config.diffusion_steps} and {after.config.diffusion_steps} diffusion "
            "steps; L_acc at a shared step t needs the same schedule"
        )
    if not (np.allclose(before.mean, after.mean) and np.allclose(before.std, after.std)):
        log.warning("the checkpoints normalise features differently; x_t differs although t and noise agree")
    pairs = sample_pairs(clips, captions)[:max_samples]
    if not pairs:
        raise Text2ImuError("no samples to evaluate")
    texts = [clips[i].captions[j] for i, j in pairs]
    cats = categorise(texts, mode, encoder)
    kw = dict(seed=seed, batch_size=batch_size, device=device, encoder=encoder, progress=progress)
    lb, t = lacc_of_model(before, clips, pairs, **kw)
    la, t2 = lacc_of_model(after, clips, pairs, **kw)
    if not np.array_equal(t, t2):  # pragma: no cover - both come from the same seeds
        raise Text2ImuError("internal error: the two models saw different steps t")
    return [LaccSample(clips[i].id, clips[i].start_frame, j, texts[k], min(clips[i].n_frames, before.config.max_frames),
                       int(t[k]), cats[k].category, round(cats[k].score, 6), float(lb[k]), float(la[k]))
            for k, (i, j) in enumerate(pairs)]


def _row(values_before: list[float], values_after: list[float]) -> dict:
    n = len(values_before)
    if not n:
        return {"n": 0, "before": None, "after": None, "delta": None, "percent": None}
    b, a = float(np.mean(values_before)), float(np.mean(values_after))
    return {"n": n, "before": b, "after": a, "delta": a - b, "percent": 100.0 * (a - b) / b if b > 0 else None}


def summarise(samples: list[LaccSample]) -> dict:
    """{"categories": {name: row}, "groups": {high, low, other, all: row}}; row = n, before, after, delta, percent."""
    cats = {}
    for name in (*CATEGORIES, OTHER):
        sel = [s for s in samples if s.category == name]
        cats[name] = _row([s.lacc_before for s in sel], [s.lacc_after for s in sel])
    groups = {}
    for g in GROUPS:
        sel = [s for s in samples if g == "all" or dynamic_group(s.category) == g]
        groups[g] = _row([s.lacc_before for s in sel], [s.lacc_after for s in sel])
    return {"categories": cats, "groups": groups}


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def format_table(summary: dict) -> str:
    """The per-category and per-group table as Markdown."""
    lines = ["| category | group | n | L_acc before | L_acc after | delta | percent |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, r in summary["categories"].items():
        lines.append(f"| {name} | {dynamic_group(name)} | {r['n']} | {_fmt(r['before'], '.6g')} | "
                     f"{_fmt(r['after'], '.6g')} | {_fmt(r['delta'], '+.3g')} | {_fmt(r['percent'], '+.1f')} |")
    labels = {"high": "high-dynamic (Running, Jumping, Dancing)", "low": "low-dynamic (other five)",
              "other": "Other", "all": "all samples"}
    for g, r in summary["groups"].items():
        lines.append(f"| **{labels[g]}** | {g} | {r['n']} | {_fmt(r['before'], '.6g')} | "
                     f"{_fmt(r['after'], '.6g')} | {_fmt(r['delta'], '+.3g')} | {_fmt(r['percent'], '+.1f')} |")
    return "\n".join(lines)


def plot_lacc(summary: dict, path: str | Path, title: str = "L_acc before and after fine-tuning") -> Path:
    """Bar figure (PNG): mean L_acc per category before and after, the percent change above each pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [c for c in CATEGORIES if c in HIGH_DYNAMIC] + [c for c in CATEGORIES if c not in HIGH_DYNAMIC] + [OTHER]
    rows = [(c, summary["categories"][c]) for c in order if summary["categories"][c]["n"]]
    fig, ax = plt.subplots(figsize=(1.1 * len(rows) + 2.5, 4.2), dpi=120)
    x = np.arange(len(rows))
    before = [r["before"] for _, r in rows]
    after = [r["after"] for _, r in rows]
    ax.bar(x - 0.2, before, 0.4, label="before", color="#9e9e9e")
    ax.bar(x + 0.2, after, 0.4, label="after", color=["#d62728" if c in HIGH_DYNAMIC else "#1f77b4" for c, _ in rows])
    for xi, (_, r) in zip(x, rows, strict=True):
        if r["percent"] is not None:
            ax.annotate(f"{r['percent']:+.1f}%", (xi, max(r["before"], r["after"])), ha="center", va="bottom",
                        fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, [f"{c}\n(n={r['n']})" for c, r in rows], fontsize=8)
    ax.set_ylabel("mean L_acc (m$^2$)")
    ax.set_title(title + "\n(after: red = high-dynamic, blue = low-dynamic / Other)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def write_results(out_dir: str | Path, samples: list[LaccSample], summary: dict, meta: dict) -> dict[str, Path]:
    """Write ``lacc_samples.csv``, ``lacc_summary.json``, ``lacc_table.md`` and ``lacc_categories.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"samples": out / "lacc_samples.csv", "summary": out / "lacc_summary.json",
             "table": out / "lacc_table.md", "figure": out / "lacc_categories.png"}
    with atomic_path(paths["samples"]) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(LaccSample.__dataclass_fields__))
        w.writeheader()
        for s in samples:
            w.writerow(asdict(s))
    doc = {"results_version": RESULTS_VERSION, **meta, "lacc_reduction": LACC_REDUCTION, **summary}
    with atomic_path(paths["summary"]) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    with atomic_path(paths["table"]) as tmp:
        tmp.write_text(format_table(summary) + "\n\n" + LACC_REDUCTION + ".\n", encoding="utf-8")
    plot_lacc(summary, paths["figure"])
    return paths
