// Package voicemail is the server's voicemail: callers whose call went
// unanswered leave a message (Deposit), owners listen to and manage their
// box by feature code (Access), devices are told when a box changes
// (message-waiting, RFC 3842), and new messages are e-mailed to the owner.
// It programs against line.Line only, so it knows neither SIP nor RTP.
//
// # Wiring it into the server
//
// Open once at start-up, before serving (it recovers recordings that a
// crash cut short), with a function that returns the running program —
// the site's one pointer, read on every use, so a reload is seen at once:
//
//	vm, err := voicemail.Open(voicemail.Config{
//		Program: site.Program, // which boxes exist, whose they are
//		Dir:    filepath.Join(dataDir, "voicemail"),
//		Clock:  clk,          // the runtime's clock: the simulator's virtual one drives it
//		Events: bus,
//		Logger: log,
//		PINs:   pins,         // initial PINs, derived from the site key (PINSource)
//		Mailer: mailer,       // optional; an email.Mailer (email.SMTPMailer)
//		MailFrom: "voicemail@" + domain,
//	})
//	stop := vm.Watch(srv.MessageWaiting) // a box changed: NOTIFY its devices
//	defer vm.Close()            // waits for e-mails in flight
//
// The server then calls, each from the goroutine that owns the answered
// call:
//
//	vm.Deposit(ctx, l, mailbox, voicemail.Caller(c)) // the IR's voicemail fallback
//	vm.Access(ctx, l, voicemail.Own, voicemail.Caller(c)) // the voicemail feature code
//	vm.MessageSummary(mailbox)                       // body of a message-summary NOTIFY
//
// Caller has the fields of b2bua.Caller, in its order, so a conversion
// does. Deposit and Access return when they are done with the call, having
// hung it up (or found it hung up); their error is for logs and tests, the
// caller has heard what went wrong already. HasBox says, before answering,
// whether a box exists in the running program.
//
// Summary and Messages read a box (counts; the messages in listening
// order). MessageSummary gives the body for the message-summary event package
// (ContentType, EventPackage): Messages-Waiting, Message-Account (the
// voicemail access number at the site's domain, as sip:*97@domain) and
// Voice-Message new/old (urgent new/urgent old; this service has no
// urgent messages; old counts the saved folder). BoxOf is the box an
// account opens without a PIN: its owning user's. Watch calls its function, on the goroutine that made the change and after it
// is on disk, whenever a box's messages change — it must not block.
//
// # Files
//
// Everything lives under Config.Dir, one directory per mailbox (the IR
// mailbox name; names are checked to be plain path elements):
//
//	<Dir>/<box>/msg-000001.wav    a message: the codec's bytes unchanged,
//	                              in a µ-law (PCMU) or A-law (PCMA) WAV
//	<Dir>/<box>/msg-000001.json   its metadata (Message): folder new|saved,
//	                              time, duration, caller, codec (in a
//	                              cluster's store, its state too)
//	<Dir>/<box>/greeting.wav      the greeting the owner recorded, if any
//	<Dir>/<box>/pin.json          the PIN the owner set, if any: salted
//	                              PBKDF2-SHA-256, never the digits
//	<Dir>/<box>/.rec-000007.wav   a message being recorded, with
//	<Dir>/<box>/.rec-000007.json  what is known of it at the start
//	<Dir>/<box>/.rec-greeting-*.wav  a greeting being recorded
//
// A recording's WAV header is rewritten and the file fsynced every second
// of audio (Config.SyncEvery), so a crash loses at most the last second.
// On finishing, the metadata is written (temporary file, fsync, rename)
// and then the recording is renamed to msg-N.wav: that rename is the
// commit. Open turns every leftover .rec-N.wav into a message (flagged
// Recovered, its duration what the last sync covered) and removes
// leftover temporary files, partial greetings and metadata whose audio is
// gone. Deleting removes the audio first, so a crash never leaves a
// message without metadata that Open would not repair. Message numbers
// count up per box; one freed at the top of the range may be used again.
//
// # In memory
//
// With Config.Store.Memory (the in-memory simulation), the same files, in
// the same order, are kept in the process's memory instead of on disk
// (files.go: every operation on Dir goes through one seam, the disk or
// MemoryFiles). Nothing is synced and nothing outlives the process; the
// simulator reads each message back from there, as it would from Dir.
//
// # Kept in a store
//
// With Config.Store (serve, which has its embedded JetStream), the same
// files are kept in the store instead, under the same names
// (<box>/msg-000001.wav, .archive/<box>/…): the audio (.wav) as objects of
// Store.Objects, the rest (metadata — the folder, the message-waiting
// state —, pin.json, owner-mail.json) as keys of Store.Keys (kept.go).
// Dir then holds only recordings in progress (.rec-*), written and synced
// as above; finishing one writes its metadata to the store, then its audio
// (the commit: the caller hears "saved" only after it). The local files
// stay three minutes more: the store has what it acknowledged on disk (a
// kill -9 loses nothing), but syncs its files to the device only every two
// minutes, and a power cut could lose what it took last. Open stores every
// leftover recording as it would have made it a file; one the store
// already holds is removed, not stored twice; deleting a message removes
// its local files first, so that it does not come back. Audio larger than
// the longest message or greeting is neither written nor read. A store
// that fails is logged, the caller is not told the message was saved (the
// call ends as "voicemail unavailable"), and the recording stays local
// for the next Open. The first Open on a
// store imports the boxes an older version kept as files under Dir, once
// (migrate.go). Dir also holds .kept-inventory.json, what each box holds
// (messages, greeting, PIN) as this node's index says, rewritten when one
// of those comes or goes: the plan counts a removed person's data from it
// (Count), since it cannot open the store the running server holds.
//
// Several nodes sharing a store (Store.Shared) each number their
// recordings from what they know of a box, and may learn of another's
// message only after finishing their own; so a message's metadata is
// created in the store only where there is none (store.KV.Insert: one
// node wins), and a recording whose number is taken gets the next one —
// a message never replaces another's. There the metadata also says
// whether the message is there (Message.State): each node hears of the
// metadata and of the audio through two watches, each in its own order,
// and may hold one deposit's metadata and still the audio of the message
// the number had before; so a node lists, counts and plays a message by
// its metadata alone, the audio read from the store. A deposit's metadata
// is created pending, its audio stored, and then the metadata completed:
// only then is the message listed (the portal, the menu, the
// message-waiting counts), on every node, and the caller told "saved".
// Deleting marks the metadata deleting (over the revision read: only the
// deposit meant), then removes the audio, then the metadata. Open
// completes pending metadata whose audio is stored (a kill came between
// the two; a failed completion is tried again meanwhile by its node,
// completeLater), gives audio without metadata (an older crash's
// leftover, an import) metadata, as a deposit, and finishes a deletion
// whose mark is half an hour old. Open there sweeps metadata without
// audio only once it is half an hour old (another node's deposit writes
// its metadata, then its audio), and only as it read it; a leftover
// recording whose number another node's message took meanwhile is stored
// under another number, not taken for stored already. A message's
// metadata is changed (heard, saved, mailed) on the store's latest value
// and written only over the revision read, so that one node's change does
// not undo another's (nor, in the node's index, does another node's
// change made before it, which the watch hands on after it: the index
// keeps each key's revision); a change or deletion finding another deposit's
// metadata under the number (the message deleted and its number given
// again, unheard of here) leaves it. Moving a box to the archive removes
// only what it copied.
//
// # Leaving a message
//
// The caller hears the box's greeting (the recorded one, else the prompt
// "vm-greeting"; any key skips it), a beep, and is recorded until they press #,
// hang up, fall silent on the network for Config.NoAudioTimeout, or reach
// Config.MaxMessage — counted in received audio (RTP time: lost packets
// are filled with silence, so the length is what the caller spoke, not
// how long the call lasted). A recording shorter than Config.MinMessage is
// dropped. A box holding Config.MaxMessages messages says it is full.
//
// # The menu (Access)
//
// The feature code opens the caller's own box: the box of the user who
// owns the calling account (app or desk phone), without a PIN unless
// Config.PINOwnDevices. Anyone else (an indoor monitor, a door station, a
// carrier caller) is asked for a mailbox number — the owner's extension —
// and its PIN, then #. PINs are 4 to 6 digits; the initial one comes from
// Config.PINs (derived from the site key), a changed one is stored hashed.
// Three wrong PINs end the call; Config.Throttle locks a box, or a source
// address, out for a window after repeated failures, across calls.
//
// The keys follow Asterisk's VoiceMailMain:
//
//	main menu       1  listen: new messages first (oldest first), then saved
//	                0  mailbox options
//	                *  help (the menu again)
//	                #  exit
//	with a message  5  repeat it          4  previous message
//	                6  next message       7  delete it
//	                9  save it            *  help
//	                #  exit
//	mailbox options 1  record your greeting (after the beep; # ends it)
//	                5  change your PIN (new PIN #, again #)
//	                *  back to the main menu
//	                #  exit
//
// Each message is announced by its number in this listening ("message
// 2"); numbers stay put when one is deleted. A new message moves to the
// saved folder once it has started playing (as Asterisk files a heard
// message as Old); 9 saves it explicitly, 7 deletes it, and either goes
// on to play the next. Keys pressed during a prompt interrupt it and
// count (type-ahead). A menu unanswered for Config.DigitTimeout is
// repeated; after three silences the call ends (the options menu returns
// to the main menu instead). A mailbox number or PIN ends with # or a
// pause after its digits; * starts it over; a PIN longer than 6 digits is
// refused whole. Nothing keyed at a login prompt is not a wrong PIN.
//
// # E-mail
//
// With a Mailer, each new message (and each recovered one, at Open) is
// mailed to the owner — their notify_email (ir.User.NotifyEmail), else
// their login (ir.User.Email) — as a multipart/mixed message with the WAV
// attached (audio/wav, base64). Mail is sent off the call's goroutine;
// failure is logged and published (VoicemailMailFailed) and the message
// stays in the box. A refusal that may pass (the server unreachable, a 4xx
// reply) is tried again after 1, 5 and 15 minutes, 1 and 4 hours on the
// service's clock; a 5xx is not. With Config.DeleteAfterNotify the message
// is deleted once its mail was accepted.
package voicemail
