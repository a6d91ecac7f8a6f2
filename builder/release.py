"""Releases: build the corpora a release spec names, verify them, publish them to the Hugging Face Hub with a tag.

A release (:mod:`.release_spec`) names one corpus per generator. On disk, under a root folder (default
``./releases``)::

    <root>/<version>/<org>/<generator>/     one dataset repository folder each (README.md, manifest.json, data/)

- :func:`build_release` builds each corpus with :func:`~text2imu.builder.corpus.build_corpus` (deterministic,
  resumable, refuses a non-empty folder without ``resume`` or ``force``).
- :func:`verify_release` re-hashes every file against its ``manifest.json`` and checks that the folder was built
  from this release's spec (a folder built from another spec or for another organisation is a problem).
- :func:`publish_release` uploads each folder to the dataset repository ``<org>/<generator>`` and tags the
  upload commit ``<version>``. The Hub client is passed in (an :class:`huggingface_hub.HfApi` or anything with
  its methods); nothing here creates one. Order, so that a refusal publishes nothing:

  1. verify every folder (a hash that differs from the manifest, a missing, unlisted or foreign file: refused);
  2. for every repository, ``list_repo_refs``: if the tag ``<version>`` exists, refuse (a tag is never moved;
     a missing repository has no tags);
  3. then for each generator: ``create_repo(repo_type="dataset", exist_ok=True)``, ``upload_folder`` (exactly
     the files of the manifest, and ``delete_patterns=["*"]`` so that files of an older release that this one
     does not have are removed: the tagged commit holds this release and nothing else besides
     ``.gitattributes``), ``create_tag(tag=<version>, revision=<the upload commit>)``.

  Repositories are published one after the other. If the Hub fails half-way, the message names the repositories
  already tagged; publishing the same version again is then refused by their tags (never moved), so a release of
  several generators that failed half-way is finished under a new version.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from .corpus import MANIFEST, BuildResult, build_corpus, verify_corpus
from .errors import FormatError, Text2ImuError
from .release_spec import DEFAULT_ORG, ReleaseSpec, check_org

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("releases")
REPO_TYPE = "dataset"


class PublishError(Text2ImuError):
    """Publishing was refused (nothing uploaded) or the Hub failed; the message says which and what to do."""


def release_dir(root: str | Path, version: str, org: str, generator: str) -> Path:
    """``<root>/<version>/<org>/<generator>``: the dataset repository folder of one generator of a release."""
    return Path(root) / version / org / generator


@dataclass(frozen=True)
class ReleaseBuild:
    """What :func:`build_release` did: one BuildResult per generator (spec order) and the whole time in seconds."""

    release: ReleaseSpec
    org: str
    results: tuple[BuildResult, ...]
    seconds: float

    @property
    def n_recordings(self) -> int:
        return sum(r.n_recordings for r in self.results)


def build_release(release: ReleaseSpec, *, root: str | Path = DEFAULT_ROOT, org: str = DEFAULT_ORG,
                  workers: int = 1, backend: str = "local", scheduler=None, resume: bool = False,
                  force: bool = False, progress: bool = True) -> ReleaseBuild:
    """Build every corpus of ``release`` into ``<root>/<version>/<org>/<generator>``.

    Every generator's spec is checked before the first one is built. ``resume``/``force`` and the backend options
    are those of :func:`~text2imu.builder.corpus.build_corpus`. Raises Text2ImuError (bad spec, refused folder)
    or CorpusBuildError (failed units; rerun with ``resume``).
    """
    started_s = time.perf_counter()
    specs = release.corpus_specs(org)
    results = []
    for generator, spec in specs.items():
        out = release_dir(root, release.version, org, generator)
        log.debug("release %s: building %s into %s", release.version, spec.hub_repo_id, out)
        results.append(build_corpus(spec, out, workers=workers, backend=backend, scheduler=scheduler,
                                    resume=resume, force=force, progress=progress))
    return ReleaseBuild(release, org, tuple(results), time.perf_counter() - started_s)


@dataclass(frozen=True)
class FolderReport:
    """Verification of one generator's folder: ``problems`` empty when it is the intact build of the spec."""

    generator: str
    repo_id: str
    folder: Path
    n_files: int
    n_bytes: int
    n_recordings: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ReleaseReport:
    """:func:`verify_release`'s answer, one FolderReport per generator."""

    release: ReleaseSpec
    org: str
    folders: tuple[FolderReport, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.folders)

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(f"{f.folder}: {p}" for f in self.folders for p in f.problems)


def _spec_differences(built: dict, expected: dict) -> list[str]:
    return sorted(k for k in set(built) | set(expected) if built.get(k) != expected.get(k))


def verify_folder(release: ReleaseSpec, generator: str, *, root: str | Path = DEFAULT_ROOT,
                  org: str = DEFAULT_ORG) -> FolderReport:
    """Verify one generator's folder: built, every file's sha256 as in ``manifest.json``, nothing unlisted, and
    built from this release's spec for ``org`` (see :func:`verify_release`)."""
    spec = release.corpus_spec(generator, org)
    folder = release_dir(root, release.version, org, generator)
    if not (folder / MANIFEST).is_file():
        return FolderReport(generator, spec.hub_repo_id, folder, 0, 0, 0, (
            f"not built (no {MANIFEST}); run `text2imu release build {release.version}"
            + ("" if org == DEFAULT_ORG else f" --org {org}") + "`",))
    report = verify_corpus(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(f"{folder / MANIFEST}: unreadable ({err})") from err
    problems = list(report.problems)
    differ = _spec_differences(manifest.get("spec") or {}, spec.to_dict())
    if differ:
        problems.append(f"built from another spec than {release.source} (differs in: {', '.join(differ)}); "
                        f"rebuild with `text2imu release build {release.version} --force`")
    files = manifest.get("files") or {}
    n_bytes = sum(int(v.get("bytes", 0)) for v in files.values()) + (folder / MANIFEST).stat().st_size
    return FolderReport(generator, spec.hub_repo_id, folder, len(files) + 1, n_bytes,
                        int(manifest.get("recordings", 0)), tuple(problems))


def verify_release(release: ReleaseSpec, *, root: str | Path = DEFAULT_ROOT, org: str = DEFAULT_ORG) -> ReleaseReport:
    """Re-hash every folder of ``release`` under ``root`` against its manifest and check it was built from this
    spec for ``org``. A folder that is missing is a problem ("not built"), not an exception."""
    check_org(org)
    return ReleaseReport(release, org, tuple(verify_folder(release, g, root=root, org=org)
                                             for g in release.generators))


@dataclass(frozen=True)
class Published:
    """One published repository: ``repo_id``, the upload commit the tag points at, the tag."""

    repo_id: str
    commit: str
    tag: str
    n_files: int


def _existing_tags(api, repo_id: str) -> dict[str, str]:
    """{tag: target commit} of ``repo_id`` on the Hub ({} when the repository does not exist yet)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
    except RepositoryNotFoundError:
        return {}
    except Exception as err:  # offline mode, no network, no permission, ...
        raise PublishError(f"{repo_id}: cannot list its tags ({type(err).__name__}: {err}); nothing was "
                           "uploaded") from err
    return {t.name: t.target_commit for t in refs.tags}


def _upload_patterns(folder: Path) -> list[str]:
    """The files to upload: every file the manifest lists, and the manifest."""
    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    return sorted([*manifest["files"], MANIFEST])


def publish_release(release: ReleaseSpec, *, api, org: str = DEFAULT_ORG, root: str | Path = DEFAULT_ROOT
                    ) -> tuple[Published, ...]:
    """Upload every corpus of ``release`` to ``<org>/<generator>`` and tag it ``<version>`` (module docstring).

    Args:
        release: the release spec.
        api: a Hub client with HfApi's ``list_repo_refs``, ``create_repo``, ``upload_folder``, ``create_tag``.
        org: the Hub organisation (or user) the repositories belong to; the folders must have been built for it.
        root: where the release was built.
    Returns:
        One Published per generator. Raises PublishError, with nothing uploaded, when a folder fails
        verification or a tag exists; PublishError naming what was done when the Hub fails half-way.
    """
    report = verify_release(release, root=root, org=org)
    if not report.ok:
        problems = report.problems
        more = f" (and {len(problems) - 1} more problem(s); `text2imu release verify` lists them)" \
            if len(problems) > 1 else ""
        raise PublishError(f"refusing to publish {release.version}: {problems[0]}{more}; nothing was uploaded")
    for f in report.folders:
        tags = _existing_tags(api, f.repo_id)
        if release.version in tags:
            raise PublishError(f"{f.repo_id} already has tag {release.version} (commit {tags[release.version]}); "
                               "a published tag is never moved: publish a new version instead; nothing was "
                               "uploaded")
    done: list[Published] = []
    for f in report.folders:
        step = "create_repo"
        try:
            api.create_repo(f.repo_id, repo_type=REPO_TYPE, exist_ok=True)
            step = "upload_folder"
            info = api.upload_folder(
                repo_id=f.repo_id, folder_path=str(f.folder), repo_type=REPO_TYPE,
                commit_message=f"text2imu release {release.version}: {f.generator}",
                commit_description=f"{f.n_recordings} recordings; built from {release.source}.",
                allow_patterns=_upload_patterns(f.folder), delete_patterns=["*"],
            )
            commit = getattr(info, "oid", None)
            if not commit:
                raise PublishError(f"{f.repo_id}: upload_folder returned no commit id ({info!r})")
            step = "create_tag"
            api.create_tag(f.repo_id, tag=release.version, tag_message=f"text2imu release {release.version}",
                           revision=commit, repo_type=REPO_TYPE)
        except PublishError:
            raise
        except Exception as err:
            before = ", ".join(p.repo_id for p in done) or "none"
            state = " (its files were uploaded to main but not tagged)" if step == "create_tag" else ""
            raise PublishError(f"{f.repo_id}: {step} failed ({type(err).__name__}: {err}){state}; repositories "
                               f"already published and tagged {release.version}: {before}") from err
        log.info("published %s at %s, tagged %s", f.repo_id, commit, release.version)
        done.append(Published(f.repo_id, commit, release.version, f.n_files))
    return tuple(done)
