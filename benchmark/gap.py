"""The domain gap between a synthetic corpus and real recordings: catch22 features, t-SNE figures, gap numbers.

:func:`gap_report` (what ``text2imu gap`` and the main job call) loads one corpus site and one real dataset the
way the benchmark does (2 s windows, 50 % overlap, 20 Hz; :mod:`.inputs`), keeps the activities both share,
subsamples at most ``cap_per_class`` windows per activity per side (seeded), computes 66 catch22 features of the
acc axes (:mod:`.gap_features`, constant axes handled by its stated rule), and writes into ``out_dir``:

- ``gap.json``: the gap results (schema :data:`GAP_SCHEMA_VERSION`, kind ``"gap"``): separability AUC (mean,
  std over folds), Fréchet distance, counts, the rules used, provenance;
- ``tsne_all.png``: t-SNE (sklearn, ``random_state`` = seed, standardised pooled features) of every kept window,
  colour = activity, marker = real / synthetic (the paper's Fig. 2);
- ``tsne_high_dynamic.png``: the same for running and jumping only (DESIGN.md section 7; dancing is not one of
  the eight activities). When the real dataset has none of them (UCI HAPT), the dynamic activities it has
  (walking, stairs) are drawn and the figure title and the log say so.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from text2imu.builder.errors import FormatError, Text2ImuError
from text2imu.builder.output import atomic_path
from text2imu.builder.vocab import ACTIVITIES

from .gap_features import (
    FRECHET_EPS,
    catch22_features,
    feature_names,
    frechet_distance,
    pooled_standardise,
    separability_auc,
    subsample_per_class,
)
from .windows import V1_WINDOWS, WindowSet

log = logging.getLogger(__name__)

GAP_SCHEMA_VERSION = 1
GAP_KIND = "gap"
HIGH_DYNAMIC = ("jumping", "running")
DYNAMIC_FALLBACK = ("climbingdown", "climbingup", "walking")
GAP_REQUIRED = ("schema_version", "kind", "task", "config", "classes", "gap", "created_utc")
GAP_TASK_KEYS = ("generator", "corpus_revision", "real_dataset", "site", "real_site")


@dataclass(frozen=True)
class GapConfig:
    """Settings of a gap run: windows per activity per side, the seed (subsampling, folds, t-SNE), CV folds,
    t-SNE perplexity (lowered for small sets), Fréchet eps."""

    cap_per_class: int = 500
    seed: int = 0
    folds: int = 5
    perplexity: float = 30.0
    frechet_eps: float = FRECHET_EPS

    def __post_init__(self) -> None:
        if self.cap_per_class < 1 or self.folds < 2 or self.perplexity <= 0:
            raise Text2ImuError(f"gap settings need cap >= 1, folds >= 2, perplexity > 0; got {self}")


def _kept(ws: WindowSet, classes: list[str], cap: int, seed: int) -> WindowSet:
    idx_of = [ACTIVITIES.index(c) for c in classes]
    shared = ws.subset(np.isin(ws.y, idx_of))
    return shared.subset(subsample_per_class(shared.y, cap, seed))


def tsne_embedding(features: np.ndarray, seed: int, perplexity: float) -> np.ndarray:
    """(N, D) standardised features -> (N, 2) t-SNE embedding (PCA init, ``random_state`` = seed)."""
    from sklearn.manifold import TSNE

    n = len(features)
    if n < 3:
        return np.zeros((n, 2))
    perp = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed).fit_transform(features)


def tsne_figure(embedding: np.ndarray, activities: np.ndarray, is_synthetic: np.ndarray, path: Path,
                title: str) -> Path:
    """Scatter of a (N, 2) embedding: colour per activity, o = real, x = synthetic; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    cmap = plt.get_cmap("tab10")
    for k, act in enumerate(ACTIVITIES):
        for synth, marker, label in ((False, "o", "real"), (True, "x", "synthetic")):
            m = (activities == act) & (is_synthetic == synth)
            if m.any():
                ax.scatter(embedding[m, 0], embedding[m, 1], s=9, marker=marker, color=cmap(k), alpha=0.6,
                           linewidths=0.8, label=f"{act} ({label})")
    if not len(embedding):
        ax.text(0.5, 0.5, "no window to draw", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(embedding):
        ax.legend(fontsize=7, markerscale=1.5, loc="best", ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def domain_gap(real: WindowSet, synth: WindowSet, config: GapConfig = GapConfig(), out_dir: Path | None = None,
               real_name: str = "real", progress: bool = False) -> dict:
    """The gap between real and synthetic windows (both (N, W, C>=3), acc in channels 0-2, m/s^2).

    Returns a dict(classes, counts, features, auc, frechet, figures); with ``out_dir``, also writes the two
    t-SNE PNGs there (the figure paths in the dict are relative to ``out_dir``).
    """
    classes = [a for a in ACTIVITIES if a in real.counts() and a in synth.counts()]
    if not classes:
        raise Text2ImuError(f"the synthetic and the {real_name} windows share no activity (synthetic: "
                            f"{', '.join(synth.counts()) or 'none'}; {real_name}: {', '.join(real.counts()) or 'none'})")
    r = _kept(real, classes, config.cap_per_class, config.seed)
    s = _kept(synth, classes, config.cap_per_class, config.seed + 1)
    fr, info_r = catch22_features(r.x[:, :, :3], progress)
    fs, info_s = catch22_features(s.x[:, :, :3], progress)
    features = np.concatenate([fr, fs])
    is_synth = np.concatenate([np.zeros(len(fr), bool), np.ones(len(fs), bool)])
    groups = np.concatenate([np.char.add("real:", r.source.astype(str)), np.char.add("synthetic:", s.source.astype(str))])
    acts = np.array([ACTIVITIES[i] for i in np.concatenate([r.y, s.y])])
    auc = separability_auc(features, is_synth, groups, config.folds, config.seed)
    zr, zs = pooled_standardise(fr, fs)
    fd, used_eps = frechet_distance(zr, zs, config.frechet_eps)
    result = {
        "classes": classes,
        "n_windows": {"real": len(r), "synthetic": len(s)},
        "windows_per_class": {"real": r.counts(), "synthetic": s.counts()},
        "subsampling": f"at most {config.cap_per_class} windows per activity per side, numpy default_rng(seed "
                       f"{config.seed}) for real and seed {config.seed + 1} for synthetic",
        "features": {"n": features.shape[1], "names": feature_names(), "real": info_r, "synthetic": info_s},
        "auc": auc,
        "frechet": {"value": fd, "eps_added": used_eps, "eps": config.frechet_eps,
                    "standardisation": "every feature z-scored with the pooled real + synthetic mean and std"},
        "figures": {},
    }
    if out_dir is not None:
        z = np.concatenate([zr, zs])
        result["figures"] = _figures(z, acts, is_synth, classes, Path(out_dir), config, real_name, len(fr), len(fs))
    return result


def _figures(z, acts, is_synth, classes, out_dir: Path, config: GapConfig, real_name: str, n_r: int, n_s: int) -> dict:
    note = f"cap {config.cap_per_class}/activity/side; seed {config.seed}"
    emb = tsne_embedding(z, config.seed, config.perplexity)
    tsne_figure(emb, acts, is_synth, out_dir / "tsne_all.png",
                f"t-SNE of catch22 acc features, all shared activities: {real_name} ({n_r} windows) vs synthetic "
                f"({n_s})\n{note}")
    high = [c for c in classes if c in HIGH_DYNAMIC]
    if high:
        chosen, what = high, "high-dynamic activities"
    else:
        chosen, what = [c for c in classes if c in DYNAMIC_FALLBACK], "dynamic activities"
        log.warning("%s has no high-dynamic activity (%s); the high-dynamic figure shows the dynamic ones: %s",
                    real_name, ", ".join(HIGH_DYNAMIC), ", ".join(chosen) or "none")
    m = np.isin(acts, chosen)
    emb_h = tsne_embedding(z[m], config.seed, config.perplexity)
    title = f"t-SNE, {what}: {', '.join(chosen) or 'none'}"
    if not high:
        title += f"\n{real_name} has no high-dynamic activity ({', '.join(HIGH_DYNAMIC)}); dynamic ones shown instead"
    tsne_figure(emb_h, acts[m], is_synth[m], out_dir / "tsne_high_dynamic.png", f"{title}\n{note}")
    return {"all": "tsne_all.png", "high_dynamic": "tsne_high_dynamic.png",
            "high_dynamic_classes": chosen, "high_dynamic_present": bool(high)}


def gap_report(corpus: str, real: str, site: str, out_dir: str | Path, data: Path | None = None,
               real_site: str | None = None, revision: str | None = None, config: GapConfig = GapConfig(),
               progress: bool = True) -> dict:
    """Gap of a corpus site against a real dataset; writes gap.json and the two t-SNE PNGs into ``out_dir``.

    Args: corpus folder or Hub repo id; ``real`` the real dataset (``uci-hapt`` or ``uci_hapt``, ...); ``site``
    the corpus site; ``data`` the real data path (None: bundled HAPT); ``real_site`` (default as the benchmark's);
    ``revision`` the corpus revision. Returns the gap results dict (schema :data:`GAP_SCHEMA_VERSION`).
    """
    from .inputs import (
        check_real_data,
        choose_real_site,
        load_corpus_site,
        load_real,
        real_dataset_name,
        resolve_corpus,
    )
    from .results import now_utc, versions

    t0 = time.perf_counter()
    dataset = real_dataset_name(real)
    check_real_data(dataset, data)
    real_site = choose_real_site(dataset, site, real_site)
    folder, corpus_info = resolve_corpus(corpus, revision)
    synth, synth_info = load_corpus_site(folder, site, V1_WINDOWS)
    corpus_info.update(synth_info)
    if corpus_info.get("revision") is None:
        corpus_info["revision"] = (corpus_info.get("manifest") or {}).get("version")
    real_ws, real_info = load_real(dataset, data, real_site, V1_WINDOWS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gap = domain_gap(real_ws, synth, config, out, real_name=dataset, progress=progress)
    generators = corpus_info.get("generators") or []
    corpus_info.pop("files_sha256", None)
    results = {
        "schema_version": GAP_SCHEMA_VERSION,
        "kind": GAP_KIND,
        "task": {"generator": generators[0] if len(generators) == 1 else ",".join(generators) or None,
                 "corpus_revision": corpus_info.get("revision"), "real_dataset": dataset, "site": site,
                 "real_site": real_site},
        "config": asdict(config),
        "classes": gap.pop("classes"),
        "gap": gap,
        "windows": {"window_s": V1_WINDOWS.window_s, "overlap": V1_WINDOWS.overlap, "rate_hz": V1_WINDOWS.rate_hz},
        "corpus": corpus_info,
        "real": real_info,
        "timings": {"total_s": time.perf_counter() - t0},
        "versions": versions(),
        "created_utc": now_utc(),
    }
    write_gap(out / "gap.json", results)
    log.info("gap %s %s vs %s: AUC %.3f +- %.3f, Frechet %.2f", corpus, site, dataset, gap["auc"]["mean"],
             gap["auc"]["std"], gap["frechet"]["value"])
    return results


def validate_gap(obj: object, source: str = "gap results") -> dict:
    """Check a gap results object (schema :data:`GAP_SCHEMA_VERSION`); FormatError naming ``source`` and the fault."""
    if not isinstance(obj, dict):
        raise FormatError(f"{source}: a gap results file holds a JSON object, got {type(obj).__name__}")
    if obj.get("schema_version") != GAP_SCHEMA_VERSION:
        raise FormatError(f"{source}: gap results schema_version {obj.get('schema_version')!r} is not supported "
                          f"(this text2imu reads version {GAP_SCHEMA_VERSION})")
    missing = [k for k in GAP_REQUIRED if k not in obj]
    if missing:
        raise FormatError(f"{source}: missing key(s) {', '.join(missing)}")
    if obj["kind"] != GAP_KIND:
        raise FormatError(f"{source}: kind {obj['kind']!r} is not {GAP_KIND!r}")
    task = obj["task"]
    if not isinstance(task, dict) or [k for k in GAP_TASK_KEYS if k not in task]:
        raise FormatError(f"{source}: task must hold {', '.join(GAP_TASK_KEYS)}")
    gap = obj["gap"]
    auc = gap.get("auc") if isinstance(gap, dict) else None
    fd = gap.get("frechet") if isinstance(gap, dict) else None
    if not (isinstance(auc, dict) and isinstance(auc.get("mean"), int | float) and 0 <= auc["mean"] <= 1):
        raise FormatError(f"{source}: gap.auc.mean must be a number in [0, 1]")
    if not (isinstance(fd, dict) and isinstance(fd.get("value"), int | float) and fd["value"] >= 0):
        raise FormatError(f"{source}: gap.frechet.value must be a non-negative number")
    return obj


def write_gap(path: Path | str, results: dict) -> Path:
    """Validate and write gap results as indented JSON, atomically."""
    from .results import _clean

    clean = _clean(results)
    validate_gap(clean, str(path))
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(clean, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_gap(path: Path | str) -> dict:
    """Read and validate a gap results file."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(f"{path}: not JSON ({err})") from None
    return validate_gap(obj, str(path))
