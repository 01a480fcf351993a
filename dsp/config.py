"""Every tunable of the analyzer in one place, each with the reason for its value.

Units are in the names. Values were set from physiology and sensor physics first and then
checked on the dev set and on synthetic nights (docs/dsp.md); none is fitted to a file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalyzerConfig:
    # ---------------------------------------------------------------- input conditioning
    # samples used to estimate the rate; 256 intervals average timestamp jitter to < 0.1 %
    rate_probe_samples: int = 256
    # holes are counted on a centred running median of (time - index * period) over
    # 2k+1 samples: it removes jitter up to half a period and keeps the step of a hole
    # sharp. It delays the stream by k samples.
    timebase_median_half: int = 3
    # a candidate hole: the median steps by this fraction of a period (the step's size is
    # then measured on the means of fill_hold_samples samples on either side)
    timebase_step_frac: float = 0.3
    # a hole longer than this ends the segment: filters restart, no event spans it.
    # Shorter holes (BLE packet loss, typically 0.05-0.5 s) are filled and flagged.
    gap_reset_s: float = 1.0
    # a short hole holds the mean of this many real samples before it
    fill_hold_samples: int = 8
    # after a restart the filters settle for this long before anything is detected
    settle_s: float = 0.3

    # chunks are gathered to this much before the jerk stage runs (latency vs CPU per
    # band: a jerk's early notice is due within 1 s of its end). The streaming cost is
    # mostly per run: 0.4 s instead of 0.2 s takes a fifth off it (docs/dsp.md, speed).
    # While a notice may be coming (a burst open or not yet noticed, a tremor episode
    # waiting for its confirmation) the stages run every feed_batch_pending_s, so that
    # notices leave as early as they did at 0.2 s throughout
    feed_batch_s: float = 0.4
    feed_batch_pending_s: float = 0.2
    # the stages whose outputs are not that urgent run on what accumulated: the tremor
    # stage once this many frames are complete (frame by frame while an episode waits for
    # its confirmation: with tremor_confirm_frames, no notice comes later than frame by
    # frame, as the confirming frame is at worst the last of its batch), the per-second
    # context (epochs, sleep state) once this much signal is (4 s: epochs leave a few
    # seconds late, which no consumer minds; 3 % less CPU than 2 s). No result depends
    # on them.
    tremor_batch_frames: int = 3
    context_batch_s: float = 4.0
    # a sample beyond these is no motion but a fault (a bus error, a corrupt packet):
    # wrist IMUs measure up to +/-16 g and +/-2000 deg/s (the band: +/-8 g), and a limb
    # does not exceed them; 4x and 2x those ranges leave every real reading in. Such a
    # sample is dropped and counted and its place is treated like a hole (filled and
    # flagged: no event is built on it), as are samples with NaN or inf
    input_max_g: float = 64.0
    input_max_dps: float = 4000.0
    # rate estimate: the median of spans of this many sample periods (it divides a single
    # step's jitter by the span); spans longer than this many median steps hold a hole
    rate_span_samples: int = 16
    rate_hole_ratio: float = 1.25

    def __post_init__(self) -> None:
        from .config_checks import check_config

        check_config(self)  # every field's type and range, and their relations

    # ------------------------------------------------------------------------ jerks
    # envelope smoothing: shorter than the shortest jerk (40 ms)
    jerk_env_s: float = 0.03
    # the detection envelope is low-passed here first: a 40-500 ms pulse has its energy
    # below ~25 Hz, while sensor noise is white up to fs/2; at 100 Hz this halves the noise
    # power under the envelope (at 200 Hz, quarters it). Skipped below 2.5x this rate.
    jerk_lp_hz: float = 25.0
    # after a strong peak the burst ends once the envelope falls below this fraction of
    # it (held for jerk_release_s): a big jerk's ringing and posture settling must not
    # swallow the next jerk of a cluster a few hundred ms later
    jerk_release_frac: float = 0.1
    jerk_release_s: float = 0.3
    # noise floor: a low percentile of per-second envelope medians over the last minute,
    # so that movements and tremor (which raise the median) do not raise it
    noise_window_s: float = 60.0
    noise_percentile: float = 20.0
    # a candidate rises this far above the noise floor ...
    jerk_snr: float = 5.0
    # ... and above this absolute level (the smallest clinically relevant jerks are
    # ~0.15 g peak; the smoothed envelope reads about half of the peak)
    jerk_min_g: float = 0.05
    # parts of one jerk separated by less than this are one burst
    jerk_merge_s: float = 0.06
    # a jerk stands out of its background: peak / quieter side's median envelope
    jerk_contrast: float = 5.0
    # a burst's core (the jerk) reaches down to this fraction of its peak envelope, and
    # at least to this multiple of the noise floor (noise does not widen it)
    jerk_core_frac: float = 0.25
    jerk_core_floor_mult: float = 2.0
    # the core is looked for in the last this-many seconds of a burst, and a burst
    # longer than max_burst_s is cut into pieces (each may hold a jerk)
    core_search_s: float = 4.0
    max_burst_s: float = 2.0
    # a core longer than this is a movement, not a jerk (hypnic jerks last <= 0.5 s)
    jerk_max_s: float = 0.45
    # a jerk may be multiphasic: a sleep start is a whole-body jerk of 150-450 ms (dev
    # labels: up to 0.62 s) whose main phase comes with contiguous smaller ones (other
    # muscle groups, the limb stopping and swinging back). Phases of the envelope (runs
    # above the core level) separated by dips of at most jerk_phase_gap_s (the
    # acceleration reversing: 20-45 ms in the dev set's multiphasic jerk) are one pulse,
    # when together they last at most jerk_pulse_max_s; a longer chain is a movement
    jerk_phase_gap_s: float = 0.06
    jerk_pulse_max_s: float = 0.65
    # smallest jerk reported (peak of the 3-axis high-passed acceleration); the smallest
    # jerks of interest are ~0.15 g (they read 0.17-0.2 g here), scrolling and fidgeting
    # stay below ~0.1 g, small taps and knocks ~0.13 g
    jerk_min_peak_g: float = 0.14
    # ---- matched filter (small jerks in sensor noise). The envelope detector needs a
    # pulse ~6 noise sigmas tall; a filter matched to the pulse integrates its whole
    # duration. A jerk is a smooth biphasic or triphasic acceleration pulse: the first and
    # second derivatives of a Gaussian span both (and their mixtures, any axis: the
    # statistic is the energy of both projections on all three axes, chi-square with 6
    # degrees of freedom in white noise). Durations span 40-300 ms (Shibasaki & Hallett
    # 2005: the limb's movement outlasts the 10-100 ms EMG burst).
    jerk_mf_durations_s: tuple[float, ...] = (0.04, 0.07, 0.12, 0.2, 0.3)
    # a stretch whose envelope rises over this multiple of the floor (below jerk_snr) is
    # searched with the matched filter ...
    jerk_mf_prescreen: float = 2.5
    # ... and is a candidate when the filter's statistic exceeds this (chi-square, 6 dof:
    # white noise alone exceeds 40 with probability 3e-7 per sample and template, about
    # one false crossing per band-week at 100 Hz)
    jerk_mf_chi2: float = 40.0
    # the smallest faint jerk, on the fitted pulse's peak (noise taken out): the
    # estimate of a 0.15 g pulse at the detection limit spreads by ~15 %
    jerk_faint_min_peak_g: float = 0.12
    # a matched-filter find is faint by nature: both sides' median envelope must stay
    # within this multiple of the floor (noise; a weaker activity around it is not rest)
    jerk_faint_quiet: float = 1.6
    # ... and its statistic stands this far above the filter's median on the busier
    # side (white noise: ~8.5, the median of the largest of the bank's statistics, so
    # that in noise the detection threshold rules; tremor or movement raise it)
    jerk_mf_contrast: float = 4.5
    # ---- impacts: a knock against the bed frame or nightstand and a tap or bump through
    # the mattress put their energy into a few samples and ring at the band's resonance
    # (dev set: spectral centroid 21-40 Hz at 100 Hz); a limb jerk is a smooth,
    # muscle-driven pulse (dev set: centroid median 10 Hz) that turns the forearm
    #
    # short: participation-ratio duration of the core
    impact_max_s: float = 0.055
    # ringing: the noise-corrected spectral centroid of the pulse (+/- impact_window_s
    # around its peak) at or above this, or at or above impact_fcent_nyq of the Nyquist
    # frequency at low rates (at 50 Hz an impact's ring is aliased into the band)
    impact_fcent_hz: float = 20.0
    impact_fcent_nyq: float = 0.8
    impact_window_s: float = 0.08
    # and no posture change: impacts leave the forearm as it was (dev: <= 0.75 deg
    # between the means of 2.2 s before and 1.7 s after, sway included); jerks turn it by
    # 2.8 deg (median), a third of them by < 1 deg
    impact_max_angle_deg: float = 1.0
    # a pulse this short (participation ratio <= 1.5 samples or this long) is a spike
    # whatever its spectrum says (at 50 Hz both a knock and the shortest jerk are 2
    # samples): unless it turned the forearm by this much
    impulse_max_s: float = 0.031
    impulse_max_turn_deg: float = 2.5
    # myoclonic jerks come in clusters, impacts alone: an impact-like pulse within
    # cluster_gap_s after a clear jerk (one that passed every test on its own), or before
    # one (it opens the cluster; its early notice's retraction waits for that), is a jerk
    # of the cluster
    impact_cluster_rescue: bool = True
    # ---- the gyroscope: a limb jerk is a rotation about the elbow or shoulder, lever arm
    # (the wrist's peak velocity change / the rise of the rotation rate with the pulse)
    # 0.05-0.75 m (dev: <= 0.54 m); an impact or a bump moves the band without turning
    # the forearm (dev: >= 2.8 m). The test needs power: the rotation a limb would show
    # with this lever must stand this many gyroscope-noise sigmas tall
    limb_max_lever_m: float = 1.0
    limb_rot_min_snr: float = 6.0
    # a rotation confirmed this clearly (lever <= limb_max_lever_m and a rise this many
    # sigmas over the gyroscope noise) makes the pulse a limb's: the impact tests do not
    # apply
    limb_rot_confirm_snr: float = 8.0
    # the pulse's velocity change and rotation are read from this before its core to this
    # after it (its rise and fall), the rotation rate's level just before from the
    # limb_rot_ref_s before that
    limb_rot_pad_s: float = 0.03
    limb_rot_ref_s: float = 0.05
    # ---- a jerk comes out of rest. Before it, the forearm is still: the posture (means
    # of jerk_rest_block_s blocks of raw acceleration) does not step by more than
    # jerk_rest_step_g (or jerk_rest_noise_k noise sigmas of a block difference) between
    # consecutive blocks in jerk_rest_max_frac of them, nor drift by jerk_rest_max_net_g
    # in all (~6 deg; an awake arm's sway turns it by < 1 deg in 3 s). A voluntary
    # movement (sitting down, a grasp, getting up) moves it in many blocks of the last
    # seconds; a jerk's own posture shift is one block, and the blocks of accepted jerks
    # (a cluster) are left out. Dev jerks: 4 of 239 fail (one inside a blanket move, two
    # at the end of a reach, one after a posture shift; net change <= 0.08 g for all
    # others); the real daily activities' candidates (../shared/real): 0.1 g or more in
    # 9 of 10
    jerk_rest_s: float = 3.0
    jerk_rest_guard_s: float = 0.15
    jerk_rest_block_s: float = 0.25
    jerk_rest_step_g: float = 0.03
    jerk_rest_noise_k: float = 4.0
    jerk_rest_max_frac: float = 0.25
    jerk_rest_max_net_g: float = 0.1
    # the blocks of an accepted jerk (a cluster's) are left out, from this before its
    # core to jerk_rest_relax_s after it: after a jerk the limb may relax back to its
    # posture, slowly (0.4-1.5 s), which is no voluntary movement. The same span of the
    # accepted jerks after a pulse is left out of its surroundings when a pulse turned down
    # for busy surroundings after it is judged again (a small jerk before bigger ones of
    # its cluster)
    jerk_rest_excl_s: float = 0.15
    jerk_rest_relax_s: float = 1.5
    # the decision needs this much signal of the same segment before the pulse (the rest
    # test) and after it (contrast, posture after): a pulse closer to the start or end of
    # a recording or of a trial (a gap > gap_reset_s) is not reported; the context that
    # would reject a landing or a grasp is missing
    jerk_need_pre_s: float = 3.0
    jerk_need_post_s: float = 1.7
    # the surroundings of a jerk are quiet: the busier side's median envelope stays under
    # this fraction of the peak (scratching, tremor and walking fail it)
    jerk_busy_frac: float = 0.25
    # a core inside a long burst must dominate the rest of it (peak / median envelope of
    # the rest), and be its only excursion to jerk_strong_frac of its peak: a jerk inside
    # a voluntary movement does (dev: >= 3.9, alone), scratching strokes, many alike, do
    # not (dev: 1.7-4.0, with 1-12 other strokes); two jerks of a cluster in one burst
    # have a quiet stretch between them (a high ratio)
    movement_burst_s: float = 0.5
    jerk_dominance: float = 3.0
    jerk_dominance_alone: float = 6.0
    jerk_strong_frac: float = 0.5
    # smooth voluntary strokes keep their energy below smooth_hp_hz; only a large slow
    # pulse (a long hypnic jerk) is kept. Jerks under 0.8 g: >= 0.5 on the dev set (also
    # made noisier, rotated, resampled), none in 0.35-0.40 over 724 synthetic ones; the
    # sharp starts of small voluntary strokes reach 0.35-0.38
    smooth_hp_hz: float = 4.0
    # (the core's energy is taken with this much on either side: its rise and fall)
    smooth_pad_s: float = 0.05
    smooth_hf_frac: float = 0.40
    smooth_max_g: float = 0.8
    # a small burst right after a jerk is its rebound; a pulse accepted once a cluster's
    # next jerks are left out of its surroundings lies at least this far from every
    # accepted jerk (closer pieces are a jerk's own phases)
    tail_s: float = 0.2
    tail_frac: float = 0.25
    # early notice after the burst ends (the budget is 1 s), for a burst standing
    # this far above what came before it (lenient: the final check sees both sides, and a
    # jerk right after a movement must not wait for it)
    jerk_notice_s: float = 0.25
    jerk_notice_contrast: float = 3.0
    # a jerk in sustained activity: the limb moved (turned >= move_angle_deg, or a clear
    # 0.5-2 Hz rise) in this share of the seconds within +/- jerk_activity_window_s (its own
    # seconds, from jerk_activity_skip_pre_s before to jerk_activity_skip_s after it, left
    # out: a jerk may turn the arm). Night-time jerks interrupt rest; in awake, busy use
    # sharp accelerations of the movements themselves (contacts, grasps: ../shared/real,
    # 23 of its 29 candidates sit at >= 0.75) cannot be told apart from a jerk. Jerks of
    # the dev set and of synthetic nights sit at <= 0.5, and <= 0.65 amid walking (its arm
    # swing counts).
    jerk_activity_window_s: float = 30.0
    jerk_activity_skip_pre_s: float = 1.0
    jerk_activity_skip_s: float = 3.0
    jerk_activity_frac: float = 0.7
    # context needed to reject trains and movements
    jerk_context_s: float = 2.5
    # context windows start this far from the core (its own rise and ringing left out)
    jerk_context_guard_s: float = 0.25
    # a side's median envelope needs this much signal to count
    jerk_context_min_s: float = 0.3
    # the posture after the jerk is read from this long after its core (the limb has
    # settled)
    jerk_posture_after_s: float = 0.8
    # a core this soon after a filled hole is never a jerk (the arm may have moved
    # during the hole)
    jerk_gap_guard_s: float = 0.25
    # confidence (0.5-1) of a final jerk grows with its contrast beyond jerk_contrast,
    # on this scale
    jerk_confidence_scale: float = 20.0
    # a jerk with a neighbour within this is not isolated (eval rule, hypnic jerks)
    isolation_s: float = 30.0
    # jerks closer than this share a cluster id (clinical clusters span seconds)
    cluster_gap_s: float = 6.0
    # final decision: isolation window + context; within the 35 s budget
    jerk_final_s: float = 33.0

    # ----------------------------------------------------------------------- tremor
    # spectra at >= 30 Hz (33 Hz from 100 or 200 Hz, 50 Hz from 50 Hz): the 3-12 Hz band
    # fits below the 15 Hz analysis low-pass
    tremor_rate_hz: float = 30.0
    tremor_band_hz: tuple[float, float] = (3.0, 12.0)
    # the high-pass shared by the jerk and tremor stages: above posture and breathing,
    # below every jerk (2-25 Hz, 40-400 ms pulses: 1 Hz keeps hypnic jerks whole) and
    # every tremor
    tremor_hp_hz: float = 1.0
    # top of the analysis band (anti-alias low-pass, and the reference band of prominence
    # and concentration: 1-20 Hz), clipped to this fraction of the decimated rate (a
    # Butterworth stays well-conditioned below ~0.45 fs)
    tremor_lp_hz: float = 20.0
    tremor_max_cut_frac: float = 0.45
    # the peak is searched this far below/above the band (Hz): a tremor at the band's
    # edge keeps its main lobe, and its parabolic refinement needs the bins either side
    tremor_search_pad_hz: tuple[float, float] = (0.2, 0.5)
    # analysis window 4 s (12+ cycles at 3 Hz), hop 0.5 s; 256 points (0.2 Hz bins,
    # parabolic interpolation then resolves ~0.02 Hz)
    tremor_window_s: float = 4.0
    tremor_hop_s: float = 0.5
    tremor_nfft: int = 256
    # a tremor-like frame: peak / median power of 1-20 Hz (white noise: < ~8) ...
    tremor_prominence: float = 15.0
    # ... holding this share of the 1-20 Hz power in its main lobe (scratching and
    # voluntary movement spread their power) ...
    tremor_concentration: float = 0.3
    # ... or, for a line this far above the floor, this share (a reach during an essential
    # tremor takes most of the power, but a minimum-jerk stroke has no spectral line)
    tremor_strong_prominence: float = 45.0
    tremor_strong_concentration: float = 0.1
    # ... and not the second harmonic of a stronger rhythm at half its frequency (gait)
    tremor_subharmonic: float = 0.5
    # ... a slower rhythm that is looked for at f/2 and f/3 down to this (gait's steps
    # 1.6-2 Hz, scratching 2-5 Hz); below it is posture and voluntary movement
    tremor_sub_min_hz: float = 1.2
    # acceleration weighs harmonics by f^2, so a tremor's second harmonic can be the
    # tallest peak: half its frequency, inside the band, with at least this share of the
    # peak's power is the fundamental
    tremor_fundamental_ratio: float = 0.5
    # smallest amplitude: ~2 mg of acceleration (physiological tremor is 1.5-35 mg), or
    # 0.3 deg/s of rotation with a gyroscope
    tremor_min_g: float = 0.002
    tremor_min_dps: float = 0.3
    tremor_max_filled: float = 0.2
    # a frame whose acceleration floor (median bin as a spectral density, per sqrt(Hz))
    # exceeds this is a movement, not sensor noise: MEMS noise is 0.07-0.3 mg/rtHz, 20 mg
    # RMS of white noise at 50 Hz is 4, a 6-bit +/-1.5 g sensor's quantisation 3.5
    # (../shared/real/hmp); tremor frames of the dev and synthetic sets: <= 3.4 (99 %).
    # Voluntary rhythms ride on their own broadband spectrum: brushing teeth 0.7-1.2 g at
    # 4-6 Hz (hmp) has 13-100 (5-95 %), scratching up to 30-50
    tremor_max_floor_g: float = 0.012
    # confirmed after 4 frames (2 s more than one window: several cycles), so that the
    # episode is reported ~4-5 s after it starts
    tremor_confirm_frames: int = 3
    # an episode survives 3 non-tremor frames (1.5 s) and 16 neutral ones (a jerk, a
    # movement in the window: 8 s)
    tremor_max_misses: int = 3
    tremor_max_neutral: int = 16
    # weak, steady lines: the spectra of the frames of the last this-many seconds
    # (window hops) are averaged, normalised by their median bins (dsp/tremor_accum.py)
    tremor_accum_s: float = 8.0
    # ... and a frame is tremor-like when that mean spectrum's line stands this far over
    # its median (and passes the frame's other tests). White noise: 99.9 % of frames
    # under 5.1, none over 5.3 in 2 h at 50 and 100 Hz, where one frame's spectrum
    # reaches 18-26 (hence tremor_prominence 15 alone); a steady line needs ~1.7x less
    # power over the noise here
    tremor_accum_prominence: float = 6.5
    # a frame whose peak stays at the episode's frequency (within tremor_merge_freq_hz)
    # and this far above the floor is neutral too: the same tremor, too weak in that
    # window to start an episode (a noisy sensor). White noise alone puts its highest
    # 3-12 Hz bin ~6x over the median, at a random frequency
    tremor_hold_prominence: float = 8.0
    # a window whose peak exceeds this many RMS holds a pulse, not an oscillation (a
    # sinusoid in noise stays under ~3.5)
    tremor_max_crest: float = 4.5
    # an ended episode waits this long for the same tremor to resume (a movement or a
    # dropout interrupts it; counted from the end of the last window that showed it to
    # the start of the first that shows it again), and frames this far apart (a
    # disconnect) end it
    tremor_merge_s: float = 10.0
    tremor_merge_freq_hz: float = 0.5
    # a disconnect of up to this long does not count towards those: the same tremor on
    # both sides of it is one episode
    tremor_gap_bridge_s: float = 60.0
    tremor_bridge_s: float = 10.0
    # rhythm regularity: median cycle-period CV of the episode's frames (tremor < 0.09,
    # scratching 0.07-0.2)
    tremor_max_period_cv: float = 0.075
    # cycle periods are measured on each frame band-limited to the peak +/- this much
    # (the tremor's wander and AM stay inside; a neighbouring rhythm does not), from at
    # least this many upward zero crossings
    tremor_pcv_half_band_hz: float = 1.5
    tremor_pcv_min_crossings: int = 4
    # ... over the cycles whose amplitude reaches this share of the frame's largest (a
    # steady tremor's AM of 10-35 % keeps them all; the faint cycles of a fade-in or
    # fade-out are timed by the noise)
    tremor_pcv_min_cycle_frac: float = 0.3
    # white noise in that band alone makes a steady sinusoid's period CV read about
    # tremor_pcv_noise / (f0 sqrt(snr)) (snr: the line's power over the band's noise
    # power). Measured: 400 frames each of sinusoids at 4, 6.5 and 9 Hz in white noise,
    # snr 2-100, 4 s windows at 50 Hz: 0.51-0.60
    tremor_pcv_noise: float = 0.55
    # ... a small (acceleration amplitude <= 50 mg), lasting (>= 8 s) oscillation may wander
    # more: real rest tremor has period CVs of 0.1-0.25 (../shared/real); scratching is
    # vigorous (>= 150 mg) and short
    tremor_irregular_max_g: float = 0.05
    tremor_irregular_min_s: float = 8.0
    tremor_max_period_cv_small: float = 0.3
    # ... provided its peak stands clear of the noise (white noise alone makes the odd
    # irregular run of frames just above tremor_prominence), in each window or in the
    # mean spectrum (tremor_accum_prominence, a median over its frames)
    tremor_irregular_prominence: float = 30.0
    # ... and the arm rests: at most this share of its frames rode on a movement's floor
    # (tremor_max_floor_g). Real rest tremor wanders at rest; a rhythm amid movement
    # (scratching between strokes) must be regular to count
    tremor_irregular_max_masked: float = 0.2
    # the frequency may wander this much between consecutive frames (synthetic tremor
    # wanders 0.1-0.3 Hz, real Parkinsonian tremor up to ~1 Hz: ../shared/real)
    tremor_freq_jump_hz: float = 1.0
    # an episode's current frequency: the median of its last this-many tremor-like frames
    # (3 s: follows the wander, ignores a single frame's error)
    tremor_track_frames: int = 6
    # of two rhythms sharing more than this share of the shorter one's time, the one
    # seen longer stands
    tremor_shadow_frac: float = 0.5
    # confidence grows from 0.5 to 1 over this many tremor-like frames (5 s)
    tremor_sure_frames: int = 10
    # shortest episode: tremor lasts seconds to minutes; scratching bouts are 2-10 s
    # (regularity rejects those)
    tremor_min_s: float = 5.0
    # ... or this short (6 tremor-like frames: enough for a median and a regularity
    # estimate) when its median line stands this far over the floor: white noise's
    # flukes reach 15-25x (a 100x bin has probability ~e^-69 in noise); true tremor of
    # 4-5 s (dev set: 4.5 and 4.7 s, 36 and 9 mg) stands 600-1200x
    tremor_min_short_s: float = 2.5
    # ... and either way this many tremor-like frames: its regularity and frequency are
    # medians over them (a stretch held together by frames at the hold level, with a few
    # tremor-like ones, is noise or a voluntary rhythm's luckiest windows)
    tremor_min_frames: int = 6
    tremor_short_prominence: float = 100.0
    # the first/last tremor-like window holds the onset/offset this far into it
    tremor_edge_frac: float = 0.5
    # type hints (Deuschl 1998): rest tremor 4-6 Hz with the arm at rest; physiological
    # 8-12 Hz and small; essential otherwise
    rest_max_hz: float = 6.5
    rest_low_frac: float = 0.3
    # ... "at rest": this share of the frame's power from 0.5 Hz up lies in this band
    # (voluntary movement, below tremor, above posture drift)
    rest_low_band_hz: tuple[float, float] = (0.5, 2.5)
    physiological_min_hz: float = 8.0
    physiological_max_g: float = 0.06

    # ------------------------------------------------------------------------ sleep
    # per-second context runs on block means at about this rate
    context_rate_hz: float = 50.0
    # per-second records kept (sway and onset queries look back up to this far)
    context_keep_s: float = 1800.0
    # a second moves when this fraction of it is above the movement threshold ...
    move_active_frac: float = 0.3
    move_snr: float = 3.0
    move_min_g: float = 0.03
    # ... or when the arm turned by this much against two seconds before (breathing and
    # sway turn it by < 1 deg; HDCZA's angle-change idea) ...
    move_angle_deg: float = 2.5
    # ... measured against the per-second mean this many seconds before (a turn of a
    # second or two; sway and breathing drift less over it)
    move_angle_lag_s: int = 2
    # ... or when the 0.5-2 Hz band (gentle settling, above breathing's 0.15-0.4 Hz)
    # rises above its own floor (a low percentile of the last two minutes, mostly noise):
    # power beyond the floor's worth at least max(10 mg, 1.3 floor) of RMS
    move_slow_band_hz: tuple[float, float] = (0.5, 2.0)
    move_slow_snr: float = 1.3
    move_slow_min_g: float = 0.01
    # a slow rise to 3x the floor is clear of any noise fluctuation (a settling movement
    # in a quiet stream); fainter ones count for the sleep state but do not mark the end
    # of a wake period
    move_slow_clear: float = 3.0
    move_slow_window_s: float = 120.0
    # the floor is this quantile of the window's per-second values (low: settling and
    # breathing leak into the band, the noise is what stays)
    move_slow_floor_q: float = 0.2
    # moving seconds closer than this form one bout
    bout_merge_s: float = 2.0
    # a bout this short around an accepted jerk is the jerk, not a movement; so is a bout
    # of any length whose every moving second lies within jerk_lead_s before to
    # jerk_bout_s - jerk_lead_s after an accepted jerk (a cluster: the pulse, its rebound and
    # the posture shift the turn test sees for two seconds)
    jerk_bout_s: float = 4.0
    # a jerk's movement may start up to a per-second record before its detected start
    # (the envelope crosses the movement threshold first); its own second is left out of
    # the stillness before it
    jerk_lead_s: float = 1.0
    # wake: this many moving seconds within the window (from sleep: more, since arousals
    # in sleep last up to ~15 s)
    wake_window_s: float = 120.0
    wake_moving_s: int = 10
    wake_from_sleep_moving_s: int = 25
    # sleep: this long without a bout, with sway below sleep_sway_g
    sleep_quiet_s: float = 120.0
    # sway: 11 s moving average removes breathing (0.15-0.4 Hz), then the median change
    # over 10 s; dev nights give 0.3-3.7 mg asleep, 4.8-20 mg awake and still (2-min
    # windows)
    sway_smooth_s: int = 11
    sway_lag_s: int = 10
    sleep_sway_g: float = 0.0042
    sway_window_s: float = 300.0
    sway_guard_s: float = 5.0
    sway_every_s: float = 5.0
    # sway needs this many 10-s changes of still, smoothed seconds beyond the smoothing
    # and the lag (a median of fewer is noise)
    sway_min_pairs: int = 4
    # from sleep, a clear movement after which the arm drifts like an awake one (sway over
    # the first wake_sway_after_s of stillness above wake_sway_g) opened a wake period.
    # Dev: after arousals, roll-overs, taps and jerks in sleep <= 3.9 mg (99th percentile
    # 3.3 mg, 189 stretches); after movements of wake mostly 4-20 mg (median 7 mg): the
    # margin above sleep_sway_g keeps a sleeper's arousal in sleep
    wake_sway_after_s: float = 45.0
    wake_sway_g: float = 0.006

    # ------------------------------------------------------------------ hypnic jerks
    # an isolated jerk this long after the last movement of a wake period, in still,
    # sleep-like surroundings, is a sleep start. Drowsiness and stage N1 (scored in 30 s
    # epochs) take more than a few seconds of stillness after a voluntary movement (dev:
    # sleep starts 54-812 s after it, an isolated myoclonic jerk at 8 s). The later
    # bound weighs the density of sleep starts at that delay against the background of
    # isolated jerks in sleep: on the dev labels (onset windows 212-1105 s, sleep starts
    # at 11-91 % of them, 70 % of onsets with one) it falls from ~1.5e-3/s at 1-5 min to
    # ~1e-4/s at 15 min, while isolated myoclonic jerks in sleep come at ~4e-4/s; once
    # most windows have ended (by ~12-15 min) an isolated jerk is more likely myoclonic.
    # Sleep-onset latency is 5-20 min, but the window ends with settled sleep before that
    hypnic_min_s: float = 20.0
    hypnic_max_s: float = 900.0
    # a sleep start may wake the sleeper briefly (an arousal within seconds: dev 1.3-2.9 s
    # after the jerk, synthetic 1-3 s); movement starting later within the isolation window
    # means the person is still settling. A bout starting by then ends no wake period of its
    # own: the onset after it is the sleep start's
    hypnic_arousal_s: float = 8.0
    # the jerk's own later phases (a multiphasic sleep start, its rebound) lie within this
    # after its start; a bout reaching further back means it came amid movement
    hypnic_own_s: float = 1.5
    # a sleep start is a large, body-wide jerk (ICSD-3; synthetic 0.4-2.6 g, dev 0.43-2.6 g
    # labelled, >= 0.40 g measured); a small isolated jerk is an ordinary myoclonic one
    hypnic_min_peak_g: float = 0.3
    # a burst the jerk stage turned down (multiphasic, busy or smooth, not an impact) still
    # breaks isolation when it is this large and jerk-short: a jerk next to a missed jerk
    # belongs to a cluster, whatever the detector accepted
    hypnic_neighbour_min_g: float = 0.3
    # rest tremor fades with drowsiness and is gone in sleep (movement-clinical notes;
    # Fish et al., Arch Neurol 1991): a tremor seen this shortly before a jerk means the
    # wearer is still awake, so the jerk is no sleep start
    hypnic_tremor_free_s: float = 30.0
