"The sensitivity sweep expands on every SRL preset into valid runs that differ from the preset only where the sweep says."
import pytest
from srl_nb.core import get_preset, PRESETS
from srl_nb.sweep import sensitivity_sweep, stage_ratios, METHODS

SRL_PRESETS = [p for p in PRESETS if getattr(get_preset(p).model, 'arch', 'srl') == 'srl']

def _flat(cfg): return {f'{s}.{k}': v for s, d in cfg.to_dict().items() if isinstance(d, dict) for k, v in d.items()}

@pytest.mark.parametrize('preset', SRL_PRESETS)
def test_sweep_expands_on_every_preset(preset):
    base = get_preset(preset)
    runs = sensitivity_sweep(preset, seeds=(0, 1))
    assert len({r.name for r in runs}) == len(runs)
    S0 = base.model.n_slots
    slots = [s for s in (S0 - 2, S0, S0 + 3) if s > base.loss.reg_rounds]
    b0, r0 = _flat(base), stage_ratios(base)
    W, C = {0.05, 0.1, 0.2} | {round(r0['warmup_end'], 6)}, {0.1, 0.2, 0.4} | {round(r0['contrast_start'], 6)}
    # SRL: the warm-up ends, the contrast starts and the slot counts around one shared centre; the baseline: the slot counts
    assert len(runs) == 2 * ((len(W) + len(C) - 1 + len(set(slots) | {S0}) - 1) + len(set(slots) | {S0})), [r.name for r in runs]
    allowed = {'seed', 'model.n_slots', 'schedule.reg_end', 'schedule.deblur_start', 'schedule.denoise_start',
               'loss.use_reg', 'loss.use_deblur', 'loss.use_denoise'}
    seen = {m: set() for m in METHODS}
    for r in runs:
        cfg = get_preset(r.preset, **r.overrides)
        changed = {k for k, v in _flat(cfg).items() if b0[k] != v} | ({'seed'} if cfg.seed != base.seed else set())
        assert changed <= allowed, (r.name, changed - allowed)
        method = 'srl' if cfg.loss.use_reg else 'slotcontrast'
        assert all(getattr(cfg.loss, k) == v for k, v in METHODS[method].items())
        q = stage_ratios(cfg)
        seen[method].add((round(q['warmup_end'], 6), round(q['contrast_start'], 6), cfg.model.n_slots))
        if base.schedule.denoise_start != base.schedule.deblur_start:     # YouTube-VIS: denoising from step 0, always
            assert cfg.schedule.denoise_start == base.schedule.denoise_start
        else: assert cfg.schedule.denoise_start == cfg.schedule.deblur_start
    w0, c0 = round(r0['warmup_end'], 6), round(r0['contrast_start'], 6)
    assert seen['slotcontrast'] == {(w0, c0, s) for s in slots}
    assert {(w, c0, S0) for w in (0.05, 0.1, 0.2)} <= seen['srl'] and {(w0, c, S0) for c in (0.1, 0.2, 0.4)} <= seen['srl']

def test_shortened_sweep_scales_the_schedule():
    full, short = sensitivity_sweep('ytvis2021'), sensitivity_sweep('ytvis2021', max_steps=2000)
    assert [r.name for r in full] == [r.name for r in short]
    for r in short:
        c = get_preset(r.preset, **r.overrides)
        assert c.schedule.max_steps == 2000 and c.optim.warmup_steps == 50 and c.schedule.denoise_start == 0

def test_sweep_errors():
    with pytest.raises(ValueError, match='set by the sweep'): sensitivity_sweep('synthetic', overrides={'use_reg': False})
    with pytest.raises(KeyError, match='unknown method'): sensitivity_sweep('synthetic', methods=('srl', 'steve'))
    with pytest.raises(ValueError, match='no slot for the regulariser'): sensitivity_sweep('movi_c', n_slots=(5, 11))
