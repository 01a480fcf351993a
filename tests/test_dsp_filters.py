"""dsp/filters.py designs and runs its filters without importing scipy.signal (import
time): it must give scipy.signal's own coefficients, steady states and outputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from twitchwatch.dsp.filters import Sos, butter, butter2_sos, sosfilt, sosfilt_zi

RATES = (32.0, 50.0, 62.5, 100.0, 104.0, 200.0)


def _cases() -> list[tuple[float, str, float | tuple[float, float]]]:
    out: list[tuple[float, str, float | tuple[float, float]]] = []
    for fs in RATES:
        nyq = fs / 2
        # from far below to just under Nyquist (0.98 of it: the bilinear transform's
        # warping is steepest there)
        for frac in (0.005, 0.05, 0.2, 0.45, 0.8, 0.98):
            out.append((fs, "lowpass", frac * nyq))
            out.append((fs, "highpass", frac * nyq))
        out.append((fs, "bandpass", (1.0, 0.45 * fs)))
        out.append((fs, "bandpass", (3.0, 12.0)))
        out.append((fs, "bandpass", (0.1, 0.98 * nyq)))
        out.append((fs, "bandpass", (0.5, 2.0)))
    return out


@pytest.mark.parametrize(("fs", "kind", "cut"), _cases())
def test_butter2_is_scipys(fs: float, kind: str, cut: float | tuple[float, float]) -> None:
    ours = butter2_sos(cut, kind, fs)
    ref = signal.butter(2, cut, kind, fs=fs, output="sos")
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-13)
    # the same steady state for a unit step
    np.testing.assert_allclose(sosfilt_zi(ours), signal.sosfilt_zi(ref), rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("kind", ["lowpass", "highpass", "bandpass"])
def test_sosfilt_zi_of_any_order(order: int, kind: str) -> None:
    cut = (2.0, 20.0) if kind == "bandpass" else 10.0
    sos = signal.butter(order, cut, kind, fs=100.0, output="sos")
    np.testing.assert_allclose(sosfilt_zi(sos), signal.sosfilt_zi(sos), rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize(("fs", "kind", "cut"), [
    (32.0, "lowpass", 14.4), (50.0, "highpass", 1.0), (100.0, "bandpass", (3.0, 12.0)),
    (200.0, "lowpass", 25.0), (104.0, "bandpass", (0.5, 2.0)), (62.5, "highpass", 28.0),
])
def test_filtering_equals_scipy_and_chunking_changes_nothing(
        order: int, fs: float, kind: str, cut: float | tuple[float, float]) -> None:
    """One pass equals scipy.signal.sosfilt; the same signal cut into chunks, each filtered
    with the state the previous one left, gives the same output (as scipy's own test of
    sosfilt with zi does), bit for bit, whatever the chunk sizes."""
    rng = np.random.default_rng(order * 1000 + int(fs))
    x = rng.normal(size=(3000, 3)) + np.linspace(0, 5, 3000)[:, None]
    f = butter(order, cut, kind, fs, 3)
    sos = f.sos
    # butter() clips cut-offs at 0.45 fs to stay well-conditioned: the same design
    wn = (cut[0], min(cut[1], 0.45 * fs)) if isinstance(cut, tuple) else min(cut, 0.45 * fs)
    np.testing.assert_allclose(sos, signal.butter(order, wn, kind, fs=fs, output="sos"),
                               rtol=1e-10, atol=1e-13)
    zi0 = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]  # (sections, 2, width)
    ref, _ = signal.sosfilt(sos, x, axis=0, zi=zi0)
    whole = Sos(sos, 3)(x)
    np.testing.assert_allclose(whole, ref, rtol=1e-12, atol=1e-12)
    for sizes in ([1] * 7 + [500, 2493], [17] * 176 + [8], [2999, 1]):
        g = Sos(sos, 3)
        parts = []
        a = 0
        for m in sizes:
            parts.append(g(x[a:a + m]))
            a += m
        assert a == len(x)
        assert np.array_equal(np.concatenate(parts), whole)


def test_sosfilt_with_explicit_state_matches_scipy() -> None:
    """The kernel's state layout (width, sections, 2) against scipy's (sections, 2,
    width): chunk by chunk, outputs and final states agree."""
    sos = signal.butter(4, (1.0, 15.0), "bandpass", fs=100.0, output="sos")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1000, 2))
    z_ours = None
    z_ref = np.zeros((len(sos), 2, 2))
    for a in range(0, 1000, 333):
        y_ours, z_ours = sosfilt(sos, x[a:a + 333], z_ours)
        y_ref, z_ref = signal.sosfilt(sos, x[a:a + 333], axis=0, zi=z_ref)
        np.testing.assert_allclose(y_ours, y_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.moveaxis(z_ours, 0, -1), z_ref, rtol=1e-12, atol=1e-12)
    y1, _ = sosfilt(sos, x[:, 0])
    np.testing.assert_allclose(y1, signal.sosfilt(sos, x[:, 0]), rtol=1e-12, atol=1e-12)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown filter kind 'notch'"):
        butter2_sos(5.0, "notch", 100.0)
