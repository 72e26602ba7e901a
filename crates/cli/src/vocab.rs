//! The built-in tag vocabulary used by `avx tag` (without `--labels`) and `avx cluster --label`: common sound
//! effect, instrument and ambience categories, worded as a sound designer would search for them.

pub const VOCABULARY: &[&str] = &[
    "kick drum", "snare drum", "hi-hat", "cymbal crash", "ride cymbal", "tom drum", "clap", "shaker",
    "tambourine", "cowbell", "conga", "bongo", "drum loop", "drum fill", "808 bass", "bass guitar", "synth bass",
    "electric guitar", "acoustic guitar", "piano", "electric piano", "organ", "synth pad", "synth lead",
    "arpeggio", "strings", "violin", "cello", "brass", "trumpet", "saxophone", "flute", "choir", "vocal",
    "male speech", "female speech", "whisper", "laughter", "crowd", "applause", "footsteps", "door slam",
    "door creak", "knock", "glass breaking", "metal impact", "wood impact", "explosion", "gunshot", "whoosh",
    "swoosh", "riser", "impact hit", "drone", "ambience", "room tone", "wind", "rain", "thunder", "water",
    "ocean waves", "stream", "fire crackling", "birds", "dog barking", "cat meowing", "insects", "horse",
    "car engine", "car horn", "traffic", "siren", "train", "airplane", "helicopter", "motorcycle", "bicycle bell",
    "clock ticking", "bell", "chime", "alarm", "beep", "user interface click", "notification", "typing keyboard",
    "phone ringing", "camera shutter", "zipper", "paper", "cloth rustle", "machine hum", "electrical buzz",
    "static noise", "white noise", "vinyl crackle", "glitch", "sci-fi", "laser", "robot", "magic spell",
    "monster growl", "heartbeat", "breathing", "cough", "scream", "baby crying", "music", "silence",
];
