# Brightwater's reception: the main number and the street door.

scenario "the main number rings reception's desk phone, then voicemail" {
  dial {
    from   = trunk.carrier
    number = "+442079460100"
  }
  rings_only { endpoints = [user.priya] }
  nobody_answers {}
  falls_back { to = "voicemail" }
}

scenario "reception lets a visitor in at the street door" {
  press { button = device.entrance.button["1"] }
  rings_only { endpoints = [device.desk-priya] }
  answer { by = user.priya }
  send_dtmf { digits = "#" }
  door_opens { relay = device.entrance.relay["door"] }
}

scenario "Tom can look at the street door from his desk but not open it" {
  dial {
    from = user.tom
    to   = device.entrance
  }
  send_dtmf { digits = "#" }
  door_stays_shut { door = device.entrance }
}
