"""Peak memory and time of forward+backward of the deblurring and denoising contrasts, dense vs lean.

    python tests/bench_losses.py                      # MOVi-C and YouTube-VIS scale, block 1024, CPU or CUDA
    python tests/bench_losses.py --scales ytvis --blocks 512 1024 group --reps 5   # group: block = g*N rows

Each (scale, loss, variant) runs in a fresh subprocess, so that one measurement cannot inherit another's
allocator state. In the child: build the inputs, run forward+backward once (warm-up), then measure one more
forward+backward for peak memory and `reps` more for time (median).
Memory:
- CUDA: `torch.cuda.max_memory_allocated()` during the measured call minus the memory allocated before it
  (tensor bytes held by PyTorch's caching allocator; the inputs are excluded, the outputs and gradients included).
- CPU: resident-set growth. The child runs with MALLOC_MMAP_THRESHOLD_=131072 so that glibc serves every
  large block by mmap and returns it to the system when freed (otherwise freed heap memory from the warm-up
  would be reused silently and hide the peak). The kernel's peak-RSS counter (VmHWM) is reset through
  /proc/self/clear_refs just before the measured call; peak = VmHWM after - VmRSS before. Where the reset is
  not allowed, the warm-up is skipped and the first call's growth of ru_maxrss is reported instead.
Both count every allocation the call makes, including autograd's saved tensors and the gradients.
"""
import argparse, json, os, statistics, subprocess, sys, time

SCALES = {  # B, T, N, C, D, S, K (denoise top-k), g
    'movi': dict(B=8, T=4, N=576, C=384, D=64, S=11, K=8, g=4),
    'ytvis': dict(B=2, T=4, N=1369, C=768, D=64, S=7, K=16, g=4),
}


def _status_kb(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'): return int(line.split()[1])
    raise KeyError(key)


def _reset_hwm():
    try:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')
        return True
    except OSError:
        return False


def child(scale, loss, variant, block, reps, device, seed=0):
    import torch
    from srl_nb.losses import deblur_contrastive_loss, denoise_contrastive_loss
    p = SCALES[scale]
    B, T, N, C, D, S, K, g = (p[k] for k in 'B T N C D S K g'.split())
    dev = torch.device(device)
    gen = torch.Generator(device='cpu').manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen).to(dev)
    lean, bs = variant == 'lean', block
    if loss == 'deblur':
        x, tgt, masks = r(B, T, N, D).requires_grad_(), r(B, T, N, D), r(B, T, S, N).softmax(2)
        run = lambda: deblur_contrastive_loss(x, tgt, masks, g, lean=lean, block_size=bs)
    else:
        x, feats, masks = r(B, T, N, D).requires_grad_(), r(B, T, N, C), r(B, T, S, N).softmax(2)
        run = lambda: denoise_contrastive_loss(x, feats, masks, K, g, lean=lean, block_size=bs)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)

    def step():
        x.grad = None
        out = run()
        out.backward()
        sync()
        return out.item()

    cpu_reset = dev.type == 'cpu' and _reset_hwm()
    if dev.type == 'cuda' or cpu_reset:
        step()                                    # warm-up
        x.grad = None
        sync()
        if dev.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(); before = torch.cuda.memory_allocated()
            value = step(); peak = torch.cuda.max_memory_allocated() - before
            method = 'cuda max_memory_allocated'
        else:
            _reset_hwm(); before = _status_kb('VmRSS') * 1024
            value = step(); peak = _status_kb('VmHWM') * 1024 - before
            method = 'cpu VmHWM-VmRSS (mmap threshold 128k)'
    else:
        import resource
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        value = step(); peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        method = 'cpu ru_maxrss growth, first call'
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
    return dict(scale=scale, loss=loss, variant=variant, block=block if lean else None, value=value,
                peak_mb=peak / 2**20, time_s=statistics.median(times), method=method)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--scales', nargs='+', default=['movi', 'ytvis'], choices=list(SCALES))
    ap.add_argument('--losses', nargs='+', default=['deblur', 'denoise'], choices=['deblur', 'denoise'])
    ap.add_argument('--blocks', nargs='+', default=['1024', 'group'],
                    help="lean block sizes in anchor rows; 'group' = g*N, one whole group per tile")
    ap.add_argument('--reps', type=int, default=3, help='timed repetitions after the measured call (median)')
    ap.add_argument('--device', default='auto', help="'auto' (cuda if available), 'cpu' or 'cuda'")
    ap.add_argument('--child', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(**json.loads(a.child)))); return
    import torch
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='131072')
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else f'cpu, {torch.get_num_threads()} threads'}"
          f" | torch {torch.__version__} | float32 | each row: a fresh process, forward+backward")
    hdr = f"{'scale':6} {'loss':8} {'variant':12} {'peak MB':>10} {'time s':>8} {'mem/dense':>10} {'time/dense':>10} {'|value-dense|':>13}"
    print(hdr); print('-' * len(hdr))
    methods = set()
    for scale in a.scales:
        for loss in a.losses:
            dense = None
            gN = SCALES[scale]['g'] * SCALES[scale]['N']
            blocks = [gN if b == 'group' else int(b) for b in a.blocks]
            for variant, block in [('dense', 0)] + [('lean', b) for b in blocks]:
                spec = json.dumps(dict(scale=scale, loss=loss, variant=variant, block=block or 1024,
                                       reps=a.reps, device=device))
                pr = subprocess.run([sys.executable, __file__, '--child', spec], env=env, capture_output=True, text=True)
                if pr.returncode != 0:
                    print(f"{scale:6} {loss:8} {variant:12} FAILED: {pr.stderr.strip().splitlines()[-1:]}"); continue
                r = json.loads(pr.stdout.strip().splitlines()[-1]); methods.add(r['method'])
                if variant == 'dense': dense = r
                name = variant if variant == 'dense' else f'lean b={block}'
                ratios = (f"{r['peak_mb'] / dense['peak_mb']:10.3f} {r['time_s'] / dense['time_s']:10.3f} "
                          f"{abs(r['value'] - dense['value']):13.2e}") if dense and variant != 'dense' else ''
                print(f"{scale:6} {loss:8} {name:12} {r['peak_mb']:10.1f} {r['time_s']:8.3f} {ratios}", flush=True)
    print('memory measured by:', '; '.join(sorted(methods)))
    print('scales:', '; '.join(f"{k}: " + ' '.join(f'{n}={v}' for n, v in SCALES[k].items()) for k in a.scales))


if __name__ == '__main__':
    main()
