"""The user's path, end to end and offline: publish two releases, serve them as a Hub on 127.0.0.1, load them.

``publish_release`` uploads two tiny releases (v0.0.1, v0.0.2) through :class:`GitHfApi` into local git
repositories laid out as olah's ``mirrors-path`` wants (``<mirrors>/datasets/text2imu/kinematic``, tags as git
tags). olah (PyPI ``olah``) serves them in offline mode on a free port of 127.0.0.1 (revision info, refs, trees,
file HEAD/GET from the git objects; it never contacts huggingface.co when ``offline = true`` and the repository is
a local mirror). Clients run in subprocesses with ``HF_ENDPOINT`` at the server, ``HF_HUB_OFFLINE=0`` and a fresh
HF home (the test session itself stays offline); any request to another host goes to a refusing proxy
(127.0.0.1:9). Then, with the server stopped and ``HF_HUB_OFFLINE=1``, ``load_corpus`` still gives each
revision from the cache.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fixtures.hub_fakes import TINY_RELEASE, GitHfApi, write_release_spec

from text2imu.builder.release import build_release, publish_release, release_dir
from text2imu.builder.release_spec import load_release

pytestmark = pytest.mark.slow
if importlib.util.find_spec("olah") is None or shutil.which("git") is None:  # pragma: no cover
    pytest.skip("needs olah (the dev extra) and git", allow_module_level=True)

CONFIG = "hapt.waist-female_short"
TAGS = ("v0.0.1", "v0.0.2")
RELEASES = {  # v0.0.2 has another prompt and a second repetition: its rows differ from v0.0.1's
    "v0.0.1": {**TINY_RELEASE, "version": "v0.0.1", "seed": "v0.0.1", "prompts": ["walking-01"]},
    "v0.0.2": {**TINY_RELEASE, "version": "v0.0.2", "seed": "v0.0.2", "repetitions": 2},
}
SERVER_START_S = 60.0
CLIENT_TIMEOUT_S = 300

CLIENT = r"""
import hashlib, json, sys
import numpy as np

def summary(ds):
    ds = ds.with_format("numpy")
    acc = b"".join(np.ascontiguousarray(a, dtype=np.float32).tobytes() for a in ds["acc_mps2"])
    return {"ids": [str(x) for x in ds["recording_id"]], "acc_sha256": hashlib.sha256(acc).hexdigest()}

online, config, tags = sys.argv[1] == "online", sys.argv[2], sys.argv[3].split(",")
from text2imu.builder import load_corpus
out = {}
for tag in tags:
    if online:
        import datasets
        out["load_dataset/" + tag] = summary(datasets.load_dataset("text2imu/kinematic", config, revision=tag,
                                                                   split="train"))
    out["load_corpus/" + tag] = summary(load_corpus("kinematic", config, tag))
if not online:  # what is not cached, and a config that does not exist, give clear errors
    from text2imu.builder.errors import Text2ImuError
    for name, cfg in (("not_cached", "realworld.head-female_short"), ("unknown", "hapt.waist-femle_short")):
        try:
            load_corpus("kinematic", cfg, tags[0])
            out[name] = "no error"
        except Text2ImuError as err:
            out[name] = str(err)
print("RESULT " + json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client_env(hf_home: Path, endpoint: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_")) and k.lower() not in (
               "http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({"HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1,localhost",
                "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                "ALL_PROXY": "http://127.0.0.1:9"})
    if endpoint is None:
        env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    else:
        env.update({"HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"})
    return env


@contextlib.contextmanager
def olah_server(mirrors: Path, workdir: Path):
    """olah in offline mode serving ``mirrors`` on a free port of 127.0.0.1; yields the endpoint URL and always
    stops the server."""
    port = _free_port()
    config = workdir / "olah.toml"
    config.write_text(
        "[basic]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        f"repos-path = {json.dumps(str(workdir / 'olah-cache'))}\n"
        f"mirrors-path = [{json.dumps(str(mirrors))}]\n"
        'hf-scheme = "http"\nhf-netloc = "127.0.0.1:9"\nhf-lfs-netloc = "127.0.0.1:9"\n'  # nothing upstream
        "[accessibility]\noffline = true\n")
    log_path = workdir / "olah.out"
    endpoint = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "olah.server", "--config", str(config), "--log-path",
                                 str(workdir / "olah-logs")], cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                env=_client_env(workdir / "olah-hf", endpoint))
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"olah exited with status {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with opener.open(f"{endpoint}/api/datasets/text2imu/kinematic/refs", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"olah did not answer within {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _run_client(mode: str, hf_home: Path, endpoint: str | None, workdir: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CLIENT, mode, CONFIG, ",".join(TAGS)], cwd=workdir,
                         env=_client_env(hf_home, endpoint), capture_output=True, text=True,
                         timeout=CLIENT_TIMEOUT_S)
    assert res.returncode == 0, f"{mode} client failed:\n{res.stderr[-4000:]}"
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def _local_summary(folder: Path) -> dict:
    import hashlib

    import datasets
    import numpy as np

    ds = datasets.load_dataset(str(folder), CONFIG, split="train").with_format("numpy")
    acc = b"".join(np.ascontiguousarray(a, dtype=np.float32).tobytes() for a in ds["acc_mps2"])
    return {"ids": [str(x) for x in ds["recording_id"]], "acc_sha256": hashlib.sha256(acc).hexdigest()}


def test_publish_serve_and_load_by_revision_online_then_offline(tmp_path):
    mirrors, root = tmp_path / "mirrors", tmp_path / "releases"
    api = GitHfApi(mirrors)
    expected = {}
    for tag in TAGS:
        release = load_release(str(write_release_spec(tmp_path / "specs" / f"{tag}.toml", **RELEASES[tag])))
        build_release(release, root=root, workers=1, progress=False)
        publish_release(release, api=api, root=root)
        expected[tag] = _local_summary(release_dir(root, tag, "text2imu", "kinematic"))
    assert len(expected["v0.0.1"]["ids"]) == 1 and len(expected["v0.0.2"]["ids"]) == 4
    assert expected["v0.0.1"]["acc_sha256"] != expected["v0.0.2"]["acc_sha256"]

    hf_home = tmp_path / "user-hf-home"
    with olah_server(mirrors, tmp_path) as endpoint:
        online = _run_client("online", hf_home, endpoint, tmp_path)
    for tag in TAGS:
        assert online[f"load_dataset/{tag}"] == expected[tag], tag
        assert online[f"load_corpus/{tag}"] == expected[tag], tag

    offline = _run_client("offline", hf_home, None, tmp_path)  # server stopped, HF_HUB_OFFLINE=1
    for tag in TAGS:
        assert offline[f"load_corpus/{tag}"] == expected[tag], tag
    assert "text2imu/kinematic at revision v0.0.1 is not in the local cache" in offline["not_cached"]
    assert "Unknown config of text2imu/kinematic@v0.0.1 'hapt.waist-femle_short'. Did you mean: " \
           "hapt.waist-female_short" in offline["unknown"]
