# Issue 19: what the key mask costs in ediffi64's cross-attention. Times torch's scaled_dot_product_attention (the
# kernel TorchSharp's binding reaches) at the shapes of ediffi64's cross-attention at batch 64 in bf16: queries at 32²,
# 16² and 8² (6, 9 and 12 heads of 64 channels), 66 context tokens (32 CLIP, 32 T5, the image and the null token).
# Variants: the boolean mask [B,1,1,L] the network passes today, the same as an additive float mask, the keys padded to a
# multiple of 8 (padding masked), no mask at all (what a batch whose prompts fill every token allows), and each backend
# forced where it accepts the inputs. Prints one line per case: ms per call (CUDA events, median of 50 after warm-up).
# Run on the GPU machine: python3 scripts/gpu/sdpa_mask.py
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

dev, dt = "cuda", torch.bfloat16
B, L = 64, 66
levels = [(1024, 6), (256, 9), (64, 12)]


def time_ms(fn, reps=50):
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


torch.manual_seed(0)
print(torch.__version__, torch.cuda.get_device_name())
for lq, heads in levels:
    q = torch.randn(B, heads, lq, 64, device=dev, dtype=dt)
    k = torch.randn(B, heads, L, 64, device=dev, dtype=dt)
    v = torch.randn(B, heads, L, 64, device=dev, dtype=dt)
    keep = torch.ones(B, L, dtype=torch.bool, device=dev)
    keep[:, 20:32] = False  # CLIP padding
    keep[:, 50:64] = False  # T5 padding
    bool_mask = keep.view(B, 1, 1, L)
    float_mask = torch.zeros(B, 1, 1, L, device=dev, dtype=dt).masked_fill(~bool_mask, float("-inf"))
    pad = (-L) % 8
    k8 = F.pad(k, (0, 0, 0, pad))
    v8 = F.pad(v, (0, 0, 0, pad))
    mask8 = F.pad(bool_mask, (0, pad), value=False)
    ref = F.scaled_dot_product_attention(q, k, v, bool_mask).float()
    cases = {
        "bool mask [B,1,1,L] (today)": lambda: F.scaled_dot_product_attention(q, k, v, bool_mask),
        "float additive mask": lambda: F.scaled_dot_product_attention(q, k, v, float_mask),
        "bool mask, keys padded to 8": lambda: F.scaled_dot_product_attention(q, k8, v8, mask8),
        "bool mask expanded [B,H,Lq,L]": lambda: F.scaled_dot_product_attention(q, k, v, bool_mask.expand(B, heads, lq, L)),
        "no mask": lambda: F.scaled_dot_product_attention(q, k, v),
    }
    for name, fn in cases.items():
        out = fn().float()
        err = (out - ref).abs().max().item() if "no mask" not in name else float("nan")
        print(f"Lq {lq:5d} heads {heads:2d} | {name:32s} {time_ms(fn):7.3f} ms  max|diff| {err:.3g}")
    for backend in [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH, SDPBackend.FLASH_ATTENTION]:
        for name, fn in [("bool mask", lambda: F.scaled_dot_product_attention(q, k, v, bool_mask)),
                         ("bool mask padded", lambda: F.scaled_dot_product_attention(q, k8, v8, mask8)),
                         ("no mask", lambda: F.scaled_dot_product_attention(q, k, v))]:
            try:
                with sdpa_kernel([backend]):
                    ms = time_ms(fn)
                print(f"Lq {lq:5d} heads {heads:2d} | {backend.name:20s} {name:16s} {ms:7.3f} ms")
            except RuntimeError as e:
                print(f"Lq {lq:5d} heads {heads:2d} | {backend.name:20s} {name:16s}   n/a ({str(e).splitlines()[0][:60]})")
