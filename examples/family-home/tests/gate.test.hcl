# Call paths of the gate, told the way the family would tell them.
# `switchboard test examples/family-home` runs them after the generated
# suite; each step runs in the order written.

scenario "a visitor at the gate rings the whole house and nobody else" {
  press { button = device.gate.button["1"] }
  rings_only { endpoints = [device.hall-monitor, user.sarah, user.david, user.chloe, user.jack] }
}

scenario "Chloe answers the gate from her app and lets the visitor in" {
  press { button = device.gate.button["1"] }
  answer { by = user.chloe }
  send_dtmf { digits = "#" }
  door_opens { relay = device.gate.relay["gate"] }
  hang_up {}
}

scenario "nobody home: after 30 seconds the gate call goes to Sarah's voicemail" {
  press { button = device.gate.button["1"] }
  rings { endpoints = [residence.home] }
  nobody_answers {}
  falls_back { to = "voicemail" }
}
