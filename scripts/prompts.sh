#!/bin/sh
# Regenerates the default prompts of runtime/prompts from the text below:
# espeak-ng speaks each line; sox resamples it to 8 kHz mono, trims the
# silence at both ends, shortens pauses inside to 0.2 s and writes an IMA
# ADPCM WAV (4 bits a sample: half the size of µ-law, which would put this
# set at about 480 KB). The files are committed (the package embeds them),
# so this only runs when a text changes:
#
#   apt-get install -y espeak-ng sox
#   scripts/prompts.sh            # from the repository root
#   scripts/prompts.sh NAME...    # only these prompts; the others stay
#
# Naming prompts is how one is added or changed without touching the rest:
# another espeak-ng or sox version may not reproduce the committed files
# byte for byte.
#
# The output is deterministic for one espeak-ng/sox version (no dither).
# Keep the set small: every second costs 4 KB in the binary, and
# TestSizeBudget in runtime/prompts fails above 300 KB in all.
set -eu

cd "$(dirname "$0")/.."
out=runtime/prompts/wav
voice=${PROMPT_VOICE:-en-us}
speed=${PROMPT_SPEED:-180}

for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "prompts.sh: $tool is not installed (apt-get install -y espeak-ng sox)" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
if [ $# -eq 0 ]; then
	rm -f "$out"/*.wav
fi

# wanted NAME: whether this run makes NAME (all of them without arguments).
wanted() {
	[ $# -eq 1 ] || return 1
	[ -z "$only" ] && return 0
	case " $only " in *" $1 "*) return 0 ;; esac
	return 1
}
only="$*"
only_done=

# name|text — one prompt per line. Names are what prompts.Get takes.
while IFS='|' read -r name text; do
	case $name in '' | '#'*) continue ;; esac
	wanted "$name" || continue
	only_done="$only_done $name"
	espeak-ng -v "$voice" -s "$speed" -w "$tmp/$name.wav" "$text"
	sox -V1 "$tmp/$name.wav" -D -r 8000 -c 1 -e ima-adpcm "$out/$name.wav" \
		silence -l 1 0.01 0.3% -1 0.2 0.3% reverse silence 1 0.01 0.3% reverse
done <<'PROMPTS'
# Voicemail: leaving a message.
vm-greeting|The person you called is not available. Please leave a message after the tone.
vm-saved|Message saved.
vm-goodbye|Goodbye.
vm-mailbox-full|This mailbox is full.
# Voicemail: logging in. (conf-wrong-pin is the same recording; prompts.go aliases it.)
vm-enter-mailbox|Enter your mailbox number, then press hash.
vm-enter-pin|Enter your PIN, then press hash.
vm-wrong-pin|That PIN is not correct.
vm-locked|Too many wrong attempts. Try again later.
# Voicemail: the main menu and messages.
vm-you-have|You have
vm-new-message|new message
vm-new-messages|new messages
vm-main-menu|Press 1 to listen, 0 for options, hash to exit.
vm-message|Message
vm-message-menu|7 to delete, 9 to save, 6 for next, 5 to repeat.
vm-deleted|Message deleted.
vm-no-more|No more messages.
# Voicemail: mailbox options.
vm-options-menu|1 to record your greeting, 5 to change your PIN.
vm-record-greeting|Record your greeting after the tone, then press hash.
vm-greeting-saved|Greeting saved.
vm-new-pin|Enter a new PIN, then press hash.
vm-repeat-pin|Enter it again.
vm-pin-changed|PIN changed.
vm-pin-not-changed|PIN not changed.
# Conference bridge.
conf-enter-pin|Please enter the conference PIN, then press hash.
conf-full|This conference is full.
conf-muted|You are muted.
conf-unmuted|You are no longer muted.
conf-alone|You are the only person in this conference.
conf-locked|This conference is locked.
conf-try-later|Please try again later.
conf-room-locked|The conference is now locked.
conf-room-unlocked|The conference is now unlocked.
# Commissioning: the ring test's call to a person (the beep follows).
ring-test|This is a test call from the intercom. Press any key to confirm.
# Numbers, composed by prompts.NumberNames: 0 to 20 and the tens to 90.
num-0|zero
num-1|one
num-2|two
num-3|three
num-4|four
num-5|five
num-6|six
num-7|seven
num-8|eight
num-9|nine
num-10|ten
num-11|eleven
num-12|twelve
num-13|thirteen
num-14|fourteen
num-15|fifteen
num-16|sixteen
num-17|seventeen
num-18|eighteen
num-19|nineteen
num-20|twenty
num-30|thirty
num-40|forty
num-50|fifty
num-60|sixty
num-70|seventy
num-80|eighty
num-90|ninety
PROMPTS

for name in $only; do
	case " $only_done " in *" $name "*) ;; *)
		echo "prompts.sh: no prompt $name in the text" >&2
		exit 1
		;;
	esac
done
du -cb "$out"/*.wav | tail -n 1
