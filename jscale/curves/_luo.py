"""The curves of Luo et al. 2025 (arXiv:2503.12811; MIT licence), as their repository defines them:
the nine schedules (steps counted from 0, every one warmed up linearly to 3e-4 over 2,160 steps),
the paper's split into training and test curves, and its published parameters (L0, A, alpha, B,
C, beta, gamma) per model size. The logged losses are the bundled data set "luo2025"
(`jscale.datasets.load("luo2025")`; ../shared/data/multipower_curves, SOURCES.md section 6)."""

LUO2025_SCHEDULES = {
    "cosine_24000": "cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160)",
    "cosine_72000": "cosine(steps=72000, peak=3e-4, floor=3e-5, warmup=2160)",
    "constant_24000": "constant(steps=24000, peak=3e-4, warmup=2160)",
    "constant_72000": "constant(steps=72000, peak=3e-4, warmup=2160)",
    "wsdcon_3": "two_stage(steps=16000, peak=3e-4, switch=8000, value=3e-5, warmup=2160)",
    "wsdcon_9": "two_stage(steps=16000, peak=3e-4, switch=8000, value=9e-5, warmup=2160)",
    "wsdcon_18": "two_stage(steps=16000, peak=3e-4, switch=8000, value=18e-5, warmup=2160)",
    "wsd_20000_24000": "wsd(steps=24000, peak=3e-4, decay_start=20000, floor=3e-5, decay=geometric, warmup=2160)",
    "wsdld_20000_24000": "wsd(steps=24000, peak=3e-4, decay_start=20000, floor=3e-5, decay=linear, warmup=2160)",
}
LUO2025_TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")
LUO2025_PUBLISHED = {
    "25M": (3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013, 0.64142257),
    "100M": (2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199, 0.65523644),
}
