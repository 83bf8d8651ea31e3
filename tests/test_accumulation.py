"The global batch: one process accumulating micro-batches makes the update two DDP processes make, in float64"
import json, os, subprocess, sys, textwrap
from pathlib import Path
import pytest, torch
from srl_nb.core import get_preset
from srl_nb.distributed import accumulation_steps

ROOT = Path(__file__).resolve().parents[1]

# Both sides build the same float64 model and optimiser and take two steps on the same clips (random features,
# every objective active): one process with the two micro-batches of a step, or two gloo ranks with one each.
STEPS = textwrap.dedent('''
    import sys, torch, torch.nn as nn
    from srl_nb.core import get_preset
    from srl_nb.model import SRLModel
    from srl_nb.train import optimisation_step
    from srl_nb.distributed import Dist

    def run(micro_of_step, d=Dist()):
        "Two optimiser steps; `micro_of_step(step)` gives this process's micro-batches; returns the parameters"
        cfg = get_preset('synthetic', resolution=28, n_slots=3, slot_dim=8, decoder_hidden=16, reg_rounds=1,
                         denoise_topk=1, reg_end=10, deblur_start=0, denoise_start=0, contrast_block=4, grad_clip=0.5)
        torch.manual_seed(0)
        model = SRLModel.from_config(cfg, with_backbone=False).double()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=1e-2)
        scaler = torch.amp.GradScaler('cuda', enabled=False)
        net = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True) if d.world > 1 else model
        for step in range(2):
            optimisation_step(net, opt, scaler, params, micro_of_step(step), cfg, step, torch.device('cpu'))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    def clips(step, i, b=2):
        "Micro-batch i of step `step`: b clips of 4 frames of 4 patches of C=384 random features"
        g = torch.Generator().manual_seed(100 * step + i)
        return {'features': torch.randn(b, 4, 4, 384, generator=g, dtype=torch.float64)}
''')

WORKER = STEPS + textwrap.dedent('''
    from srl_nb.distributed import init_dist, finish_dist
    d = init_dist()
    w = run(lambda step: [clips(step, d.rank)], d)     # rank r holds micro-batch r of every step
    if d.rank == 0: torch.save(w, sys.argv[1])
    finish_dist()
''')


def test_accumulation_steps_and_refusal():
    assert [accumulation_steps(get_preset('movi_c'), w) for w in (1, 2)] == [2, 1]
    assert accumulation_steps(get_preset('ytvis2021', batch_size=32), 1) == 4
    assert accumulation_steps(get_preset('synthetic'), 4) == 1                       # no global batch: one micro-batch
    with pytest.raises(ValueError, match=r"processes x micro-batches must be 2.*--nproc_per_node=N` with N in \[1, 2\]"):
        accumulation_steps(get_preset('movi_c'), 4)
    with pytest.raises(ValueError, match='positive multiple of data.batch_size=64'):
        get_preset('movi_c', global_batch=100)


def test_one_process_two_micro_batches_equals_two_ddp_processes(tmp_path):
    "float64, one thread on both sides: the very same parameters after two steps (DDP averages ranks as accumulation averages micro-batches)"
    ns = {}
    exec(STEPS, ns)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # as each rank runs: with the same kernels, halving and summing two gradients is exact
    try: one = ns['run'](lambda step: [ns['clips'](step, 0), ns['clips'](step, 1)])   # 1 process x 2 micro-batches
    finally: torch.set_num_threads(threads)
    w = tmp_path / 'worker.py'; w.write_text(WORKER)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29531',
                        str(w), str(tmp_path / 'ddp.pt')], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    two = torch.load(tmp_path / 'ddp.pt')
    torch.testing.assert_close(one, two, rtol=0, atol=0)   # (with two threads here, sums split differently: 1.2e-12 apart)
    # the test can fail: one micro-batch alone (no accumulation) gives another update
    alone = ns['run'](lambda step: [ns['clips'](step, 0)])
    assert (alone - two).abs().max() > 1e-6
    # and so does one process seeing both micro-batches as one batch of four clips (one contrast set of 4, not 2 x 2)
    joint = ns['run'](lambda step: [{'features': torch.cat([ns['clips'](step, 0)['features'], ns['clips'](step, 1)['features']])}])
    assert (joint - two).abs().max() > 1e-6
