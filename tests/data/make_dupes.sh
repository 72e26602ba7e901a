#!/usr/bin/env bash
# The committed near-duplicate set of tests/dupes.rs: synthetic one-shots, their edited copies and look-alikes.
#
# Originals (22.05 kHz mono 16-bit): a kick, a snare, a two-hit door slam, a 50 ms click and a 3.5 s pad.
# Look-alikes ("another kick of the kit"): the same recipe with another pitch (2 to 6 semitones), decay and a different stretch of
# noise. Edited copies: the issue-16 edits, one of each kind. Everything comes from SoX in repeatable mode (-R),
# without dither (-D), and ffmpeg in bitexact mode, so re-running gives the same files.
#
# Usage: tests/data/make_dupes.sh            (writes into tests/data/dupes/)
# Needs: sox (14.4), ffmpeg with libmp3lame.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/dupes"
rm -rf "$out"
mkdir -p "$out/orig" "$out/edited" "$out/lookalike"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

SOX=(sox -R -D -V1)
FF=(ffmpeg -hide_banner -loglevel error -nostdin -y -threads 1)
BITEXACT=(-fflags +bitexact -flags:a +bitexact -map_metadata -1)
R=(-r 22050 -c 1 -b 16)

# noise NAME SECONDS OFFSET: pink noise from OFFSET seconds of one long repeatable stream (a different "take").
noise() { "${SOX[@]}" -n "${R[@]}" "$tmp/$1.wav" synth 8 pinknoise trim "$3" "$2"; }

# kick NAME F0 DECAY NOISE_OFFSET
kick() {
    noise "n$1" 0.5 "$4"
    "${SOX[@]}" -n "${R[@]}" "$tmp/t$1.wav" synth 0.5 sine "$2":"$(echo "$2/4" | bc -l)" fade q 0.002 0.5 "$3"
    "${SOX[@]}" -m "$tmp/t$1.wav" -v 0.15 "$tmp/n$1.wav" "$tmp/k$1.wav" fade q 0.001 0.5 0.45
    "${SOX[@]}" "$tmp/k$1.wav" "$5" norm -3
}
# snare NAME TONE DECAY NOISE_OFFSET
snare() {
    noise "n$1" 0.35 "$4"
    "${SOX[@]}" -n "${R[@]}" "$tmp/t$1.wav" synth 0.35 sine "$2" fade q 0.001 0.35 0.3
    "${SOX[@]}" -m -v 0.5 "$tmp/t$1.wav" "$tmp/n$1.wav" "$tmp/s$1.wav" highpass 300 fade q 0.001 0.35 "$3"
    "${SOX[@]}" "$tmp/s$1.wav" "$5" norm -3
}
# door NAME GAP LOWPASS NOISE_OFFSET: two thuds GAP seconds apart
door() {
    noise "a$1" 0.4 "$4"
    "${SOX[@]}" "$tmp/a$1.wav" "$tmp/b$1.wav" lowpass "$3" fade q 0.002 0.4 0.38
    "${SOX[@]}" "$tmp/b$1.wav" "$tmp/c$1.wav" pad "$2" 0 gain -8
    "${SOX[@]}" -m "$tmp/b$1.wav" "$tmp/c$1.wav" "$tmp/d$1.wav"
    "${SOX[@]}" "$tmp/d$1.wav" "$5" norm -3
}
# click NAME FREQ: a 50 ms tone burst with a noise attack
click() {
    noise "n$1" 0.05 "$3"
    "${SOX[@]}" -n "${R[@]}" "$tmp/t$1.wav" synth 0.05 square "$2" fade q 0.001 0.05 0.04
    "${SOX[@]}" -m "$tmp/t$1.wav" -v 0.5 "$tmp/n$1.wav" "$4" norm -3
}
# pad NAME ROOT: a 3.5 s chord with vibrato
pad() {
    "${SOX[@]}" -n "${R[@]}" "$4" synth 3.5 sine "$2" sine "$(echo "$2*1.26" | bc -l)" sine "$(echo "$2*1.5" | bc -l)" \
        tremolo "$3" 40 fade q 0.3 3.5 1.0 norm -3
}

kick kick 160 0.4 0.5 "$out/orig/kick.wav"
kick kick_b 230 0.25 3.1 "$out/lookalike/kick_take2.wav"
snare snare 190 0.25 1.0 "$out/orig/snare.wav"
snare snare_b 240 0.18 4.2 "$out/lookalike/snare_take2.wav"
door door 0.18 900 2.0 "$out/orig/door.wav"
door door_b 0.24 1300 5.3 "$out/lookalike/door_take2.wav"
click click 1800 0.3 "$out/orig/click.wav"
click click_b 2500 6.1 "$out/lookalike/click_take2.wav"
pad pad 220 5 "$out/orig/pad.wav"
pad pad_b 330 7 "$out/lookalike/pad_take2.wav"

for f in "$out"/orig/*.wav; do
    b="$(basename "$f" .wav)"
    d="$(soxi -D "$f")"
    e="$out/edited/$b"
    "${SOX[@]}" "$f" "${e}__pad_lead_2s.wav" pad 2 0
    "${SOX[@]}" "$f" "${e}__fade.wav" fade t "$(echo "$d*0.1" | bc -l)" -0 "$(echo "$d*0.1" | bc -l)"
    "${SOX[@]}" "$f" "${e}__trim_10pct.wav" trim "$(echo "$d*0.1" | bc -l)"
    "${FF[@]}" -i "$f" "${BITEXACT[@]}" -c:a libmp3lame -b:a 64k "${e}__mp3_64k.mp3"
    "${SOX[@]}" "$f" "${e}__rt_16k.wav" rate -v 16000 rate -v 22050
    "${SOX[@]}" "$f" "${e}__gain_-12dB.wav" gain -12
    "${SOX[@]}" "$f" "${e}__lowpass_8k.wav" lowpass 8000
    "${SOX[@]}" "$f" "${e}__pitch_+1st.wav" pitch 100
    "${SOX[@]}" "$f" "${e}__stretch_5pct.wav" tempo 0.95
    # Pink noise 30 dB below the sound's RMS.
    rms="$(sox "$f" -n stat 2>&1 | awk '/RMS +amplitude/ {print $3}')"
    "${SOX[@]}" -n "${R[@]}" -e floating-point -b 32 "$tmp/pn.wav" synth "$d" pinknoise norm 0
    nrms="$(sox "$tmp/pn.wav" -n stat 2>&1 | awk '/RMS +amplitude/ {print $3}')"
    "${SOX[@]}" -m "$f" -v "$(echo "$rms/$nrms*0.031623" | bc -l)" "$tmp/pn.wav" -b 16 "${e}__noise_30dB.wav"
done
