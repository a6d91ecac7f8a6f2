"""Loading a published corpus by its release tag, online or offline: :func:`load_corpus`.

``datasets.load_dataset("text2imu/<generator>", "<config>", revision="<tag>")`` works online. Offline
(``HF_HUB_OFFLINE=1``), ``load_dataset`` of a repository id does not resolve ``revision`` (it uses whatever it
cached last), so two releases in one cache can be confused. :func:`load_corpus` downloads (or, offline, finds
in the cache) the snapshot of exactly that revision with :func:`huggingface_hub.snapshot_download`, which records
tag -> commit in the cache, and loads the config from that snapshot folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from .corpus_spec import SPLIT
from .errors import FormatError, Text2ImuError, UnknownNameError
from .release_spec import DEFAULT_ORG

DEFAULT_CONFIG = "default"


def corpus_repo_id(generator: str, org: str = DEFAULT_ORG) -> str:
    """``<org>/<generator>``, the dataset repository of a generator's corpora."""
    return f"{org}/{generator}"


def snapshot_corpus(generator: str, config: str, revision: str, *, org: str = DEFAULT_ORG,
                    endpoint: str | None = None, cache_dir: str | Path | None = None,
                    local_files_only: bool | None = None, token: str | bool | None = None) -> Path:
    """The local snapshot folder of ``<org>/<generator>`` at ``revision`` holding ``config``'s files.

    Only the card, the manifest and the shards of ``config`` are fetched (all shards for "default").
    ``local_files_only``: None follows ``HF_HUB_OFFLINE``; True never touches the network.
    Raises Text2ImuError when the revision is neither reachable nor cached.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    if not revision:
        raise Text2ImuError("load_corpus needs a revision (a release tag such as v0.1.0)")
    patterns = ["README.md", "manifest.json"]
    patterns.append("data/*" if config == DEFAULT_CONFIG else f"data/{config}/*")
    repo_id = corpus_repo_id(generator, org)
    try:
        path = snapshot_download(repo_id, repo_type="dataset", revision=revision, endpoint=endpoint,
                                 cache_dir=cache_dir, local_files_only=bool(local_files_only), token=token,
                                 allow_patterns=patterns)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as err:
        raise Text2ImuError(f"{repo_id} at revision {revision} is not in the local cache and the Hub cannot be "
                            f"reached ({err})") from err
    except HfHubHTTPError as err:
        raise Text2ImuError(f"{repo_id} at revision {revision}: {err}") from err
    return Path(path)


def load_corpus(generator: str, config: str = DEFAULT_CONFIG, revision: str | None = None, *,
                org: str = DEFAULT_ORG, endpoint: str | None = None, cache_dir: str | Path | None = None,
                local_files_only: bool | None = None, token: str | bool | None = None):
    """The ``train`` split of one config of a published corpus at one revision, as a ``datasets.Dataset``.

    Args:
        generator: the generator, i.e. the repository ``<org>/<generator>`` (e.g. "kinematic").
        config: ``<site>-<shape>`` (e.g. "hapt.waist-female_short") or "default" (every recording).
        revision: the release tag (e.g. "v0.1.0"), a branch or a commit id; required.
        org: the Hub organisation (default "text2imu").
        endpoint: Hub endpoint (default ``HF_ENDPOINT`` or huggingface.co).
        cache_dir: Hub cache folder (default the HF cache).
        local_files_only: None follows ``HF_HUB_OFFLINE``; True uses only what is cached.
        token: Hub token (default: the logged-in user's, if any).
    Returns:
        ``datasets.Dataset`` with the corpus columns (DESIGN.md section 5).
    """
    import datasets

    path = snapshot_corpus(generator, config, revision, org=org, endpoint=endpoint, cache_dir=cache_dir,
                           local_files_only=local_files_only, token=token)
    where = f"{corpus_repo_id(generator, org)}@{revision}"
    configs, files = _manifest(path)
    if config != DEFAULT_CONFIG and config not in configs:
        raise UnknownNameError(f"config of {where}", config, (*configs, DEFAULT_CONFIG))
    prefix = "data/" if config == DEFAULT_CONFIG else f"data/{config}/"
    missing = [f for f in files if f.startswith(prefix) and not (path / f).is_file()]
    if missing:
        raise Text2ImuError(f"{where}: {len(missing)} file(s) of config '{config}' are not in the local cache "
                            f"(first {missing[0]}); load it once online")
    return datasets.load_dataset(str(path), config, split=SPLIT)


def _manifest(snapshot: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(config names, file paths) listed in the snapshot's manifest.json."""
    try:
        manifest = json.loads((snapshot / "manifest.json").read_text("utf-8"))
        return tuple(manifest["configs"]), tuple(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FormatError(f"{snapshot / 'manifest.json'}: no readable 'configs' and 'files' ({err}); not a "
                          "text2imu corpus?") from err
