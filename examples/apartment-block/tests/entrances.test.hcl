# The entrances of Liffey Wharf: the management office's hunt, and what a
# keypad must never do.

scenario "keying 0 at the main entrance tries the manager, then the caretaker, then voicemail" {
  key {
    at   = device.main-entrance
    code = residence.management # a visitor keys its label, 0
  }
  rings_in_order { endpoints = [user.manager, user.caretaker] }
  nobody_answers {}
  falls_back { to = "voicemail" }
}

scenario "the caretaker opens the car park gate when the manager does not answer" {
  key {
    at   = device.car-park
    code = "0"
  }
  rings_in_order { endpoints = [user.manager, user.caretaker] }
  answer { by = user.caretaker }
  send_dtmf { digits = "#" }
  door_opens { relay = device.car-park.relay["gate"] }
}

scenario "a keypad is not a phone: keying 999 at the main entrance reaches nobody" {
  key {
    at   = device.main-entrance
    code = "999"
  }
  refused { status = 404 }
}
