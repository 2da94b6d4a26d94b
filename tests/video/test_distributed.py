"""`myovision video extract` under torchrun: two CPU processes on gloo share the videos, rank 0 merges."""

import os
import re
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import save_file

from videofiles import write_video
from myovision.cli import main
from myovision.data.store import FeatureStore
from myovision.models.i3d import InceptionI3d


def test_two_gloo_ranks_extract_the_same_features_as_one_process(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    rows = ["uid,video_id,start_frame,stop_frame"]
    for v in range(4):
        write_video(videos / f"V{v}.mp4", n=12 + 2 * v, noise=6)
        rows += [f"{v}0,V{v},1,8", f"{v}1,V{v},5,{12 + 2 * v}"]
    (tmp_path / "actions.csv").write_text("\n".join(rows) + "\n")
    torch.manual_seed(0)
    save_file(InceptionI3d(num_classes=2).state_dict(), str(tmp_path / "i3d.safetensors"))
    args = ["video", "extract", "--annotations", str(tmp_path / "actions.csv"), "--videos", str(videos),
            "--checkpoint", str(tmp_path / "i3d.safetensors"), "--clips", "2", "--frames", "8", "--short-side", "32",
            "--crop", "32", "--workers", "0", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "myovision", *args, "--out", str(tmp_path / "dist")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "rank 0/2" in run.stdout and "rank 1/2" in run.stdout and "8 merged" in run.stdout
    computed = dict(re.findall(r"rank (\d)/2: (\d+) uids computed", run.stdout))
    assert computed == {"0": "4", "1": "4"}, run.stdout  # two videos (four actions) each
    assert main([*args, "--out", str(tmp_path / "single")]) == 0
    dist, single = FeatureStore(tmp_path / "dist"), FeatureStore(tmp_path / "single")
    uids = sorted(single.uids("rgb"))
    assert sorted(dist.uids("rgb")) == uids and len(uids) == 8 and not (tmp_path / "dist" / "parts").exists()
    np.testing.assert_allclose(dist.stack(uids, "rgb"), single.stack(uids, "rgb"), atol=1e-5)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "dist")]) == 0  # a rerun finds everything done
    assert "0 uids computed (0 clips, 0.00 clips/s), 8 already done" in capsys.readouterr().out
