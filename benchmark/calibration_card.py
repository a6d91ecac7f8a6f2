"""The dataset card (README.md) of a calibrated corpus revision: the source card, updated and extended.

The source card (rendered by ``text2imu build``) is kept, with these changes: the YAML ``pretty_name`` names the
revision, ``dataset_info`` gets the new row counts and sizes of the calibrated configs (and of ``default``), the
title names the revision, the "Configs" and "Files" tables are rewritten, and a "Calibration" section is inserted
before "License" (appended when the card has none): calibration set (dataset, site, subjects, windows per class),
method (per-class, per-channel quantile mapping, number of quantiles, fitted on the real calibration subjects only,
at 20 Hz), what happened to rows and configs, and a summary of the fitted quantiles (all of them are in
``calibration.json``).
"""

from __future__ import annotations

import re

import yaml

from text2imu.builder.errors import FormatError

from .calibration import QuantileCalibration

SUMMARY_PROBABILITIES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def _split_front_matter(text: str) -> tuple[dict, str]:
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.S)
    if not match:
        raise FormatError("README.md of the source corpus: no YAML front matter")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as err:
        raise FormatError(f"README.md of the source corpus: unreadable YAML ({err})".splitlines()[0]) from None
    if not isinstance(meta, dict):
        raise FormatError("README.md of the source corpus: YAML front matter is not a mapping")
    return meta, text[match.end():]


def _update_dataset_info(meta: dict, config_rows: dict, config_bytes: dict, files: dict) -> None:
    """New num_examples / num_bytes / sizes for the rewritten configs; ``default`` summed over all configs."""
    infos = meta.get("dataset_info")
    if not isinstance(infos, list):
        return
    by_name = {i.get("config_name"): i for i in infos if isinstance(i, dict)}
    for config, nbytes in config_bytes.items():
        info = by_name.get(config)
        if info is None:
            continue
        size = sum(b for p, (b, _) in files.items() if p.startswith(f"data/{config}/"))
        info["splits"] = [{**info.get("splits", [{}])[0], "num_bytes": int(nbytes),
                           "num_examples": int(config_rows[config])}]
        info["download_size"], info["dataset_size"] = int(size), int(nbytes)
    default = by_name.get("default")
    parts = [by_name[c] for c in config_rows if c in by_name]
    if default is not None and len(parts) == len(config_rows):
        default["splits"] = [{**default.get("splits", [{}])[0],
                              "num_bytes": sum(int(p["splits"][0]["num_bytes"]) for p in parts),
                              "num_examples": sum(int(config_rows[c]) for c in config_rows)}]
        default["download_size"] = sum(int(p.get("download_size", 0)) for p in parts)
        default["dataset_size"] = default["splits"][0]["num_bytes"]


def _replace_section_table(body: str, heading: str, table: str) -> str:
    """Replace the first Markdown table right after ``heading`` (a whole line) with ``table``."""
    pattern = re.compile(rf"(^{re.escape(heading)}\n\n)(\|.*?\n)(?=\n|\Z)", re.S | re.M)
    return pattern.sub(lambda m: m.group(1) + table + "\n", body, count=1)


def _quantile_rows(cal: QuantileCalibration) -> tuple[tuple[str, ...], list[tuple]]:
    idx = [int(abs(cal.probabilities - p).argmin()) for p in SUMMARY_PROBABILITIES]
    header = ("class", "channel", *(f"p{round(100 * cal.probabilities[i]):02d} syn -> real" for i in idx))
    rows = []
    for k, name in enumerate(cal.classes):
        for c, channel in enumerate(cal.channels):
            rows.append((name, channel, *(f"{cal.synthetic_quantiles[k, c, i]:.3f} -> {cal.real_quantiles[k, c, i]:.3f}"
                                          for i in idx)))
    return header, rows


def calibration_section(record: dict, cal: QuantileCalibration, calibration_sha256: str) -> str:
    """The "Calibration" section of the card (Markdown, ending in a newline)."""
    subjects = ", ".join(cal.calibration_subjects)
    stored = ", ".join(f"{r:g}" for r in record["stored_rates_hz"])
    dropped = record["dropped_rows_per_class"]
    src = record["source_corpus"]
    counts = [(a, record["real_windows_per_class"][a], record["synthetic_windows_per_class"][a]) for a in cal.classes]
    header, qrows = _quantile_rows(cal)
    lines = [
        "## Calibration",
        "",
        f"Revision `{record['revision']}`: corpus `{src.get('version') or 'build ' + str(src.get('fingerprint'))[:12]}` "
        f"(manifest sha256 `{src['manifest_sha256']}`) with the signals of site `{record['site']}` calibrated on a "
        "small labelled real set, as IMUGPT does.",
        "",
        f"- Calibration set: {record.get('dataset_title') or record['dataset']} (`{record['dataset']}`), site "
        f"`{record['real_site']}`, subjects {subjects} only; real data resampled to {record['rate_hz']:g} Hz.",
        f"- Method: {record['method']}, per class and per channel (acc x, y, z in m/s², gyro x, y, z in rad/s): "
        f"v -> F_real^-1(F_syn(v)), each distribution summarised by {cal.n_quantiles} quantiles at evenly spaced "
        "probabilities 0..1, piecewise linear between them, slope 1 beyond the end quantiles, tied synthetic "
        "quantiles merged. Fitted on the synthetic windows of the site (every shape pooled) against the real "
        f"windows of the calibration subjects, {record['window']['window_s']:g} s windows with "
        f"{100 * record['window']['overlap']:g} % overlap at {record['rate_hz']:g} Hz.",
        f"- Rate: the site's recordings were stored at {stored} Hz; rows not at {record['rate_hz']:g} Hz were resampled "
        f"to it (polyphase, as the benchmark reads them) before the map, and the calibrated rows are stored at "
        f"{record['rate_hz']:g} Hz (`rate_hz`, `duration_s` updated; `orientation_wxyz` resampled by normalised "
        "linear interpolation and not calibrated).",
        f"- Classes calibrated: {', '.join(cal.classes)}. "
        + (f"Rows of the site dropped (no real class to calibrate them against): "
           f"{', '.join(f'{a} {n}' for a, n in dropped.items())}." if dropped else "No row of the site was dropped."),
        f"- Configs rewritten: {', '.join(record['site_configs'])}. Every other config is a byte-identical copy "
        "of the source (not calibrated).",
        f"- When benchmarking this revision on `{record['dataset']}`, keep subjects {subjects} out of the test "
        "set: the calibration has seen them.",
        f"- Fitted quantiles: `calibration.json` (sha256 `{calibration_sha256}`).",
        "",
        _table(("class", "real calibration windows", "synthetic windows"), counts),
        "",
        "Fitted quantiles (a summary; all of them in `calibration.json`):",
        "",
        _table(header, qrows),
        "",
    ]
    return "\n".join(lines)


def calibrated_card(source_card: str, record: dict, cal: QuantileCalibration, config_rows: dict, config_bytes: dict,
                    files: dict, calibration_sha256: str) -> str:
    """README.md text of the calibrated revision (module docstring).

    Args:
        source_card: the source corpus's README.md text.
        record: the calibration record (as in ``calibration.json``).
        cal: the fitted map.
        config_rows: {config: rows} of the new corpus; config_bytes: {config: Arrow bytes} of the rewritten ones.
        files: {relative path: (bytes, sha256)} of the new shards.
        calibration_sha256: sha256 of ``calibration.json``.
    """
    meta, body = _split_front_matter(source_card)
    revision = record["revision"]
    meta["pretty_name"] = f"{meta.get('pretty_name', 'text2imu corpus')} ({revision})"
    tags = list(meta.get("tags") or [])
    meta["tags"] = tags + [t for t in ("calibrated",) if t not in tags]
    _update_dataset_info(meta, config_rows, config_bytes, files)
    yaml_text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
    body = re.sub(r"^# (.*)$", lambda m: f"# {m.group(1)} — calibrated revision `{revision}`", body, count=1,
                  flags=re.M)
    body = re.sub(r"\b\d+ recordings in \d+ configs", f"{sum(config_rows.values())} recordings in {len(config_rows)} configs",
                  body, count=1)
    body = _replace_section_table(body, "## Configs", _table(("config", "rows"), list(config_rows.items())))
    shard_rows = [(f"`{p}`", b, f"`{h}`") for p, (b, h) in sorted(files.items())]
    body = _replace_section_table(body, "### Files", _table(("file", "bytes", "sha256"), shard_rows))
    section = calibration_section(record, cal, calibration_sha256)
    if re.search(r"^## License$", body, re.M):
        body = re.sub(r"^## License$", lambda m: section + "\n## License", body, count=1, flags=re.M)
    else:
        body = body.rstrip("\n") + "\n\n" + section
    return f"---\n{yaml_text}---\n{body}"
