#!/usr/bin/env bash
# A small synthetic radio programme with planted recurring motifs, for the `avx recurring` / `avx timeline`
# tests (tests/cli.rs, `recurring_and_timeline_find_the_planted_motifs`).
#
# 61 s, mono, 22.05 kHz, MP3 at 32 kbit/s (about 240 kB): espeak-ng speech (several sentences, two voices)
# with a 3.5 s synthetic jingle planted three times (once 6 dB quieter), a 4.0 s ident planted three times
# and 1.5 s of silence. The layout (start, length, what) is printed to tests/data/programme/programme.txt and is
# what the test expects; keep the two in step.
#
# Usage: tests/data/make_programme.sh   (writes tests/data/programme/programme.mp3 and programme.txt)
# Needs: sox (14.4), espeak-ng, ffmpeg (libmp3lame).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/programme"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

RATE=22050
SOX=(sox -R -D -V1)
FMT=(-r "$RATE" -c 1 -b 16 -e signed-integer)

# The jingle: a rising arpeggio of plucked tones over a short noise swoosh, 3.5 s.
"${SOX[@]}" -n "${FMT[@]}" "$tmp/j1.wav" synth 0.5 pluck C5 pluck E5 remix - fade 0 0.5 0.3
"${SOX[@]}" -n "${FMT[@]}" "$tmp/j2.wav" synth 0.5 pluck E5 pluck G5 remix - fade 0 0.5 0.3
"${SOX[@]}" -n "${FMT[@]}" "$tmp/j3.wav" synth 0.5 pluck G5 pluck C6 remix - fade 0 0.5 0.3
"${SOX[@]}" -n "${FMT[@]}" "$tmp/j4.wav" synth 2.0 sine 523.25 sine 783.99 remix - tremolo 6 40 fade 0 2.0 1.2
"${SOX[@]}" "$tmp/j1.wav" "$tmp/j2.wav" "$tmp/j3.wav" "$tmp/j4.wav" "$tmp/jseq.wav"
"${SOX[@]}" -n "${FMT[@]}" "$tmp/jnoise.wav" synth 3.5 pinknoise fade q 0.05 3.5 3.0 vol 0.15
"${SOX[@]}" -m "$tmp/jseq.wav" "$tmp/jnoise.wav" "$tmp/jingle_full.wav" norm -3
"${SOX[@]}" "$tmp/jingle_full.wav" "$tmp/jingle.wav" trim 0 3.5
"${SOX[@]}" "$tmp/jingle.wav" "$tmp/jingle_quiet.wav" vol -6dB

# The ident: a saw-wave chord with a falling sweep and a drum-like noise hit every 0.5 s, 4.0 s.
"${SOX[@]}" -n "${FMT[@]}" "$tmp/i1.wav" synth 4.0 sawtooth 220 sawtooth 277.18 sawtooth 329.63 remix - \
    lowpass 2500 tremolo 2 30
"${SOX[@]}" -n "${FMT[@]}" "$tmp/i2.wav" synth 4.0 sine 2000-300 vol 0.3
"${SOX[@]}" -n "${FMT[@]}" "$tmp/hit.wav" synth 0.5 whitenoise fade q 0.002 0.5 0.45 vol 0.5
"${SOX[@]}" "$tmp/hit.wav" "$tmp/hit.wav" "$tmp/hit.wav" "$tmp/hit.wav" "$tmp/hit.wav" "$tmp/hit.wav" \
    "$tmp/hit.wav" "$tmp/hit.wav" "$tmp/hits.wav"
"${SOX[@]}" -m "$tmp/i1.wav" "$tmp/i2.wav" "$tmp/hits.wav" "$tmp/ident.wav" norm -3

# Speech: one sentence per gap, cut or padded to the gap's length.
# (Each runs in a command substitution's subshell: the file name comes from a checksum of the arguments.)
speech() { # LENGTH VOICE TEXT
    local name
    name="$tmp/s$(echo "$*" | md5sum | cut -c1-12)"
    espeak-ng -v "$2" -s 165 -w "$name.raw.wav" "$3"
    "${SOX[@]}" "$name.raw.wav" "${FMT[@]}" "$name.wav" norm -4 pad 0 "$1" trim 0 "$1"
    echo "$name.wav"
}
silence() { # LENGTH
    "${SOX[@]}" -n "${FMT[@]}" "$tmp/q$1.wav" trim 0 "$1"
    echo "$tmp/q$1.wav"
}

parts=(
    "$(speech 5.0 en-us 'Good morning and welcome to the breakfast show on avx radio, here is the news.')"
    "$tmp/jingle.wav"
    "$(speech 5.7 en-gb 'The weather today will be cloudy with a chance of rain in the afternoon.')"
    "$tmp/ident.wav"
    "$(speech 1.8 en-us 'And now, the sport with our reporter in the studio.')"
    "$(silence 1.5)"
    "$(speech 5.8 en-gb 'The local football team won their match by three goals to one last night.')"
    "$tmp/jingle_quiet.wav"
    "$(speech 7.9 en-us 'Traffic on the ring road is heavy because of roadworks near the bridge, so plan ahead.')"
    "$tmp/ident.wav"
    "$(speech 5.9 en-gb 'Our next guest has written a book about the history of lighthouses.')"
    "$tmp/jingle.wav"
    "$(speech 2.9 en-us 'Stay with us, there is much more to come after the break.')"
    "$tmp/ident.wav"
    "$(speech 2.0 en-gb 'Goodbye from all of us here, and see you tomorrow.')"
)
"${SOX[@]}" "${parts[@]}" "$tmp/programme.wav"
ffmpeg -hide_banner -loglevel error -nostdin -y -threads 1 -i "$tmp/programme.wav" \
    -fflags +bitexact -flags:a +bitexact -map_metadata -1 -codec:a libmp3lame -b:a 32k "$out/programme.mp3"

cat > "$out/programme.txt" <<'EOF'
# start length what   (seconds; made by tests/data/make_programme.sh)
5.0 3.5 jingle
14.2 4.0 ident
20.0 1.5 silence
27.3 3.5 jingle
38.7 4.0 ident
48.6 3.5 jingle
55.0 4.0 ident
EOF
soxi -D "$tmp/programme.wav"
