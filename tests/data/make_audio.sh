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

# 11. Opus in Ogg (decoded by avx's decode::opus): the 44.1 kHz content at 48 kHz, stereo, 64 kbit/s; the
#     6-channel file at 192 kbit/s (channel mapping family 1: four streams, two of them coupled).
"${FF[@]}" -i "$src" -ar 48000 -c:a libopus -b:a 64k "${BITEXACT[@]}" "$out/stereo48k_4s.opus"
"${FF[@]}" -i "$out/multi48k_6ch_2s.wav" -c:a libopus -b:a 192k "${BITEXACT[@]}" "$out/multi48k_6ch_2s.opus"

# The first second of the stereo Opus content in WebM (Matroska): pre-skip from the OpusHead in CodecPrivate;
# its last packet's padding stays (symphonia does not read DiscardPadding).
"${FF[@]}" -i "$src" -t 1 -ar 48000 -c:a libopus -b:a 64k "${BITEXACT[@]}" "$out/stereo48k_1s.webm"
# The same second in MP4: pre-skip and length in the edit list.
"${FF[@]}" -i "$src" -t 1 -ar 48000 -c:a libopus -b:a 64k "${BITEXACT[@]}" "$out/stereo48k_opus_1s.mp4"

# 11b. Known-unsupported format: WMA (in ASF), 1 s.
"${FF[@]}" -i "$src" -t 1 -c:a wmav2 -b:a 64k "${BITEXACT[@]}" "$out/stereo44k_1s.wma"

# 12. Short one-shots and odd rates (issue 12), in tests/data/audio/short/: a noise burst with a fast decay over
#     two tones, the kind of sound a sound-effects library is full of. Lengths are in samples where they matter:
#     aiSFX's frame count is 1 + N // 1024 at 44.1 kHz (100 frames: N = 101376; 101 frames: N = 102400).
short="$out/short"
mkdir -p "$short"
oneshot() { # rate channels samples file [sox output options...]
    local rate=$1 ch=$2 n=$3 file=$4
    shift 4
    case $file in /*) ;; *) file="$short/$file" ;; esac
    "${SOX[@]}" -r "$rate" -c "$ch" -n -b 16 -e signed-integer "$@" "$file" \
        synth "${n}s" whitenoise synth "${n}s" sine mix 700 synth "${n}s" sine mix 3100 \
        fade q 0 "${n}s" "$((n * 9 / 10))s" norm -3
}
oneshot 44100 1 1 mono44k_1smp.wav
oneshot 44100 1 441 mono44k_10ms.wav
oneshot 44100 2 3087 stereo44k_70ms.wav
oneshot 44100 1 22050 mono44k_0p5s.wav
oneshot 44100 1 101376 mono44k_100frames.wav
oneshot 44100 1 102400 mono44k_101frames.wav
oneshot 48000 1 1 mono48k_1smp.wav
oneshot 48000 1 3360 mono48k_70ms.wav
oneshot 8000 1 4000 mono8k_0p5s.wav
oneshot 11025 1 2426 mono11k_0p22s.wav
oneshot 16000 1 4800 mono16k_0p3s.wav
oneshot 22050 1 1985 mono22k_90ms.wav
oneshot 32000 2 16000 stereo32k_0p5s.wav
oneshot 96000 2 24000 stereo96k_0p25s.wav
oneshot 44100 2 22050 "$tmp/stereo44k_0p5s.wav"
"${FF[@]}" -i "$tmp/stereo44k_0p5s.wav" -c:a libvorbis -q:a 4 "${BITEXACT[@]}" "$short/stereo44k_0p5s.ogg"
# AAC in MP4 with ffmpeg's edit list (1024 priming samples); decodes to exactly 22050 samples once trimmed.
"${FF[@]}" -i "$tmp/stereo44k_0p5s.wav" -c:a aac -profile:a aac_low -b:a 128k "${BITEXACT[@]}" "$short/stereo44k_aac_0p5s.m4a"
"${FF[@]}" -i "$tmp/stereo44k_0p5s.wav" -c:a libmp3lame -b:a 128k "${BITEXACT[@]}" "$short/stereo44k_0p5s.mp3"
# A 70 ms Opus one-shot: shorter than one Ogg page, so only the last granule position says where it ends.
"${FF[@]}" -i "$short/mono48k_70ms.wav" -c:a libopus -b:a 96k "${BITEXACT[@]}" "$short/mono48k_70ms.opus"

ls -l "$out" "$short"
