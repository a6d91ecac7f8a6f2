"""text2imu's sampling driver for a T2M-GPT checkout (run as a script in the checkout's own Python environment).

T2M-GPT (Mael-zys/T2M-GPT, Apache-2.0) has no text-to-motion command; its demo notebook builds the VQ-VAE and the
GPT from the checkout's modules, samples code indices from a CLIP text feature, decodes them and recovers joint
positions (../shared/FORMATS.md 5.3). This script does the same for a list of jobs and saves each motion as T2M-GPT's
evaluation code does: ``<out_dir>/<key>_pred.npy``, float32 (1, T, 22, 3) metres, 20 fps, T a multiple of 4.

    python t2m_gpt_driver.py --jobs jobs.jsonl --out_dir OUT --resume-pth VQ.pth --resume-trans GPT.pth
        [--meta-dir DIR] [--device cpu|cuda[:N]] [--greedy] [architecture flags]

``jobs.jsonl``: one object per line, ``{"key": ..., "text": ..., "seed": ...}``. Each job seeds torch and NumPy with
its seed; code indices are drawn from the GPT's distribution (categorical sampling, as T2M-GPT's multimodality
evaluation does) unless ``--greedy`` (the demo's top-1 choice, identical for every repetition). When a draw ends
at once (T2M-GPT's ``sample`` then fails), the job is retried with seed + 1000 x attempt, up to 8 attempts.

The architecture flags default to the released model's (README: GPT_eval_multi.py --num-layers 9 --embed-dim-gpt
1024 --nb-code 512 --n-head-gpt 16 --block-size 51 --ff-rate 4 --drop-out-rate 0.1 --down-t 2 --depth 3
--quantizer ema_reset --dilation-growth-rate 3 --vq-act relu). This file must not import text2imu: it runs with
the checkout on ``sys.path`` (the working folder and PYTHONPATH), not text2imu's environment.
"""

import argparse
import json
import os
import sys

ATTEMPTS = 8


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="T2M-GPT text-to-motion sampling for text2imu")
    p.add_argument("--jobs", required=True, help="JSONL file of {key, text, seed}")
    p.add_argument("--out_dir", required=True, help="folder for <key>_pred.npy files")
    p.add_argument("--resume-pth", required=True, help="VQ-VAE checkpoint (e.g. pretrained/VQVAE/net_last.pth)")
    p.add_argument("--resume-trans", required=True, help="GPT checkpoint (e.g. pretrained/VQTransformer_"
                                                         "corruption05/net_best_fid.pth)")
    p.add_argument("--meta-dir", default="checkpoints/t2m/VQVAEV3_CB1024_CMT_H1024_NRES3/meta",
                   help="folder with the dataset mean.npy and std.npy")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--greedy", action="store_true", help="top-1 code indices (the demo) instead of sampling")
    p.add_argument("--clip-model", default="ViT-B/32")
    p.add_argument("--dataname", default="t2m")
    p.add_argument("--nb-code", type=int, default=512)
    p.add_argument("--code-dim", type=int, default=512)
    p.add_argument("--output-emb-width", type=int, default=512)
    p.add_argument("--down-t", type=int, default=2)
    p.add_argument("--stride-t", type=int, default=2)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--dilation-growth-rate", type=int, default=3)
    p.add_argument("--vq-act", default="relu")
    p.add_argument("--quantizer", default="ema_reset")
    p.add_argument("--mu", type=float, default=0.99)
    p.add_argument("--embed-dim-gpt", type=int, default=1024)
    p.add_argument("--clip-dim", type=int, default=512)
    p.add_argument("--block-size", type=int, default=51)
    p.add_argument("--num-layers", type=int, default=9)
    p.add_argument("--n-head-gpt", type=int, default=16)
    p.add_argument("--ff-rate", type=int, default=4)
    p.add_argument("--drop-out-rate", type=float, default=0.1)
    return p.parse_args(argv)


def read_jobs(path):
    jobs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                job = json.loads(line)
                jobs.append((str(job["key"]), str(job["text"]), int(job["seed"])))
    return jobs


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, os.getcwd())
    import clip
    import models.t2m_trans as trans
    import models.vqvae as vqvae
    import numpy as np
    import torch
    from utils.motion_process import recover_from_ric

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    clip_model, _ = clip.load(args.clip_model, device=device, jit=False)
    clip_model.eval()
    net = vqvae.HumanVQVAE(args, args.nb_code, args.code_dim, args.output_emb_width, args.down_t, args.stride_t,
                           args.width, args.depth, args.dilation_growth_rate)
    net.load_state_dict(torch.load(args.resume_pth, map_location="cpu")["net"], strict=True)
    net.eval().to(device)
    gpt = trans.Text2Motion_Transformer(num_vq=args.nb_code, embed_dim=args.embed_dim_gpt, clip_dim=args.clip_dim,
                                        block_size=args.block_size, num_layers=args.num_layers,
                                        n_head=args.n_head_gpt, drop_out_rate=args.drop_out_rate,
                                        fc_rate=args.ff_rate)
    gpt.load_state_dict(torch.load(args.resume_trans, map_location="cpu")["trans"], strict=True)
    gpt.eval().to(device)
    mean = torch.from_numpy(np.load(os.path.join(args.meta_dir, "mean.npy"))).float().to(device)
    std = torch.from_numpy(np.load(os.path.join(args.meta_dir, "std.npy"))).float().to(device)
    os.makedirs(args.out_dir, exist_ok=True)
    for key, text, seed in read_jobs(args.jobs):
        with torch.no_grad():
            tokens = clip.tokenize([text], truncate=True).to(device)
            feat = clip_model.encode_text(tokens).float()
            for attempt in range(ATTEMPTS):
                torch.manual_seed(seed + 1000 * attempt)
                np.random.seed((seed + 1000 * attempt) % 2**32)
                try:
                    index = gpt.sample(feat[0:1], not args.greedy)
                    break
                except (UnboundLocalError, NameError):  # the first sampled index was the end token
                    if attempt == ATTEMPTS - 1:
                        raise
            pose = net.forward_decoder(index)
            xyz = recover_from_ric((pose * std + mean).float(), 22)
        joints = xyz.reshape(1, -1, 22, 3).detach().cpu().numpy().astype(np.float32)
        np.save(os.path.join(args.out_dir, f"{key}_pred.npy"), joints)
        print(f"{key}: {joints.shape[1]} frames", flush=True)


if __name__ == "__main__":
    main()
