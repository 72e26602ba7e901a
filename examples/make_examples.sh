#!/usr/bin/env bash
# Synthesises the small example library in examples/audio with sox (deterministic: fixed noise seeds).
# Every sound is made here, so the project is free to ship it. Needs sox (and its mp3/ogg handlers).
set -euo pipefail
cd "$(dirname "$0")/audio"
s="sox -R -D"   # -R: repeatable (fixed seed) noise; -D: no dither
# Drums
$s -n -r 44100 -b 16 kick_808.wav synth 0.6 sine 150:40 fade q 0.001 0.6 0.55 gain -3
$s -n -r 44100 -b 16 kick_punchy.wav synth 0.4 sine 180:50 fade q 0.001 0.4 0.35 gain -2
$s -n -r 44100 -b 16 snare_tight.wav synth 0.3 whitenoise synth 0.3 sine mix 200 fade q 0.001 0.3 0.28 gain -6
$s -n -r 44100 -b 16 hihat_closed.wav synth 0.08 whitenoise highpass 7000 fade q 0.001 0.08 0.07 gain -6
$s -n -r 48000 -b 24 hihat_open.flac synth 0.5 whitenoise highpass 6000 fade q 0.001 0.5 0.45 gain -8
# Tones and textures
$s -n -r 44100 -b 16 pad_chord.flac synth 4 sine 220 sine 277.18 sine 329.63 remix - fade 0.5 4 1 gain -6
$s -n -r 44100 -b 16 rain_ambience.ogg synth 12 pinknoise lowpass 3000 tremolo 0.3 40 gain -10
$s -n -r 44100 -b 16 riser_sweep.mp3 synth 3 sawtooth 100:2000 gain -12 lowpass 4000 fade 0.1 3 0.3
# A re-encoded, quieter copy: `avx dupes` should pair it with kick_808.wav
sox kick_808.wav -C 128 kick_808_copy.mp3 gain -6
ls -l
