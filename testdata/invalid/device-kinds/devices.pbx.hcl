residence "flat" {}

user "resident" {
  first_name = "Liam"
  last_name  = "Nolan"
  email      = "resident@example.com"
  residence  = residence.flat
  app        = true
}

device "monitor" { # ERROR: Monitor without residence
  model = "akuvox-c315"
  mac   = "0C:11:05:00:00:01"
  user  = user.resident # ERROR: Unexpected user
  keypad = true         # ERROR: Unexpected keypad
  label  = "Hall"       # ERROR: Unexpected label
}

device "phone" { # ERROR: Phone without user
  model     = "yealink-t54w"
  mac       = "80:5E:C0:00:00:01"
  residence = residence.flat # ERROR: Unexpected residence
  button "1" { calls = residence.flat } # ERROR: Unexpected button
  relay "door" { dtmf = "#" }           # ERROR: Unexpected relay
}

device "idle-door" { # ERROR: Door station calls nobody
  model     = "akuvox-e12w"
  mac       = "0C:11:05:00:00:02"
  residence = residence.flat # ERROR: Unexpected residence
  user      = user.resident  # ERROR: Unexpected user
  label     = "Gate"         # ERROR: Unexpected label
}
