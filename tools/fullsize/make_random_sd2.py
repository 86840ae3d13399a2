#!/usr/bin/env python3
"""Writes a random-weight, full-size SD 2.1-768-v / SPRIGHT-T2I model folder in optimum's ONNX layout.

For performance and memory work only (no real weights are available here): the architectures follow diffusers'
UNet2DConditionModel / AutoencoderKL decoder and transformers' CLIPTextModel with SPRIGHT's configuration
(768 px, v-prediction, 1024-wide OpenCLIP-H text states), written in plain torch so that only Debian's
python3-torch and python3-onnx are needed. The images are noise; the compute and memory are the real model's.

    apt-get install python3-torch python3-onnx     # Debian 12: torch 1.13, onnx 1.12
    /usr/bin/python3 tools/fullsize/make_random_sd2.py OUT_DIR [--components unet,text_encoder,vae_decoder]

About 5 GB on disk and a few minutes on 2 cores. The tokenizer and scheduler come from the bundled tiny model (same
CLIP vocabulary, SD 2.1's DDIM v-prediction config).
"""
import argparse
import json
import math
import os
import shutil
import sys

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

UNET = dict(sample_size=96, in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280, 1280], layers_per_block=2,
            attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, norm_num_groups=32, use_linear_projection=True,
            upcast_attention=True, down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, flip_sin_to_cos=True, freq_shift=0)
CLIP = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
            max_position_embeddings=77, vocab_size=49408, hidden_act="gelu", layer_norm_eps=1e-5, projection_dim=512)
VAE = dict(block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=4, norm_num_groups=32,
           scaling_factor=0.18215, sample_size=768, in_channels=3, out_channels=3, force_upcast=True)


def gn(c, groups=32):
    return nn.GroupNorm(groups, c, eps=1e-5 if groups == 32 else 1e-6)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, temb=1280, eps=1e-5):
        super().__init__()
        self.norm1 = nn.GroupNorm(32, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2 = nn.GroupNorm(32, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Attention(nn.Module):
    def __init__(self, dim, heads, head_dim, context_dim=None):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.scale = head_dim ** -0.5
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, _ = x.shape
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)

        def split(t):
            return t.reshape(b, -1, self.heads, t.shape[-1] // self.heads).permute(0, 2, 1, 3).reshape(b * self.heads, -1, t.shape[-1] // self.heads)

        q, k, v = split(q), split(k), split(v)
        scores = torch.baddbmm(torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype), q, k.transpose(-1, -2), beta=0, alpha=self.scale)
        probs = scores.softmax(dim=-1)
        out = torch.bmm(probs, v)
        out = out.reshape(b, self.heads, -1, out.shape[-1]).permute(0, 2, 1, 3).reshape(b, -1, self.heads * out.shape[-1])
        return self.to_out(out)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim * 8)
        self.out = nn.Linear(dim * 4, dim)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return self.out(h * F.gelu(gate))


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, context_dim):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, heads, dim // heads)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, heads, dim // heads, context_dim)
        self.norm3, self.ff = nn.LayerNorm(dim), FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2D(nn.Module):
    def __init__(self, channels, heads, context_dim):
        super().__init__()
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.block = TransformerBlock(channels, heads, context_dim)
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x, context):
        b, c, h, w = x.shape
        residual = x
        x = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        x = self.proj_out(self.block(self.proj_in(x), context))
        return x.reshape(b, h, w, c).permute(0, 3, 1, 2) + residual


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = cfg["block_out_channels"]
        heads = cfg["attention_head_dim"]
        ctx = cfg["cross_attention_dim"]
        layers = cfg["layers_per_block"]
        self.ch0 = ch[0]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.time_1, self.time_2 = nn.Linear(ch[0], 1280), nn.Linear(1280, 1280)
        self.down = nn.ModuleList()
        skip_channels = [ch[0]]
        cin = ch[0]
        for i, cout in enumerate(ch):
            attn = cfg["down_block_types"][i].startswith("CrossAttn")
            blocks = nn.ModuleList()
            for _ in range(layers):
                blocks.append(nn.ModuleList([ResnetBlock(cin, cout), Transformer2D(cout, heads[i], ctx) if attn else nn.Identity()]))
                cin = cout
                skip_channels.append(cout)
            down = nn.Conv2d(cout, cout, 3, stride=2, padding=1) if i < len(ch) - 1 else None
            if down is not None:
                skip_channels.append(cout)
            self.down.append(nn.ModuleList([blocks, down if down is not None else nn.Identity()]))
        self.mid_res1 = ResnetBlock(ch[-1], ch[-1])
        self.mid_attn = Transformer2D(ch[-1], heads[-1], ctx)
        self.mid_res2 = ResnetBlock(ch[-1], ch[-1])
        self.up = nn.ModuleList()
        rev = list(reversed(ch))
        rheads = list(reversed(heads))
        cin = ch[-1]
        for i, cout in enumerate(rev):
            attn = cfg["up_block_types"][i].startswith("CrossAttn")
            blocks = nn.ModuleList()
            for _ in range(layers + 1):
                skip = skip_channels.pop()
                blocks.append(nn.ModuleList([ResnetBlock(cin + skip, cout), Transformer2D(cout, rheads[i], ctx) if attn else nn.Identity()]))
                cin = cout
            up = nn.Conv2d(cout, cout, 3, padding=1) if i < len(rev) - 1 else None
            self.up.append(nn.ModuleList([blocks, up if up is not None else nn.Identity()]))
        self.up_has_conv = [i < len(rev) - 1 for i in range(len(rev))]
        self.down_has_conv = [i < len(ch) - 1 for i in range(len(ch))]
        self.down_attn = [t.startswith("CrossAttn") for t in cfg["down_block_types"]]
        self.up_attn = [t.startswith("CrossAttn") for t in cfg["up_block_types"]]
        self.norm_out = nn.GroupNorm(32, ch[0], eps=1e-5)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        half = self.ch0 // 2
        exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half
        t = timestep.reshape(-1).expand(sample.shape[0])
        emb = t[:, None].float() * torch.exp(exponent)[None, :]
        emb = torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)  # flip_sin_to_cos
        temb = self.time_2(F.silu(self.time_1(emb)))
        x = self.conv_in(sample)
        skips = [x]
        for i, (blocks, down) in enumerate(self.down):
            for res, attn in blocks:
                x = res(x, temb)
                if self.down_attn[i]:
                    x = attn(x, encoder_hidden_states)
                skips.append(x)
            if self.down_has_conv[i]:
                x = down(x)
                skips.append(x)
        x = self.mid_res2(self.mid_attn(self.mid_res1(x, temb), encoder_hidden_states), temb)
        for i, (blocks, up) in enumerate(self.up):
            for res, attn in blocks:
                x = res(torch.cat([x, skips.pop()], dim=1), temb)
                if self.up_attn[i]:
                    x = attn(x, encoder_hidden_states)
            if self.up_has_conv[i]:
                x = up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


class ClipLayer(nn.Module):
    def __init__(self, d, heads, inner):
        super().__init__()
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.heads = heads
        self.q, self.k, self.v, self.o = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, inner), nn.Linear(inner, d)

    def forward(self, x, mask):
        b, n, d = x.shape
        h = self.layer_norm1(x)
        hd = d // self.heads

        def split(t):
            return t.reshape(b, n, self.heads, hd).transpose(1, 2)

        q, k, v = split(self.q(h) * hd ** -0.5), split(self.k(h)), split(self.v(h))
        probs = (q @ k.transpose(-1, -2) + mask).softmax(-1)
        x = x + self.o((probs @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.layer_norm2(x))))


class ClipText(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.token_embedding = nn.Embedding(cfg["vocab_size"], d)
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], d)
        self.layers = nn.ModuleList([ClipLayer(d, cfg["num_attention_heads"], cfg["intermediate_size"]) for _ in range(cfg["num_hidden_layers"])])
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, input_ids):
        n = input_ids.shape[1]
        x = self.token_embedding(input_ids) + self.position_embedding(torch.arange(n)[None, :])
        mask = torch.full((n, n), torch.finfo(torch.float32).min).triu(1)[None, None]
        for layer in self.layers:
            x = layer(x, mask)
        return self.final_layer_norm(x)


class VaeAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.group_norm = nn.GroupNorm(32, c, eps=1e-6)
        self.to_q, self.to_k, self.to_v, self.to_out = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        scores = torch.baddbmm(torch.empty(b, h * w, h * w, dtype=q.dtype), q, k.transpose(-1, -2), beta=0, alpha=c ** -0.5)
        out = self.to_out(torch.bmm(scores.softmax(-1), v))
        return out.transpose(1, 2).reshape(b, c, h, w) + x


class VaeDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = list(reversed(cfg["block_out_channels"]))
        self.post_quant_conv = nn.Conv2d(cfg["latent_channels"], cfg["latent_channels"], 1)
        self.conv_in = nn.Conv2d(cfg["latent_channels"], ch[0], 3, padding=1)
        self.mid1, self.mid_attn, self.mid2 = ResnetBlock(ch[0], ch[0], None, 1e-6), VaeAttention(ch[0]), ResnetBlock(ch[0], ch[0], None, 1e-6)
        self.ups = nn.ModuleList()
        cin = ch[0]
        for i, cout in enumerate(ch):
            blocks = nn.ModuleList([ResnetBlock(cin if j == 0 else cout, cout, None, 1e-6) for j in range(cfg["layers_per_block"] + 1)])
            cin = cout
            up = nn.Conv2d(cout, cout, 3, padding=1) if i < len(ch) - 1 else nn.Identity()
            self.ups.append(nn.ModuleList([blocks, up]))
        self.n = len(ch)
        self.norm_out = nn.GroupNorm(32, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], cfg["out_channels"], 3, padding=1)

    def forward(self, latent_sample):
        x = self.conv_in(self.post_quant_conv(latent_sample))
        x = self.mid2(self.mid_attn(self.mid1(x)))
        for i, (blocks, up) in enumerate(self.ups):
            for b in blocks:
                x = b(x)
            if i < self.n - 1:
                x = up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


def export(model, args, names, outputs, axes, folder):
    os.makedirs(folder, exist_ok=True)
    raw = os.path.join(folder, "raw")
    os.makedirs(raw, exist_ok=True)
    path = os.path.join(raw, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=names, output_names=outputs, dynamic_axes=axes, opset_version=14,
                          do_constant_folding=True)
    proto = onnx.load(path, load_external_data=True)
    onnx.save_model(proto, os.path.join(folder, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx_data", size_threshold=1024)
    shutil.rmtree(raw)


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--components", default="unet,text_encoder,vae_decoder")
    p.add_argument("--tiny-model", default=os.path.join(os.path.dirname(__file__), "..", "..", "samples", "models", "tiny-sd2"))
    a = p.parse_args()
    torch.manual_seed(0)
    out = a.out
    os.makedirs(out, exist_ok=True)
    for sub in ("tokenizer", "scheduler"):
        shutil.copytree(os.path.join(a.tiny_model, sub), os.path.join(out, sub), dirs_exist_ok=True)
    index = json.load(open(os.path.join(a.tiny_model, "model_index.json")))
    index["_name_or_path"] = "random-full-size-sd2-768-v"
    write_json(os.path.join(out, "model_index.json"), index)
    wanted = a.components.split(",")
    if "text_encoder" in wanted:
        m = ClipText(CLIP).eval()
        export(m, (torch.zeros(1, 77, dtype=torch.int64),), ["input_ids"], ["last_hidden_state"],
               {"input_ids": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "sequence_length"}},
               os.path.join(out, "text_encoder"))
        write_json(os.path.join(out, "text_encoder", "config.json"), dict(CLIP, model_type="clip_text_model", architectures=["CLIPTextModel"]))
        del m
    if "vae_decoder" in wanted:
        m = VaeDecoder(VAE).eval()
        export(m, (torch.randn(1, 4, 8, 8),), ["latent_sample"], ["sample"],
               {"latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"}, "sample": {0: "batch_size", 2: "height", 3: "width"}},
               os.path.join(out, "vae_decoder"))
        write_json(os.path.join(out, "vae_decoder", "config.json"), dict(VAE, _class_name="AutoencoderKL"))
        del m
    if "unet" in wanted:
        m = UNet(UNET).eval()
        export(m, (torch.randn(2, 4, 8, 8), torch.tensor(999.0), torch.randn(2, 77, 1024)), ["sample", "timestep", "encoder_hidden_states"],
               ["out_sample"], {"sample": {0: "batch_size", 2: "height", 3: "width"}, "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
                                "out_sample": {0: "batch_size", 2: "height", 3: "width"}}, os.path.join(out, "unet"))
        write_json(os.path.join(out, "unet", "config.json"), dict(UNET, _class_name="UNet2DConditionModel"))
    print("wrote", out)


if __name__ == "__main__":
    sys.exit(main())
