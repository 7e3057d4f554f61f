# References that do not resolve against the site get a "did you mean" at
# the reference.

scenario "typos" {
  press { button = device.front-gte.button["1"] }       # ERROR: Reference to undeclared device
  answer { by = user.mray }                             # ERROR: Reference to undeclared user
  rings { endpoints = [residence.apt-1b, user.tom] }    # ERROR: Reference to undeclared residence
  door_opens { relay = device.front-gate.relay["dor"] } # ERROR: Reference to undeclared relay
}

scenario "wrong kinds" {
  press { button = device.monitor-1a.button["1"] } # ERROR: Reference to undeclared button
  rings { endpoints = [usr.tom] }                  # ERROR: Invalid reference
  rings { endpoints = [trunk.carrier] }            # ERROR: Invalid reference
  answer { by = "mary" }                           # ERROR: Invalid reference
  decline { by = user.tom.app }                    # ERROR: Invalid reference
  door_stays_shut { door = device.monitor-1a }     # ERROR: Not a door station
  door_opens { relay = device.front-gate }         # ERROR: Invalid relay reference
}

scenario "nothing there" {
  dial {
    from = user.eve        # ERROR: Nothing to call from
    to   = device.desk-101 # ERROR: Nothing to dial
  }
  rings { endpoints = [user.eve] } # ERROR: Nothing rings
  falls_back {
    to      = "voicemail"
    mailbox = user.tom # ERROR: No mailbox
  }
}
