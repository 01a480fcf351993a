"""Labelled synthetic wrist-IMU nights for tests, benchmarks and the simulated band.

``synth_night(seed=..., duration_s=...)`` returns a :class:`SynthRecording` whose ``labels``
follow the evaluation format (``../shared/eval/README.md``): events, confounders, sleep,
sleep_onsets, ignored_events, gaps. ``iter_synth_night`` yields the same samples in chunks
so that a whole night never has to sit in memory.

Signal model (all in the sensor frame, then turned by a random mounting rotation):

* the forearm's orientation is a piecewise-constant *posture* with smooth minimum-jerk
  transitions (rollovers, settling, getting up); the accelerometer reads gravity through it;
* every movement is a rotation of the forearm (axis in the sensor frame, angle profile)
  plus the translational acceleration of the wrist, in g; the gyroscope reads the
  rotation rate in deg/s;
* white sensor noise, per-axis offset and scale errors, 16-bit quantisation, +/-8 g and
  +/-2000 deg/s clipping, timestamp jitter, dropouts and disconnections.

Physiological parameters and their sources (the numbers are drawn around these):

* Myoclonic jerks: EMG bursts 10-50 ms (cortical) to > 100 ms (spinal, functional);
  the limb movement lasts tens to a few hundred ms; single, repetitive or in irregular
  clusters, awake and asleep (Shibasaki & Hallett, Muscle Nerve 31:157, 2005; Caviness &
  Brown, Lancet Neurol 3:598, 2004). Modelled as a rotation pulse about the elbow
  (radius 0.25-0.4 m) whose tangential acceleration is biphasic (Hann-shaped angular
  velocity) or triphasic (there and back), 40-250 ms, 0.15-2.5 g.
* Hypnic jerks (sleep starts): one sudden, often large jerk at the transition from wake
  to light sleep, EMG 75-250 ms, sometimes followed by a brief arousal (ICSD-3, AASM 2014;
  Sander et al., Sleep Med Rev 2016 review). Modelled as a 150-450 ms, 0.4-2.6 g pulse
  inside the sleep-onset window, isolated (no other jerk within 30 s).
* Tremor (Deuschl et al., Mov Disord 13 Suppl 3:2, 1998 consensus; Elble & McNames,
  Tremor Other Hyperkinet Mov 6:404, 2016): Parkinsonian rest tremor 4-6 Hz, fading with
  voluntary movement and absent in sleep; essential tremor 4-12 Hz (mostly 5-9 Hz),
  postural; physiological 8-12 Hz and small. Amplitude 5-400 mg at the wrist; frequency
  wanders by about 0.1-0.3 Hz; a second harmonic of 5-30 %. Modelled as a forearm rotation
  (mostly pronation-supination) at radius 0.05-0.15 m, so that the accelerometer sees both
  the gravity modulation and r*theta'' and the gyroscope sees theta'.
* Breathing: 12-20 breaths/min awake, slower and more regular asleep (Douglas et al.,
  Thorax 37:840, 1982); it rocks a resting forearm by 0.1-0.6 deg (2-10 mg).
* Voluntary reaching follows a minimum-jerk profile (Flash & Hogan, J Neurosci 5:1688,
  1985): peak acceleration 5.77 L/T^2, i.e. 0.05-0.4 g for 10-40 cm in 0.5-2 s.
* Scratching: rhythmic but irregular 2-5 Hz bursts, 0.2-0.7 g (Ebata et al., Br J
  Dermatol 144:305, 2001; Moreau et al., IEEE JBHI 22:1774, 2018).
* Walking: cadence 1.6-2.0 steps/s (Tudor-Locke et al., Int J Behav Nutr Phys Act 8:80,
  2011); arm swing at the stride frequency, heel strikes at the step frequency.
* Sleep: sleep-onset latency of 5-20 min after the last movements of wake; posture
  changes every 20-60 min in sleep (De Koninck et al., Sleep 15:143, 1992); brief
  arousals with movement.
* Sensor: MEMS accelerometer noise density 70-300 ug/sqrt(Hz) (e.g. Bosch BMI160 datasheet
  180 ug/sqrt(Hz)); cheap bands and motion artefacts make it several mg RMS, hence the
  default 3-20 mg. Gyroscope noise 0.007-0.02 deg/s/sqrt(Hz), biases of a few deg/s.

Modules, in the order a night is made: ``timeline`` plans wake and sleep bouts and places
the profile's events; ``movements`` adds each movement or event to the ``scene``;
``components`` are the movements as functions of time (with ``geometry``: rotations and
minimum-jerk profiles); ``night`` samples the scene on a sample grid with gaps, noise and
sensor errors. Same seed, same samples, whatever the chunk size.
"""

from .night import (
    PROFILES,
    SEGMENTS,
    SynthRecording,
    iter_synth_night,
    synth_night,
    write_csv,
)

__all__ = ["PROFILES", "SEGMENTS", "SynthRecording", "iter_synth_night", "synth_night",
           "write_csv"]
