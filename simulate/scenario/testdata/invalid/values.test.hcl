# Values and block names: hcl's own did-you-mean for unknown ones.

scenario "values" {
  presss { button = device.front-gate.button["1"] } # ERROR: Unsupported block type
  wait { for = "ten seconds" }                      # ERROR: Invalid duration
  wait { for = 30 }                                 # ERROR: Incorrect attribute value type
  falls_back { to = "voicemial" }                   # ERROR: Invalid fallback
  falls_back { to = voicemail }                     # ERROR: Invalid value
  refused { status = 200 }                          # ERROR: Invalid status
  send_dtmf { digits = "#x" }                       # ERROR: Invalid DTMF digits
  rings { endpoints = [] }                          # ERROR: No endpoints
  rings { endpoints = user.mary }                   # ERROR: Invalid endpoints
  rings {                                           # ERROR: Missing required argument
    endpoint = [user.mary]                          # ERROR: Unsupported argument
  }
  description = "what it proves" # ERROR: Unsupported argument
  dial {
    from   = user.mary
    to     = user.tom
    number = 102 # ERROR: Conflicting arguments
  }
  dial { from = user.mary } # ERROR: Missing argument
  dial {
    from   = user.mary
    number = "1 02" # ERROR: Invalid number
  }
  falls_back {
    to      = "hangup"
    mailbox = user.mary # ERROR: Mailbox without voicemail
  }
}

scenaro "typo" {} # ERROR: Unsupported block type
