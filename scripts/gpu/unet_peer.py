#!/usr/bin/env python3
"""PyTorch peer of the EDiffI U-Net training step (issue 18, item 1).

A BENCHMARK PEER, NOT PART OF THE PRODUCT. It re-implements, in plain PyTorch (torch.nn only), the
network of Plugins/UNet (EDiffIUNet, UNetBlock, Layers) for a given unet.json, and trains it with the
recipe of Host/Training/Trainer.cs on synthetic tensors that stay on the GPU: EDM preconditioning and
loss (Karras et al. 2022, Table 1), ln sigma ~ N(-1.2, 1.2^2), independent dropout of the conditioning
streams, fused AdamW, gradient clipping, an EMA of the weights every step, bf16 autocast over float32
master weights. It times the training step alone, eager and under torch.compile, so that the C#
trainer's images per second can be set beside those of "a PyTorch peer of the same U-Net".

Run (on the GPU machine; needs only PyTorch):
    python3 scripts/gpu/unet_peer.py --config models/default/lowest/unet.json --batches 64,256,1024
    python3 scripts/gpu/unet_peer.py --config small --batches 256            # the 12M "small" preset
    python3 scripts/gpu/unet_peer.py --quick                 # batch 256, 10 steps: about 2 minutes, mostly compiling
    python3 scripts/gpu/unet_peer.py --shapes static --variants compile --batches 256   # no symbolic batch
    python3 scripts/gpu/unet_peer.py --check-weights models/default/lowest/unet.safetensors
    python3 scripts/gpu/unet_peer.py --spec-only --check-weights models/default/lowest/unet.safetensors
                                    # no torch needed: the expected state dict against the file

Output: self-checks (parameter count, state-dict names and shapes against the C# layout, the weights
file, compiled against eager loss and gradients), then one line per (variant, batch) starting with
"PEER_RESULT " followed by JSON: variant, batch, images_per_second, ms_per_step, params, and more.

torch.compile is applied to the U-Net (--compile-scope loss: to preconditioning + U-Net + loss); the
optimizer step (fused AdamW), clipping and EMA run eagerly. Training time excludes the compile (printed
apart). Runs past --time-budget-s (230 s) are skipped. By default it compiles once with the batch
dimension symbolic (--shapes dynamic-batch; Inductor's matmul shape padding off, see Run), so the
defaults take about three minutes. --shapes static compiles once per batch size (about 100 s each)
with shape padding on, and was about 15% faster at batch 256 on an H200 (5,002 against 4,201 images/s):
for the strongest peer at one batch, run `--shapes static --variants compile --batches 1024`.

Measured on one H200 (torch 2.11.0+cu130), compact expert, defaults: eager 989 / 2,654 / 3,371 and
compile 1,090 / 4,201 / 5,870 images/s at batches 64 / 256 / 1024, 118.7 s compile, 3 min in all.
"""

import argparse
import json
import math
import os
import struct
import sys
import time
import traceback

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # --spec-only works without torch; the classes below are then defined but unusable
    torch = None

    class nn:  # noqa: N801 - a stand-in so that "class X(nn.Module)" still parses and defines
        Module = object


# ----------------------------------------------------------------------------------------------------
# Configuration: the fields of Plugins/UNet/UNetConfig.cs (camelCase in unet.json) and their defaults.
# ----------------------------------------------------------------------------------------------------

CONFIG_DEFAULTS = {
    "resolution": 64, "channels": 3, "modelChannels": 192, "channelMultipliers": [1, 2, 3, 4],
    "blocksPerLevel": 3, "levelBlocks": None, "selfAttention": True, "skipScale": 1.0,
    "attentionResolutions": [32, 16, 8], "headChannels": 64, "embeddingMultiplier": 4,
    "t5Dimension": 0, "clipTextDimension": 0, "clipPooledDimension": 0, "clipImageDimension": 0,
    "contextDimension": 512, "crossAttention": True, "dropout": 0.0, "streams": [],
}

# UNetConfig.Preset with the widths the shipped encoders give (T5 d_model 128, CLIP hidden and projection
# 128), as UNetFamily.Create(preset, resolution, widths) builds them for `train --unet <preset>`. With these
# widths "small" has 12,319,747 parameters; the 12.2M of docs/benchmarks.md is the same shape with the
# word-hash encoder's width 64 in both text streams and no image stream (12,204,547).
_TEXT_WIDTHS = {"t5Dimension": 128, "clipTextDimension": 128, "clipPooledDimension": 128, "clipImageDimension": 128}
PRESETS = {
    "compact": dict(_TEXT_WIDTHS, resolution=64, modelChannels=36, channelMultipliers=[1, 2, 2, 2], blocksPerLevel=1,
                    attentionResolutions=[16, 8], headChannels=36, contextDimension=96, embeddingMultiplier=2),
    "small": dict(_TEXT_WIDTHS, resolution=64, modelChannels=64, channelMultipliers=[1, 2, 2, 2], blocksPerLevel=2,
                  attentionResolutions=[16, 8], contextDimension=256),
}

# The shipped expert, read from its safetensors header (models/default/lowest/unet.safetensors).
SHIPPED_COMPACT = {"params": 2_508_111, "tensors": 337}

DEFAULT_CONFIG_PATH = "models/default/lowest/unet.json"


def load_config(spec):
    """A full configuration dict from a preset name or a unet.json path."""
    if spec in PRESETS:
        raw, source = dict(PRESETS[spec]), f"preset '{spec}' (embedded)"
    else:
        with open(spec, "r", encoding="utf-8") as f:
            raw, source = json.load(f), spec
    unknown = set(raw) - set(CONFIG_DEFAULTS) - {"version"}
    if unknown:
        print(f"[config] note: fields this peer does not know are ignored: {sorted(unknown)}")
    cfg = dict(CONFIG_DEFAULTS)
    cfg.update({k: v for k, v in raw.items() if k in CONFIG_DEFAULTS})
    if cfg["streams"]:
        raise SystemExit("[config] generic stream slots ('streams') are not implemented in this peer")
    cfg["_source"] = source
    return cfg


def has_context(cfg):
    return cfg["crossAttention"] and (cfg["t5Dimension"] > 0 or cfg["clipTextDimension"] > 0 or cfg["clipImageDimension"] > 0)


def blocks_at(cfg, level):
    return cfg["levelBlocks"][level] if cfg["levelBlocks"] else cfg["blocksPerLevel"]


def group_count(channels):
    """GroupNormLayer: min(32, C/4) groups, at least 1, lowered until it divides C."""
    g = max(1, min(32, channels // 4))
    while channels % g != 0:
        g -= 1
    return g


# ----------------------------------------------------------------------------------------------------
# The block plan: the same walk as the EDiffIUNet constructor. Both the torch module and the expected
# state dict (no torch needed) are built from it.
# ----------------------------------------------------------------------------------------------------

def block_plan(cfg):
    """(encoder blocks, decoder blocks); each a dict: name, cin, cout, up, down, attention, takes_skip."""
    mc, res0, levels = cfg["modelChannels"], cfg["resolution"], len(cfg["channelMultipliers"])
    enc, dec = [], []
    skips = [mc]
    cout = mc
    for level in range(levels):
        res = res0 >> level
        if level > 0:
            enc.append(dict(name=f"{res}x{res}_down", cin=cout, cout=cout, up=False, down=True, attention=False))
            skips.append(cout)
        for i in range(blocks_at(cfg, level)):
            cin, cout = cout, mc * cfg["channelMultipliers"][level]
            enc.append(dict(name=f"{res}x{res}_block{i}", cin=cin, cout=cout, up=False, down=False,
                            attention=res in cfg["attentionResolutions"]))
            skips.append(cout)
    for level in reversed(range(levels)):
        res = res0 >> level
        if level == levels - 1:
            dec.append(dict(name=f"{res}x{res}_in0", cin=cout, cout=cout, up=False, down=False, attention=True, takes_skip=False))
            dec.append(dict(name=f"{res}x{res}_in1", cin=cout, cout=cout, up=False, down=False, attention=False, takes_skip=False))
        else:
            dec.append(dict(name=f"{res}x{res}_up", cin=cout, cout=cout, up=True, down=False, attention=False, takes_skip=False))
        for i in range(blocks_at(cfg, level) + 1):
            cin = cout + skips.pop()
            cout = mc * cfg["channelMultipliers"][level]
            dec.append(dict(name=f"{res}x{res}_block{i}", cin=cin, cout=cout, up=False, down=False,
                            attention=res in cfg["attentionResolutions"], takes_skip=True))
    assert not skips, "every encoder output is read by the decoder"
    return enc, dec


def block_spec(b, emb, ctx, self_attention):
    """Expected parameters of one UNetBlock: [(name, shape)]."""
    cin, cout = b["cin"], b["cout"]
    s = [("norm0.weight", [cin]), ("norm0.bias", [cin]),
         ("conv0.weight", [cout, cin, 3, 3]), ("conv0.bias", [cout]),
         ("affine.weight", [2 * cout, emb]), ("affine.bias", [2 * cout]),
         ("norm1.weight", [cout]), ("norm1.bias", [cout]),
         ("conv1.weight", [cout, cout, 3, 3]), ("conv1.bias", [cout])]
    if cin != cout:
        s += [("skip.weight", [cout, cin, 1, 1]), ("skip.bias", [cout])]
    if b["attention"] and self_attention:
        s += [("norm2.weight", [cout]), ("norm2.bias", [cout]),
              ("qkv.weight", [3 * cout, cout]), ("qkv.bias", [3 * cout]),
              ("proj.weight", [cout, cout]), ("proj.bias", [cout])]
    if b["attention"] and ctx > 0:
        s += [("norm3.weight", [cout]), ("norm3.bias", [cout]),
              ("xq.weight", [cout, cout]), ("xq.bias", [cout]),
              ("xkv.weight", [2 * cout, ctx]), ("xkv.bias", [2 * cout]),
              ("xproj.weight", [cout, cout]), ("xproj.bias", [cout])]
    return s


def expected_state(cfg):
    """{state-dict name: shape} the C# EDiffIUNet registers for this configuration."""
    mc, emb, ch = cfg["modelChannels"], cfg["modelChannels"] * cfg["embeddingMultiplier"], cfg["channels"]
    ctx = cfg["contextDimension"] if has_context(cfg) else 0
    out = {"map_layer0.weight": [emb, mc], "map_layer0.bias": [emb],
           "map_layer1.weight": [emb, emb], "map_layer1.bias": [emb]}

    def linear(name, fin, fout):
        out[name + ".weight"], out[name + ".bias"] = [fout, fin], [fout]

    if cfg["clipPooledDimension"] > 0:
        linear("map_clip_pooled", cfg["clipPooledDimension"], emb)
    if cfg["clipImageDimension"] > 0:
        linear("map_clip_image", cfg["clipImageDimension"], emb)
    if ctx > 0:
        if cfg["clipTextDimension"] > 0:
            linear("ctx_clip_text", cfg["clipTextDimension"], ctx)
        if cfg["t5Dimension"] > 0:
            linear("ctx_t5", cfg["t5Dimension"], ctx)
        if cfg["clipImageDimension"] > 0:
            linear("ctx_clip_image", cfg["clipImageDimension"], ctx)
        out["ctx_null"] = [ctx]
    out["conv_in.weight"], out["conv_in.bias"] = [mc, ch, 3, 3], [mc]
    enc, dec = block_plan(cfg)
    for prefix, blocks in (("enc", enc), ("dec", dec)):
        for b in blocks:
            for name, shape in block_spec(b, emb, ctx, cfg["selfAttention"]):
                out[f"{prefix}.{b['name']}.{name}"] = shape
    cout = dec[-1]["cout"]
    out["out_norm.weight"], out["out_norm.bias"] = [cout], [cout]
    out["out_conv.weight"], out["out_conv.bias"] = [ch, cout, 3, 3], [ch]
    return out


def count(shapes):
    return sum(math.prod(s) for s in shapes.values()), len(shapes)


def kind_of(name):
    """A parameter's block type, for counts per type: 'enc/down', 'dec/attention block', 'top/ctx_t5', ..."""
    parts = name.split(".")
    if parts[0] not in ("enc", "dec"):
        return "top/" + parts[0]
    block = parts[1]
    sub = parts[2]
    part = "attention" if sub in ("norm2", "qkv", "proj") else "cross-attention" if sub in ("norm3", "xq", "xkv", "xproj") \
        else "skip" if sub == "skip" else "resnet"
    kind = "down" if block.endswith("_down") else "up" if block.endswith("_up") else "mid" if "_in" in block else "block"
    return f"{parts[0]}/{kind}/{part}"


def counts_by_kind(shapes):
    out = {}
    for name, shape in shapes.items():
        k = kind_of(name)
        out[k] = out.get(k, 0) + math.prod(shape)
    return out


def compare_states(label, expected, actual):
    """Prints missing / unexpected / mismatched names; returns True when they agree exactly."""
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    mismatched = sorted(n for n in set(expected) & set(actual) if list(expected[n]) != list(actual[n]))
    ok = not (missing or unexpected or mismatched)
    e_params, e_tensors = count(expected)
    a_params, a_tensors = count(actual)
    print(f"[check] {label}: {'OK, names and shapes agree' if ok else 'DIFFERENT'} "
          f"({a_params:,} params / {a_tensors} tensors against {e_params:,} / {e_tensors})")
    for n in missing[:20]:
        print(f"          missing    {n} {expected[n]}")
    for n in unexpected[:20]:
        print(f"          unexpected {n} {actual[n]}")
    for n in mismatched[:20]:
        print(f"          mismatched {n}: expected {expected[n]}, got {actual[n]}")
    if not ok:
        ek, ak = counts_by_kind(expected), counts_by_kind(actual)
        for k in sorted(set(ek) | set(ak)):
            flag = "" if ek.get(k) == ak.get(k) else "   <-- differs"
            print(f"          {k:34s} expected {ek.get(k, 0):>10,}  got {ak.get(k, 0):>10,}{flag}")
    return ok


# ----------------------------------------------------------------------------------------------------
# Safetensors, read with the standard library: 8-byte little-endian header length, JSON header, data.
# ----------------------------------------------------------------------------------------------------

SAFETENSORS_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I8": 1}
# 8-bit weights (Abstractions/IO/Int8Weights.cs): an I8 tensor with a float16 scale per slice of dimension 0 under
# name + INT8_SCALE; it stands for values * scale.
INT8_SCALE = ".int8_scale"


def read_safetensors_header(path):
    """({name: {'dtype', 'shape', 'data_offsets'}}, offset of the data section, file size)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n <= 0 or 8 + n > size:
            raise ValueError(f"{path}: header length {n} does not fit a file of {size} bytes")
        header = json.loads(f.read(n).decode("utf-8"))
    header.pop("__metadata__", None)
    base = 8 + n
    end = 0
    for name, info in header.items():
        if info["dtype"] not in SAFETENSORS_BYTES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which this reader does not take")
        lo, hi = info["data_offsets"]
        if hi - lo != math.prod(info["shape"]) * SAFETENSORS_BYTES[info["dtype"]]:
            raise ValueError(f"{path}: tensor {name}: {hi - lo} bytes for shape {info['shape']} {info['dtype']}")
        end = max(end, hi)
    if base + end != size:
        raise ValueError(f"{path}: the data section ends at {base + end}, the file at {size}")
    return header, base, size


def load_safetensors(path):
    """{name: float32 CPU tensor} (needs torch)."""
    header, base, _ = read_safetensors_header(path)
    dtypes = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64, "I8": torch.int8}
    with open(path, "rb") as f:
        data = f.read()
    out = {}
    for name, info in header.items():
        lo, hi = info["data_offsets"]
        raw = bytearray(data[base + lo:base + hi])
        t = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]) if raw else torch.empty(0, dtype=dtypes[info["dtype"]])
        out[name] = t.reshape(info["shape"]).to(torch.float32)
    for scale_name in [k for k in out if k.endswith(INT8_SCALE)]:
        name = scale_name[:-len(INT8_SCALE)]
        scale = out.pop(scale_name)
        out[name] = out[name] * scale.view(-1, *([1] * (out[name].dim() - 1)))
    return out


# ----------------------------------------------------------------------------------------------------
# The network (torch). Attribute names are the state-dict keys of the C# module.
# ----------------------------------------------------------------------------------------------------

class UNetBlock(nn.Module):
    """ADM residual block with scale-shift norm, optional 2x down/up inside, self- and cross-attention."""

    def __init__(self, b, emb, ctx, head_channels, self_attention, skip_scale, dropout):
        super().__init__()
        cin, cout = b["cin"], b["cout"]
        self.up, self.down = b["up"], b["down"]
        self.skip_scale, self.dropout = skip_scale, dropout
        self.heads = max(1, cout // head_channels)
        self.norm0 = nn.GroupNorm(group_count(cin), cin, eps=1e-5)
        self.conv0 = nn.Conv2d(cin, cout, 3, padding=1)
        self.affine = nn.Linear(emb, 2 * cout)
        self.norm1 = nn.GroupNorm(group_count(cout), cout, eps=1e-5)
        self.conv1 = zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.norm2 = self.qkv = self.proj = None
        self.norm3 = self.xq = self.xkv = self.xproj = None
        if b["attention"] and self_attention:
            self.norm2 = nn.GroupNorm(group_count(cout), cout, eps=1e-5)
            self.qkv = nn.Linear(cout, 3 * cout)
            self.proj = zero(nn.Linear(cout, cout))
        if b["attention"] and ctx > 0:
            self.norm3 = nn.GroupNorm(group_count(cout), cout, eps=1e-5)
            self.xq = nn.Linear(cout, cout)
            self.xkv = nn.Linear(ctx, 2 * cout)
            self.xproj = zero(nn.Linear(cout, cout))

    def residual(self, x, update):
        return x + update if self.skip_scale == 1 else (x + update) * self.skip_scale

    def forward(self, x, emb, context, mask):
        orig = x
        h = F.silu(self.norm0(x))
        if self.up:
            h, orig = F.interpolate(h, scale_factor=2.0, mode="nearest"), F.interpolate(orig, scale_factor=2.0, mode="nearest")
        if self.down:
            h, orig = F.avg_pool2d(h, 2), F.avg_pool2d(orig, 2)
        h = self.conv0(h)
        scale, shift = self.affine(emb).unsqueeze(2).unsqueeze(3).chunk(2, dim=1)
        h = F.silu(shift + self.norm1(h) * (scale + 1))
        if self.dropout > 0 and self.training:
            h = F.dropout(h, self.dropout, True)
        h = self.conv1(h)
        x = h + (orig if self.skip is None else self.skip(orig))
        if self.skip_scale != 1:
            x = x * self.skip_scale
        if self.qkv is not None:
            x = self.residual(x, self.self_attention(x))
        if self.xq is not None and context is not None:
            x = self.residual(x, self.cross_attention(x, context, mask))
        return x

    def self_attention(self, x):
        b, c, hh, ww = x.shape
        n, dh = hh * ww, c // self.heads
        tokens = self.norm2(x).flatten(2).transpose(1, 2)                                   # [B, HW, C]
        q, k, v = self.qkv(tokens).view(b, n, 3, self.heads, dh).permute(2, 0, 3, 1, 4)     # 3 x [B, heads, HW, dh]
        a = F.scaled_dot_product_attention(q, k, v)
        out = self.proj(a.transpose(1, 2).reshape(b, n, c))
        return out.transpose(1, 2).reshape(b, c, hh, ww)

    def cross_attention(self, x, context, mask):
        b, c, hh, ww = x.shape
        n, dh, lk = hh * ww, c // self.heads, context.shape[1]
        q = self.xq(self.norm3(x).flatten(2).transpose(1, 2)).view(b, n, self.heads, dh).transpose(1, 2)
        k, v = self.xkv(context).view(b, lk, 2, self.heads, dh).permute(2, 0, 3, 1, 4)     # 2 x [B, heads, Lk, dh]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.view(b, 1, 1, lk))       # True = attend
        out = self.xproj(a.transpose(1, 2).reshape(b, n, c))
        return out.transpose(1, 2).reshape(b, c, hh, ww)


def zero(module):
    """ADM's zero initialisation of a residual branch's last layer (Init.Zero in Layers.cs)."""
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)
    return module


class EDiffIUNet(nn.Module):
    """F_theta of Plugins/UNet/EDiffIUNet.cs. Linear and Conv2d keep PyTorch's default initialisation,
    uniform in +-1/sqrt(fan_in) for weight and bias, which is what Layers.cs draws."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        mc, ch = cfg["modelChannels"], cfg["channels"]
        emb = mc * cfg["embeddingMultiplier"]
        ctx = cfg["contextDimension"] if has_context(cfg) else 0
        self.map_layer0 = nn.Linear(mc, emb)
        self.map_layer1 = nn.Linear(emb, emb)
        self.map_clip_pooled = nn.Linear(cfg["clipPooledDimension"], emb) if cfg["clipPooledDimension"] > 0 else None
        self.map_clip_image = nn.Linear(cfg["clipImageDimension"], emb) if cfg["clipImageDimension"] > 0 else None
        self.ctx_clip_text = self.ctx_t5 = self.ctx_clip_image = self.ctx_null = None
        if ctx > 0:
            if cfg["clipTextDimension"] > 0:
                self.ctx_clip_text = nn.Linear(cfg["clipTextDimension"], ctx)
            if cfg["t5Dimension"] > 0:
                self.ctx_t5 = nn.Linear(cfg["t5Dimension"], ctx)
            if cfg["clipImageDimension"] > 0:
                self.ctx_clip_image = nn.Linear(cfg["clipImageDimension"], ctx)
            self.ctx_null = nn.Parameter(torch.randn(ctx) * 0.02)
        self.conv_in = nn.Conv2d(ch, mc, 3, padding=1)
        enc, dec = block_plan(cfg)
        args = dict(emb=emb, ctx=ctx, head_channels=cfg["headChannels"], self_attention=cfg["selfAttention"],
                    skip_scale=float(cfg["skipScale"]), dropout=float(cfg["dropout"]))
        self.enc = nn.ModuleDict({b["name"]: UNetBlock(b, **args) for b in enc})
        self.dec = nn.ModuleDict({b["name"]: UNetBlock(b, **args) for b in dec})
        self.takes_skip = [b["takes_skip"] for b in dec]
        self.out_norm = nn.GroupNorm(group_count(dec[-1]["cout"]), dec[-1]["cout"], eps=1e-5)
        self.out_conv = zero(nn.Conv2d(dec[-1]["cout"], ch, 3, padding=1))
        half = mc // 2
        # EDM's PositionalEmbedding (max_positions 10000, cos then sin), as NoiseEmbedding computes it.
        self.register_buffer("freqs", torch.pow(1.0 / 10000, torch.arange(half, dtype=torch.float32) / half), persistent=False)

    def forward(self, x, c_noise, t5=None, t5_mask=None, clip=None, clip_mask=None, clip_pooled=None, clip_image=None):
        batch = x.shape[0]
        f = c_noise.float().flatten().unsqueeze(1) * self.freqs.unsqueeze(0)
        emb = self.map_layer1(F.silu(self.map_layer0(torch.cat([f.cos(), f.sin()], dim=1))))
        # A missing stream is a zero vector, as conditioning dropout makes it.
        if self.map_clip_pooled is not None:
            if clip_pooled is None:
                clip_pooled = x.new_zeros(batch, self.map_clip_pooled.in_features)
            emb = emb + self.map_clip_pooled(clip_pooled)
        if self.map_clip_image is not None:
            if clip_image is None:
                clip_image = x.new_zeros(batch, self.map_clip_image.in_features)
            emb = emb + self.map_clip_image(clip_image)
        emb = F.silu(emb)

        context = mask = None
        if self.ctx_null is not None:
            parts, masks = [], []
            for proj, tokens, tmask in ((self.ctx_clip_text, clip, clip_mask), (self.ctx_t5, t5, t5_mask)):
                if proj is None:
                    continue
                if tokens is None:  # a dropped stream: one masked zero token
                    tokens = x.new_zeros(batch, 1, proj.in_features)
                    tmask = torch.zeros(batch, 1, dtype=torch.bool, device=x.device)
                parts.append(proj(tokens))
                masks.append(tmask)
            if self.ctx_clip_image is not None:
                image = clip_image if clip_image is not None else x.new_zeros(batch, self.ctx_clip_image.in_features)
                parts.append(self.ctx_clip_image(image).unsqueeze(1))
                masks.append(torch.ones(batch, 1, dtype=torch.bool, device=x.device))
            null = self.ctx_null.view(1, 1, -1).expand(batch, 1, -1)
            if parts and parts[0].dtype != null.dtype:  # under autocast the projections are bf16
                null = null.to(parts[0].dtype)
            parts.append(null)
            masks.append(torch.ones(batch, 1, dtype=torch.bool, device=x.device))
            context, mask = torch.cat(parts, dim=1), torch.cat(masks, dim=1)

        h = self.conv_in(x)
        skips = [h]
        for block in self.enc.values():
            h = block(h, emb, context, mask)
            skips.append(h)
        for takes, block in zip(self.takes_skip, self.dec.values()):
            if takes:
                h = torch.cat([h, skips.pop()], dim=1)
            h = block(h, emb, context, mask)
        return self.out_conv(F.silu(self.out_norm(h)))


# ----------------------------------------------------------------------------------------------------
# EDM (Karras et al. 2022, Table 1) and the training step of Host/Training/Trainer.cs.
# ----------------------------------------------------------------------------------------------------

SIGMA_DATA = 0.5


class EdmLoss(nn.Module):
    """lambda(sigma) |D(y + n; sigma) - y|^2 averaged over pixels and the batch, with
    D = c_skip x + c_out F(c_in x; c_noise); the network runs under bf16 autocast, the rest in float32."""

    def __init__(self, net, mark_batch_dynamic=False):
        super().__init__()
        self.net = net
        self.mark_batch_dynamic = mark_batch_dynamic  # when self.net is compiled with a dynamic batch

    def forward(self, images, sigma, unit_noise, t5, t5_mask, clip, clip_mask, clip_pooled, clip_image):
        s = sigma.view(-1, 1, 1, 1)
        x = images + unit_noise * s
        s2 = s * s + SIGMA_DATA ** 2
        c_skip = SIGMA_DATA ** 2 / s2
        c_out = s * SIGMA_DATA / s2.sqrt()
        c_in = s2.rsqrt()
        c_noise = sigma.log() / 4
        inputs = (c_in * x, c_noise, t5, t5_mask, clip, clip_mask, clip_pooled, clip_image)
        if self.mark_batch_dynamic:
            mark_batch(inputs)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            f = self.net(*inputs)
        denoised = c_skip * x + c_out * f.float()
        weight = s2 / (s * SIGMA_DATA) ** 2
        return (weight * (denoised - images).square()).mean()


def mark_batch(tensors):
    """Lets torch.compile treat dimension 0 (the batch) as symbolic, so one compiled graph serves every batch size."""
    for t in tensors:
        if t is not None:
            torch._dynamo.maybe_mark_dynamic(t, 0)


class Recipe:
    """Hyper-parameters of Host/Training/TrainingOptions.cs (defaults)."""
    lr = 2e-4
    warmup_steps = 200
    weight_decay = 0.01
    betas = (0.9, 0.999)
    eps = 1e-8
    p_mean, p_std = -1.2, 1.2
    drop_p = 0.1          # each of T5, CLIP text, CLIP image, independently
    image_drop_p = 0.5    # the CLIP image embedding is dropped as well with this probability
    grad_clip = 1.0
    ema_decay = 0.999


def make_data(cfg, batch, t5_tokens, clip_tokens, device, gen):
    """Synthetic batch shaped as the trainer feeds it, resident on the GPU: images in [-1, 1]; T5 tokens
    padded to the batch's longest caption (zeros at padding, like T5TextEncoder); CLIP text padded to 77
    with its mask, and the projected pooled vector; the CLIP image embedding."""
    r, ch = cfg["resolution"], cfg["channels"]

    def randn(*shape):
        return torch.randn(*shape, generator=gen, device=device)

    def lengths(n, low):
        ln = torch.randint(low, n + 1, (batch,), generator=gen, device=device)
        ln[0] = n  # the longest caption sets the padded length
        return torch.arange(n, device=device).unsqueeze(0) < ln.unsqueeze(1)

    d = {"images": (torch.rand(batch, ch, r, r, generator=gen, device=device) * 2 - 1)}
    if cfg["t5Dimension"] > 0:
        m = lengths(t5_tokens, min(8, t5_tokens))
        d["t5"], d["t5_mask"] = randn(batch, t5_tokens, cfg["t5Dimension"]) * 0.2 * m.unsqueeze(2), m
    if cfg["clipTextDimension"] > 0:
        d["clip"], d["clip_mask"] = randn(batch, clip_tokens, cfg["clipTextDimension"]), lengths(clip_tokens, min(4, clip_tokens))
    if cfg["clipPooledDimension"] > 0:
        d["clip_pooled"] = randn(batch, cfg["clipPooledDimension"])
    if cfg["clipImageDimension"] > 0:
        d["clip_image"] = randn(batch, cfg["clipImageDimension"])
    return d


def sample_step(data, recipe):
    """The per-step randomness of Trainer.TrainStep, drawn on the GPU: sigma, unit noise and the
    independent dropout of each conditioning stream. Returns the loss module's arguments."""
    images = data["images"]
    b, dev = images.shape[0], images.device
    keep = torch.rand(3, b, device=dev) >= recipe.drop_p
    keep_t5, keep_clip = keep[0], keep[1]
    keep_image = keep[2] & (torch.rand(b, device=dev) >= recipe.image_drop_p)
    sigma = (torch.randn(b, device=dev) * recipe.p_std + recipe.p_mean).exp()
    noise = torch.randn_like(images)

    def tokens(name, k):
        t = data.get(name)
        return None if t is None else t * k.view(-1, 1, 1).to(t.dtype)

    def mask(name, k):
        m = data.get(name)
        return None if m is None else m & k.view(-1, 1)

    def vector(name, k):
        v = data.get(name)
        return None if v is None else v * k.view(-1, 1).to(v.dtype)

    return (images, sigma, noise, tokens("t5", keep_t5), mask("t5_mask", keep_t5), tokens("clip", keep_clip),
            mask("clip_mask", keep_clip), vector("clip_pooled", keep_clip), vector("clip_image", keep_image))


class Run:
    """One network, its loss module (eager or compiled), and per batch size a fresh optimizer and EMA.
    The network and its compiled code are built once; reset() puts the initial weights back."""

    def __init__(self, cfg, recipe, device, seed, compiled, compile_mode, compile_scope, dynamic_batch, channels_last):
        torch.manual_seed(seed)
        self.recipe, self.device, self.compiled = recipe, device, compiled
        self.dynamic_batch = compiled and dynamic_batch
        self.net = EDiffIUNet(cfg).to(device).train()
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.params = [p for p in self.net.parameters()]
        self.initial = [p.detach().clone() for p in self.params]
        self.eager_loss = EdmLoss(self.net)
        self.scope = compile_scope
        if not compiled:
            self.loss = self.eager_loss
        else:
            # static: every shape fixed; dynamic-batch: shapes static except the batch, marked by mark_batch.
            kw = {"dynamic": None if self.dynamic_batch else False}
            # Inductor's matmul padding pass (pad_mm, for widths such as 36 and 72 that are not multiples of 8)
            # guards the symbolic batch to a range around the first batch size seen (36 <= B <= 72 for 64), so
            # every other batch size recompiled (about 100 s each). With a dynamic batch it is turned off;
            # --shapes static keeps it.
            import torch._inductor.config as inductor_config
            inductor_config.shape_padding = not self.dynamic_batch
            if compile_mode and compile_mode != "default":
                kw["mode"] = compile_mode
            if compile_scope == "model":
                self.loss = EdmLoss(torch.compile(self.net, **kw), mark_batch_dynamic=self.dynamic_batch)
            else:
                self.loss = torch.compile(EdmLoss(self.net), **kw)
        self.needs_check = compiled
        self.reset()

    def reset(self):
        """Initial weights, a new fused AdamW, EMA = weights, step 0 (every batch size starts alike)."""
        r = self.recipe
        with torch.no_grad():
            for p, p0 in zip(self.params, self.initial):
                p.copy_(p0)
                p.grad = None
        self.opt = torch.optim.AdamW(self.params, lr=r.lr, betas=r.betas, eps=r.eps, weight_decay=r.weight_decay, fused=True)
        self.ema = [p.detach().clone() for p in self.params]
        self.step = 0
        self.loss_sum = torch.zeros((), device=self.device)
        self.first_loss = None

    def loss_of(self, inputs):
        if self.dynamic_batch and self.scope == "loss":
            mark_batch(inputs)
        return self.loss(*inputs)

    def finish_step(self, loss):
        """Clip, step (with the linear learning-rate warm-up), EMA, as Trainer.TrainStep after backward."""
        r = self.recipe
        if r.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, r.grad_clip)
        lr = r.lr * min(1.0, (self.step + 1) / max(1, r.warmup_steps))
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.step += 1
        decay = min(r.ema_decay, (1 + self.step) / (10.0 + self.step))
        with torch.no_grad():
            torch._foreach_lerp_(self.ema, self.params, 1 - decay)
        self.loss_sum += loss.detach()
        if self.first_loss is None:
            self.first_loss = loss.detach().clone()

    def train_step(self, data):
        loss = self.loss_of(sample_step(data, self.recipe))
        loss.backward()
        self.finish_step(loss)

    def compile_and_check(self, data):
        """Compiles (first forward + backward of the compiled loss) and checks it against eager on the same
        inputs. At initialisation the zero-initialised output layer makes every gradient but its own zero,
        so the check perturbs all weights first and puts them back afterwards; no optimizer step is taken.
        Returns (compile seconds, check line)."""
        inputs = sample_step(data, self.recipe)
        with torch.no_grad():
            for p in self.params:
                p.add_(torch.randn_like(p) * 0.05)
        loss_e = self.eager_loss(*inputs)
        loss_e.backward()
        grads_e = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        for p in self.params:
            p.grad = None
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss_c = self.loss_of(inputs)
        loss_c.backward()
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - t0
        grads_c = [p.grad.detach() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        num = torch.sqrt(sum(((a.float() - b.float()) ** 2).sum() for a, b in zip(grads_c, grads_e)))
        den = torch.sqrt(sum((b.float() ** 2).sum() for b in grads_e)).clamp_min(1e-30)
        zero_grads = sum(int(b.abs().max().item() == 0) for b in grads_e)
        le, lc = loss_e.item(), loss_c.item()
        grel = (num / den).item()
        lrel = abs(lc - le) / max(abs(le), 1e-30)
        ok = lrel < 2e-2 and grel < 5e-2
        line = (f"[check] compiled vs eager, same inputs, perturbed weights: loss {lc:.6f} vs {le:.6f} (rel {lrel:.2e}), "
                f"gradient rel. difference {grel:.2e} ({zero_grads} of {len(grads_e)} eager gradients all zero) -> "
                f"{'OK' if ok else 'SUSPICIOUS (bf16 tolerance: loss 2e-2, gradient 5e-2)'}")
        self.reset()
        self.needs_check = False
        return compile_s, line


def benchmark(run, cfg, args, variant, batch, device):
    result = {"variant": variant, "batch": batch, "images_per_second": None, "ms_per_step": None,
              "params": sum(p.numel() for p in run.params), "config": cfg["_source"],
              "t5_tokens": args.t5_tokens, "clip_tokens": args.clip_tokens, "channels_last": args.channels_last}
    if run.compiled:
        import torch._inductor.config as inductor_config
        result.update(compile_mode=args.compile_mode, compile_scope=args.compile_scope, shapes=args.shapes,
                      shape_padding=bool(inductor_config.shape_padding))
    run.reset()
    torch.cuda.reset_peak_memory_stats()
    data = make_data(cfg, batch, args.t5_tokens, args.clip_tokens, device,
                     torch.Generator(device=device).manual_seed(args.seed + batch))
    if args.channels_last:
        data["images"] = data["images"].contiguous(memory_format=torch.channels_last)
    if run.needs_check:
        compile_s, line = run.compile_and_check(data)
        print(f"    {line}")
        print(f"    compile (first forward + backward): {compile_s:.1f} s")
        result["compile_s"] = round(compile_s, 1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    run.train_step(data)
    torch.cuda.synchronize()
    first_s = time.perf_counter() - t0
    for _ in range(max(0, args.warmup - 1)):
        run.train_step(data)
    torch.cuda.synchronize()
    warm_s = time.perf_counter() - t0
    result.update(first_step_s=round(first_s, 2), warmup_s=round(warm_s, 1))
    print(f"    warm-up: {args.warmup} steps in {warm_s:.1f} s, the first {first_s:.2f} s"
          f"{' (a recompile, if this is much more than a step)' if run.compiled else ''}")

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    loss_before = run.loss_sum.clone()
    t1 = time.perf_counter()
    start.record()
    for _ in range(args.steps):
        run.train_step(data)
    end.record()
    end.synchronize()
    wall = time.perf_counter() - t1
    ms = start.elapsed_time(end) / args.steps
    mean_loss = ((run.loss_sum - loss_before) / args.steps).item()
    first = run.first_loss.item()
    result.update(images_per_second=round(batch * 1000.0 / ms, 1), ms_per_step=round(ms, 3),
                  wall_images_per_second=round(batch * args.steps / wall, 1),
                  loss_first=round(first, 5), loss_mean_timed=round(mean_loss, 5),
                  peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2 ** 30, 2))
    finite = math.isfinite(mean_loss)
    print(f"    {args.steps} steps: {ms:.2f} ms/step -> {result['images_per_second']:,.0f} images/s "
          f"(wall clock {result['wall_images_per_second']:,.0f}); loss first {first:.4f}, timed mean {mean_loss:.4f}"
          f"{'' if finite else '  <-- NOT FINITE'}; peak {result['peak_memory_gib']} GiB")
    if not finite:
        result["error"] = "loss not finite"
    del data
    return result


# ----------------------------------------------------------------------------------------------------
# Self-checks and the benchmark.
# ----------------------------------------------------------------------------------------------------

def is_shipped_compact(cfg):
    ref = load_config("compact")
    keys = [k for k in CONFIG_DEFAULTS if k != "streams"]
    return all(cfg[k] == ref[k] for k in keys)


def spec_checks(cfg, check_weights):
    """Checks that need no torch: the expected state dict and, optionally, the weights file's header."""
    expected = expected_state(cfg)
    params, tensors = count(expected)
    print(f"[spec] expected state dict from the C# builder rules: {params:,} params in {tensors} tensors")
    if is_shipped_compact(cfg):
        ok = (params, tensors) == (SHIPPED_COMPACT["params"], SHIPPED_COMPACT["tensors"])
        print(f"[spec] shipped compact expert: {SHIPPED_COMPACT['params']:,} / {SHIPPED_COMPACT['tensors']} -> {'OK' if ok else 'DIFFERENT'}")
    ok = True
    if check_weights:
        header, _, size = read_safetensors_header(check_weights)
        dtypes = sorted({v["dtype"] for v in header.values()})
        print(f"[spec] {check_weights}: {len(header)} tensors, dtypes {dtypes}, {size:,} bytes")
        ok = compare_states(f"expected state dict vs {check_weights}", expected,
                            {k: v["shape"] for k, v in header.items() if not k.endswith(INT8_SCALE)})
    return expected, ok


def module_checks(cfg, expected, check_weights, device):
    """Checks of the torch module: names and shapes, parameter count, zero output at initialisation,
    and (with a weights file) loading it strictly and running it."""
    torch.manual_seed(0)
    net = EDiffIUNet(cfg).to(device)
    actual = {k: list(v.shape) for k, v in net.state_dict().items()}
    n_params = sum(p.numel() for p in net.parameters())
    n_tensors = len(list(net.parameters()))
    print(f"[check] torch module: {n_params:,} params in {n_tensors} tensors", end="")
    if is_shipped_compact(cfg):
        same = (n_params, n_tensors) == (SHIPPED_COMPACT["params"], SHIPPED_COMPACT["tensors"])
        print(f"; expected {SHIPPED_COMPACT['params']:,} / {SHIPPED_COMPACT['tensors']} -> {'OK' if same else 'DIFFERENT'}")
    else:
        print(f"; the C# rules give {count(expected)[0]:,} / {count(expected)[1]}")
    compare_states("torch module vs expected state dict", expected, actual)
    data = make_data(cfg, 4, 16, 77, device, torch.Generator(device=device).manual_seed(0))
    args = (data.get("t5"), data.get("t5_mask"), data.get("clip"), data.get("clip_mask"), data.get("clip_pooled"), data.get("clip_image"))
    c_noise = torch.full((4,), math.log(0.5) / 4, device=device)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        out = net(data["images"], c_noise, *args)
    print(f"[check] forward at initialisation: output {list(out.shape)}, max |F| = {out.abs().max().item():.3g} "
          f"(out_conv starts at zero, so 0 is right)")
    if check_weights:
        weights = load_safetensors(check_weights)
        result = net.load_state_dict(weights, strict=False)
        print(f"[check] load_state_dict({check_weights}): missing {list(result.missing_keys)[:10]}, unexpected {list(result.unexpected_keys)[:10]}")
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            out = net(data["images"], c_noise, *args).float()
            dropped = net(data["images"], c_noise).float()
        print(f"[check] forward with the shipped weights: finite {bool(torch.isfinite(out).all())}, std {out.std().item():.4f}; "
              f"unconditional (streams absent) differs by {(out - dropped).abs().mean().item():.4f} on average")
    del net
    return n_params


def main():
    p = argparse.ArgumentParser(description="PyTorch peer of the EDiffI U-Net training step (benchmark only).")
    p.add_argument("--config", default=None,
                   help=f"unet.json path or a preset ({', '.join(PRESETS)}); default {DEFAULT_CONFIG_PATH}, else the compact preset")
    p.add_argument("--batches", default="64,256,1024", help="comma-separated batch sizes")
    p.add_argument("--steps", type=int, default=50, help="timed steps per (variant, batch)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (the first compiles)")
    p.add_argument("--variants", default="eager,compile", help="comma-separated: eager, compile")
    p.add_argument("--compile-mode", default="default",
                   help="torch.compile mode: default, max-autotune-no-cudagraphs, reduce-overhead, max-autotune")
    p.add_argument("--compile-scope", choices=["model", "loss"], default="model",
                   help="compile the U-Net alone (default) or the whole loss (preconditioning + U-Net + loss)")
    p.add_argument("--shapes", choices=["dynamic-batch", "static"], default="dynamic-batch",
                   help="dynamic-batch (default): one compile, the batch dimension symbolic, every batch size reuses it; "
                        "static: a fresh compile with every shape fixed for each batch size (about 100 s each)")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format (off: what the C# uses)")
    p.add_argument("--t5-tokens", type=int, default=128, help="T5 tokens per caption after padding (T5 maxTokens: 128)")
    p.add_argument("--clip-tokens", type=int, default=77, help="CLIP text tokens (always padded to 77)")
    p.add_argument("--check-weights", default=None, help="a unet.safetensors to check names and shapes against (and load)")
    p.add_argument("--spec-only", action="store_true", help="only the checks that need no torch, then stop")
    p.add_argument("--time-budget-s", type=float, default=230, help="skip the remaining runs once this much time has passed")
    p.add_argument("--quick", action="store_true", help="batch 256 only, 10 timed steps")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.quick:
        args.batches, args.steps, args.warmup = "256", 10, 2
    if args.config is None:
        args.config = DEFAULT_CONFIG_PATH if os.path.exists(DEFAULT_CONFIG_PATH) else "compact"
    clock = time.perf_counter()

    cfg = load_config(args.config)
    print(f"[config] {cfg['_source']}: modelChannels {cfg['modelChannels']}, multipliers {cfg['channelMultipliers']}, "
          f"blocks {cfg['levelBlocks'] or cfg['blocksPerLevel']}, attention at {cfg['attentionResolutions']}, "
          f"head channels {cfg['headChannels']}, context {cfg['contextDimension'] if has_context(cfg) else 0}, "
          f"widths T5 {cfg['t5Dimension']} CLIP {cfg['clipTextDimension']}/{cfg['clipPooledDimension']} image {cfg['clipImageDimension']}")
    expected, _ = spec_checks(cfg, args.check_weights)
    if args.spec_only:
        return 0
    if torch is None:
        print("[error] PyTorch is not installed; only --spec-only runs here")
        return 2
    if not torch.cuda.is_available():
        print("[error] no CUDA device")
        return 2
    device = torch.device("cuda")
    print(f"[env] torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
          f"GPU {torch.cuda.get_device_name(0)} (capability {'.'.join(map(str, torch.cuda.get_device_capability(0)))}), "
          f"python {sys.version.split()[0]}")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    n_params = module_checks(cfg, expected, args.check_weights, device)
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    results = []

    def failed(variant, batch, why):
        results.append({"variant": variant, "batch": batch, "images_per_second": None, "ms_per_step": None,
                        "params": n_params, "error": why})

    for variant in variants:
        if variant not in ("eager", "compile"):
            print(f"[bench] unknown variant '{variant}' (eager, compile): skipped")
            for batch in batches:
                failed(variant, batch, "unknown variant")
            continue
        compiled = variant == "compile"
        run = None
        for batch in batches:
            elapsed = time.perf_counter() - clock
            if elapsed > args.time_budget_s:
                print(f"[bench] {variant} batch {batch}: skipped, {elapsed:.0f} s used of the {args.time_budget_s:.0f} s budget (--time-budget-s)")
                failed(variant, batch, "skipped: time budget")
                continue
            print(f"[bench] {variant} batch {batch} ({elapsed:.0f} s in)")
            try:
                if run is None or (compiled and args.shapes == "static"):
                    run = None
                    torch._dynamo.reset()
                    torch.cuda.empty_cache()
                    run = Run(cfg, Recipe, device, args.seed, compiled, args.compile_mode, args.compile_scope,
                              args.shapes == "dynamic-batch", args.channels_last)
                results.append(benchmark(run, cfg, args, variant, batch, device))
            except Exception as e:  # one failing variant must not stop the others
                traceback.print_exc()
                print(f"[bench] {variant} batch {batch} FAILED: {type(e).__name__}: {e}")
                failed(variant, batch, f"{type(e).__name__}: {str(e)[:300]}")
                run = None  # a failure may leave the run half-stepped; the next batch builds afresh
                torch.cuda.empty_cache()
        run = None
    print(f"[bench] done in {time.perf_counter() - clock:.0f} s")
    for r in results:
        print("PEER_RESULT " + json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
