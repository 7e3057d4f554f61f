# The shape of a scenario: one call, first; something expected of it.

scenario "vacuous" { # ERROR: Scenario proves nothing
  press { button = device.front-gate.button["1"] }
  wait { for = "30s" }
  hang_up {}
}

scenario "no call" { # ERROR: Scenario places no call
  rings { endpoints = [user.mary] }
}

scenario "two calls" {
  press { button = device.front-gate.button["1"] }
  press { button = device.front-gate.button["2"] } # ERROR: Second call in a scenario
  rings { endpoints = [user.mary] }
}

scenario "expectation first" {
  rings { endpoints = [user.mary] } # ERROR: Step before the call
  press { button = device.front-gate.button["1"] }
}

scenario "two answers" {
  press { button = device.front-gate.button["1"] }
  answer { by = user.mary }
  answer { by = user.tom } # ERROR: Duplicate answer
}

scenario "two answers" { # ERROR: Duplicate scenario
  press { button = device.front-gate.button["1"] }
  answer { by = user.mary }
}

scenario "answer and decline" {
  press { button = device.front-gate.button["1"] }
  answer { by = user.mary }
  decline { by = user.mary } # ERROR: Answer and decline by the same endpoint
}

scenario "door without a code" {
  press { button = device.front-gate.button["1"] }
  answer { by = user.mary }
  door_opens { door = device.front-gate } # ERROR: No code sent
}

scenario "nobody there to send the code" {
  press { button = device.front-gate.button["1"] }
  send_dtmf { digits = "#" } # ERROR: Nobody to send the digits
  rings { endpoints = [user.mary] }
}

scenario "" { # ERROR: Empty scenario name
  press { button = device.front-gate.button["1"] }
  rings { endpoints = [user.mary] }
}

scenario "busy twice" {
  press { button = device.front-gate.button["1"] }
  busy { by = user.tom }
  busy { by = user.tom } # ERROR: Duplicate busy
  falls_back { to = "voicemail" }
}

scenario "answers while busy" {
  press { button = device.front-gate.button["1"] }
  answer { by = user.mary }
  busy { by = user.mary } # ERROR: Answer and busy by the same endpoint
}
