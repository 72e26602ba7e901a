#!/usr/bin/env bash
# Deterministic synthetic test audio for avx.
#
# Every file is synthesised (no recordings): tones, chirps, square/saw waves and
# noise bursts. Noise comes from SoX in repeatable mode (-R, fixed seed), and no
# dither is applied (-D), so re-running this script gives bit-identical PCM.
# Lossy/container files are made with ffmpeg in bitexact mode (no encoder/version
# tags, fixed Ogg serials, zero timestamps).
#
# Usage: tests/data/make_audio.sh            (writes into tests/data/audio/)
# Needs: sox (14.4), ffmpeg (with libmp3lame, libvorbis, libopus, native aac, alac).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/audio"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

SOX=(sox -R -D -V1)
FF=(ffmpeg -hide_banner -loglevel error -nostdin -y -threads 1)
BITEXACT=(-fflags +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1)

# 1. 48 kHz mono 16-bit WAV, 3.0 s (shorter than 10 s: repeat-padded by the front end).
#    440 Hz + 1320 Hz, 4 Hz tremolo.
"${SOX[@]}" -r 48000 -c 2 -n -b 16 -e signed-integer "$out/mono48k_s16_3s.wav" \
    synth 3 sine 440 sine 1320 remix - tremolo 4 60 norm -6

# 2. 48 kHz mono FLAC, exactly 10.000 s (480000 samples): exponential chirp 100 Hz -> 8 kHz.
"${SOX[@]}" -r 48000 -c 1 -n -b 16 "$out/mono48k_10s.flac" \
    synth 10 sine 100:8000 norm -6

# 3. 48 kHz stereo FLAC, 12.5 s (longer than 10 s: two windows, second end-aligned).
#    Left: linear chirp 300 -> 3000 Hz. Right: 110 Hz square, 2 Hz tremolo.
"${SOX[@]}" -r 48000 -c 2 -n -b 16 "$out/stereo48k_12p5s.flac" \
    synth 12.5 sine 300-3000 square 110 tremolo 2 50 norm -8

# 4. 48 kHz mono WAV float32, 6 s: pink-noise bursts (1.5 Hz full-depth tremolo) over a 2 kHz tone.
"${SOX[@]}" -r 48000 -c 2 -n -b 32 -e floating-point "$tmp/f32.wav" \
    synth 6 pinknoise sine 2000 remix - tremolo 1.5 100 norm -6
"${SOX[@]}" "$tmp/f32.wav" -b 32 -e floating-point "$out/mono48k_f32_6s.wav"

# 5. 44.1 kHz stereo 24-bit WAV, 4 s. This is the "44.1 kHz content" reused by the
#    lossy / container variants below. Left: 500 -> 2000 Hz chirp. Right: 330 Hz sawtooth.
"${SOX[@]}" -r 44100 -c 2 -n -b 24 -e signed-integer "$out/stereo44k_s24_4s.wav" \
    synth 4 sine 500-2000 sawtooth 330 tremolo 3 40 norm -6

# 6. 22.05 kHz mono FLAC, 5 s: falling chirp 4000 -> 200 Hz (exponential).
"${SOX[@]}" -r 22050 -c 1 -n -b 16 "$out/mono22k_5s.flac" \
    synth 5 sine 4000:200 norm -6

# 7. 16 kHz mono 16-bit WAV, 11 s: 600 Hz tone + white-noise bursts (0.7 Hz tremolo).
"${SOX[@]}" -r 16000 -c 2 -n -b 16 -e signed-integer "$out/mono16k_s16_11s.wav" \
    synth 11 whitenoise sine 600 tremolo 0.7 100 remix - norm -6

# 8. WAVE_FORMAT_EXTENSIBLE, 6 channels, 48 kHz, 16-bit, 2 s: a different tone per channel
#    (5.1 layout; the last channel is pink noise).
"${FF[@]}" -f lavfi -i "anoisesrc=d=2:c=pink:r=48000:a=0.3:s=7" \
    -f lavfi -i "sine=f=200:r=48000:d=2" -f lavfi -i "sine=f=400:r=48000:d=2" \
    -f lavfi -i "sine=f=800:r=48000:d=2" -f lavfi -i "sine=f=1600:r=48000:d=2" \
    -f lavfi -i "sine=f=3200:r=48000:d=2" \
    -filter_complex "[1:a][2:a][3:a][4:a][5:a][0:a]join=inputs=6:channel_layout=5.1[a]" \
    -map "[a]" -c:a pcm_s16le "${BITEXACT[@]}" "$out/multi48k_6ch_2s.wav"

# 9. 8-bit unsigned WAV, 8 kHz mono, 3 s: 250 Hz square with a 1 -> 3 kHz chirp.
"${SOX[@]}" -r 8000 -c 2 -n -b 8 -e unsigned-integer "$out/mono8k_u8_3s.wav" \
    synth 3 square 250 sine 1000-3000 remix - norm -3

# 10. The 44.1 kHz stereo content (file 5) in other containers / codecs.
src="$out/stereo44k_s24_4s.wav"
"${FF[@]}" -i "$src" -c:a libmp3lame -b:a 128k "${BITEXACT[@]}" "$out/stereo44k_4s.mp3"
"${FF[@]}" -i "$src" -c:a libvorbis -q:a 4 "${BITEXACT[@]}" "$out/stereo44k_4s.ogg"
"${FF[@]}" -i "$src" -c:a aac -profile:a aac_low -b:a 128k "${BITEXACT[@]}" "$out/stereo44k_aac_4s.m4a"
"${FF[@]}" -i "$src" -c:a alac -sample_fmt s16p "${BITEXACT[@]}" "$out/stereo44k_alac_4s.m4a"
"${FF[@]}" -i "$src" -c:a aac -profile:a aac_low -b:a 128k "${BITEXACT[@]}" -f adts "$out/stereo44k_4s.aac"
"${SOX[@]}" "$src" -b 16 -e signed-integer "$out/stereo44k_s16_4s.aiff"

# 11. Known-unsupported format: Opus in Ogg.
"${FF[@]}" -i "$src" -ar 48000 -c:a libopus -b:a 64k "${BITEXACT[@]}" "$out/stereo48k_4s.opus"

ls -l "$out"
